"""How updates arrive: long polling, or webhooks behind the bank's reverse proxy, per messenger.

Telegram and MAX each have their mode (TELEGRAM_MODE, MAX_MODE); one process may receive from
both or, as separate replicas, from one each (`concierge run --channel`). The dispatcher is
the same; every update carries its own bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from hmac import compare_digest
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.app import App
from bot.channels import MAX, TELEGRAM
from bot.max.session import MaxTransport
from bot.observability import add_routes, start_server

log = logging.getLogger(__name__)

MAX_SECRET_HEADER = "X-Max-Bot-Api-Secret"


def receiving(app: App, channels: Sequence[str]) -> tuple[list[Bot], list[str]]:
    """(bots to poll, messengers to serve by webhook) among `channels` this process has."""
    modes = {TELEGRAM: app.settings.telegram.mode, MAX: app.settings.max.mode}
    polled, hooked = [], []
    for messenger in channels:
        if messenger not in app.messengers:
            continue
        if modes[messenger] == "webhook":
            hooked.append(messenger)
        else:
            polled.append(app.messengers[messenger])
    return polled, hooked


async def run(app: App, channels: Sequence[str]) -> None:
    """Receives updates from `channels` until cancelled: polling and webhooks side by side."""
    polled, hooked = receiving(app, channels)
    if not polled and not hooked:
        raise ValueError(f"no configured messenger among {', '.join(channels)}")
    work = []
    if polled:
        # With webhooks in the same process, /healthz and /metrics are on the webhook server.
        work.append(run_polling(app, polled, serve_metrics=not hooked))
    if hooked:
        work.append(run_webhooks(app, hooked))
    await asyncio.gather(*work)


async def run_polling(
    app: App, bots: Sequence[Bot] | None = None, *, serve_metrics: bool = True
) -> None:
    bots = list(bots) if bots is not None else [app.bot]
    for bot in bots:
        # A webhook (MAX: a subscription) would take the updates polling waits for.
        await bot.delete_webhook(drop_pending_updates=False)
    observability = app.settings.observability
    runner = None
    if serve_metrics and observability.port is not None:
        runner = await start_server(
            health=app.health,
            metrics=app.metrics,
            host=observability.host,
            port=observability.port,
        )
    log.info("starting long polling for %d bot(s)", len(bots))
    try:
        await app.dispatcher.start_polling(*bots, handle_signals=False)
    finally:
        if runner is not None:
            await runner.cleanup()


class UpdateRequestHandler(SimpleRequestHandler):
    """aiogram's webhook handler, answering a body that is no update with 400.

    aiogram parses the body only when it feeds the update: malformed JSON then answered
    500, and an update that failed validation was logged with pydantic's error text, which
    repeats the input (a person's message). Here the body is parsed first; what fails is
    refused with 400 and logged by its error types and places, never its values.
    """

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.verify_secret(secret, bot):
            return web.Response(body="Unauthorized", status=401)
        try:
            update = Update.model_validate(
                await request.json(loads=bot.session.json_loads), context={"bot": bot}
            )
        except ValidationError as error:
            log.warning("webhook body refused: not an update (%s)", _error_places(error))
            return web.Response(body="Bad Request", status=400)
        except ValueError:  # malformed JSON or text encoding
            log.warning("webhook body refused: not JSON")
            return web.Response(body="Bad Request", status=400)
        if self.handle_in_background:
            task = asyncio.create_task(self._feed_in_background(bot, update))
            self._background_feed_update_tasks.add(task)
            task.add_done_callback(self._background_feed_update_tasks.discard)
            return web.json_response({}, dumps=bot.session.json_dumps)
        answer: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        return web.Response(body=self._build_response_writer(bot=bot, result=answer))

    async def _feed_in_background(self, bot: Bot, update: Update) -> None:
        try:
            result: object = await self.dispatcher.feed_update(bot, update, **self.data)
        except Exception:
            # The dispatcher's error handler takes handlers' failures; this is what is left.
            log.exception("update %s failed", update.update_id)
            return
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(bot=bot, result=result)


def _error_places(error: ValidationError) -> str:
    """Where and why validation failed, without the refused values."""
    return ", ".join(
        f"{'.'.join(str(part) for part in detail['loc']) or 'body'}: {detail['type']}"
        for detail in error.errors(include_url=False, include_input=False)[:5]
    )


def build_webhook_app(app: App, *, handle_in_background: bool = True) -> web.Application:
    """An aiohttp application that accepts updates only with the configured secret token.

    It also serves /healthz and /metrics. In the background mode Telegram gets its 200 at once
    and the update is processed after; tests switch it off to assert right after a request.
    """
    telegram = app.settings.telegram
    if telegram.webhook_secret is None or not telegram.webhook_secret.get_secret_value():
        raise ValueError("TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
    web_app = web.Application()
    UpdateRequestHandler(
        dispatcher=app.dispatcher,
        bot=app.bot,
        secret_token=telegram.webhook_secret.get_secret_value(),
        handle_in_background=handle_in_background,
    ).register(web_app, path=telegram.webhook_path)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    add_routes(web_app, health=app.health, metrics=app.metrics)
    return web_app


class MaxWebhook:
    """MAX's webhook: events posted with the subscription's secret become updates of the MAX
    bot. MAX retries what it did not get a 200 for (for hours), so anything but a wrong secret
    or a body that is not JSON is answered 200; the update id dedupe absorbs the retries."""

    def __init__(self, app: App, *, handle_in_background: bool = True) -> None:
        secret = app.settings.max.webhook_secret
        if secret is None or not secret.get_secret_value():
            raise ValueError("MAX_WEBHOOK_SECRET is required in webhook mode")
        self.app = app
        self.bot = app.messengers[MAX]
        assert isinstance(self.bot.session, MaxTransport)
        self.transport = self.bot.session
        self.secret = secret.get_secret_value()
        self.handle_in_background = handle_in_background
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, web_app: web.Application) -> None:
        web_app.router.add_post(self.app.settings.max.webhook_path, self.receive)
        web_app.on_shutdown.append(self._finish)

    async def receive(self, request: web.Request) -> web.Response:
        if not compare_digest(request.headers.get(MAX_SECRET_HEADER, ""), self.secret):
            log.warning("MAX webhook call without the right secret refused")
            return web.Response(status=403)
        try:
            event = await request.json()
        except ValueError:
            return web.Response(status=400)
        update = self.transport.accept(event, self.bot) if isinstance(event, dict) else None
        if update is None:
            return web.json_response({"ok": True})
        handling = self.app.dispatcher.feed_update(self.bot, update)
        if self.handle_in_background:
            task = asyncio.create_task(handling)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await handling
        return web.json_response({"ok": True})

    async def _finish(self, _: web.Application) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def build_webhooks_app(
    app: App, messengers: Sequence[str], *, handle_in_background: bool = True
) -> web.Application:
    """One server for the messengers in webhook mode (with /healthz and /metrics)."""
    if TELEGRAM in messengers:
        web_app = build_webhook_app(app, handle_in_background=handle_in_background)
    else:
        web_app = web.Application()
        add_routes(web_app, health=app.health, metrics=app.metrics)
    if MAX in messengers:
        MaxWebhook(app, handle_in_background=handle_in_background).register(web_app)
    return web_app


async def run_webhooks(app: App, messengers: Sequence[str]) -> None:
    settings = app.settings
    web_app = build_webhooks_app(app, messengers)
    if TELEGRAM in messengers and settings.telegram.webhook_base_url:
        assert settings.telegram.webhook_secret is not None
        await app.bot.set_webhook(
            settings.telegram.webhook_base_url.rstrip("/") + settings.telegram.webhook_path,
            secret_token=settings.telegram.webhook_secret.get_secret_value(),
            drop_pending_updates=False,
        )
    if MAX in messengers and settings.max.webhook_base_url:
        assert settings.max.webhook_secret is not None
        # MAX keeps a list of subscriptions: the transport replaces ours, never duplicates it.
        await app.messengers[MAX].set_webhook(
            settings.max.webhook_base_url.rstrip("/") + settings.max.webhook_path,
            secret_token=settings.max.webhook_secret.get_secret_value(),
        )
    # Telegram's server when it runs here; otherwise MAX's own address.
    host, port = (
        (settings.telegram.webhook_host, settings.telegram.webhook_port)
        if TELEGRAM in messengers
        else (settings.max.webhook_host, settings.max.webhook_port)
    )
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("webhooks for %s listening on %s:%s", ", ".join(messengers), host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
