"""How updates arrive: long polling, or a webhook behind the bank's reverse proxy."""

from __future__ import annotations

import asyncio
import logging

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

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


def build_webhook_app(app: App, *, handle_in_background: bool = True) -> web.Application:
    """An aiohttp application that accepts updates only with the configured secret token.

    It also serves /healthz and /metrics. In the background mode Telegram gets its 200 at once
    and the update is processed after; tests switch it off to assert right after a request.
    """
    telegram = app.settings.telegram
    if telegram.webhook_secret is None or not telegram.webhook_secret.get_secret_value():
        raise ValueError("TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
    web_app = web.Application()
    SimpleRequestHandler(
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
