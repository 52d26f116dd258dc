"""How updates arrive: long polling, or a webhook behind the bank's reverse proxy."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.app import App
from bot.observability import add_routes, start_server

log = logging.getLogger(__name__)


async def run_polling(app: App) -> None:
    await app.bot.delete_webhook(drop_pending_updates=False)
    observability = app.settings.observability
    runner = None
    if observability.port is not None:
        runner = await start_server(
            health=app.health,
            metrics=app.metrics,
            host=observability.host,
            port=observability.port,
        )
    log.info("starting long polling")
    try:
        await app.dispatcher.start_polling(app.bot, handle_signals=False)
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


async def run_webhook(app: App) -> None:
    telegram = app.settings.telegram
    web_app = build_webhook_app(app)
    if telegram.webhook_base_url:
        assert telegram.webhook_secret is not None
        await app.bot.set_webhook(
            telegram.webhook_base_url.rstrip("/") + telegram.webhook_path,
            secret_token=telegram.webhook_secret.get_secret_value(),
            drop_pending_updates=False,
        )
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, telegram.webhook_host, telegram.webhook_port)
    await site.start()
    log.info("webhook listening on %s:%s", telegram.webhook_host, telegram.webhook_port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
