"""Start-up and shutdown of the long-running modes: the messenger transports and the console."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp.web import AppRunner

from bot.app import App
from bot.console import ConsoleSession, Transcript, run_console
from bot.observability import start_server
from bot.replica_state import Unthrottled, build_replica_state
from bot.transports import run
from cli.assembly import assemble, load_knowledge
from cli.logging_setup import configure_logging
from cli.signals import run_until_signalled
from common.clock import Clock, ManualClock, SystemClock
from common.settings import Settings
from concierge.contact_policy import ContactPolicy
from concierge.product_facts import KnowledgeProductFacts
from crm_adapter.sql import SqlCrm
from scheduler.outbox import OutboxNotifier
from web.app import build_desk, start_desk

log = logging.getLogger(__name__)


async def run_messenger(settings: Settings, channels: Sequence[str]) -> None:
    """Receives from `channels` (each by its own mode); sends in every configured messenger."""
    configure_logging(settings)
    assistant = await assemble(settings, session=None, clock=SystemClock())
    desk = await start_desk_beside(assistant.app, settings)
    try:
        await run_until_signalled(run(assistant.app, channels))
    finally:
        if desk is not None:
            await desk.cleanup()
        await assistant.close()


async def run_console_app(
    settings: Settings,
    *,
    script: Path | None,
    manual_clock: bool,
    out: object = None,
    desk: bool = False,
) -> None:
    # The console owns the terminal: logs go to a file so they do not interleave with chat.
    configure_logging(settings, to_file=settings.var_dir / "console.log")
    transcript = Transcript(out=sys.stdout)
    clock: Clock = ManualClock(SystemClock().now()) if manual_clock else SystemClock()
    # Flood control guards the bank against a messenger account; here the only sender is the
    # operator, and a script's lines arrive as fast as they are read.
    replica_state = build_replica_state(settings)
    replica_state.throttle = Unthrottled()
    # The console plays both messengers (`:as client C-0001 --channel max`).
    assistant = await assemble(
        settings,
        session=ConsoleSession(transcript),
        max_session=ConsoleSession(transcript, messenger="max"),
        clock=clock,
        replica_state=replica_state,
    )
    app = assistant.app
    app.extras["run_jobs"] = assistant.run_jobs_now
    observability = settings.observability
    runner = None
    if observability.port is not None:
        runner = await start_server(
            health=app.health,
            metrics=app.metrics,
            host=observability.host,
            port=observability.port,
        )
    web_runner = await start_desk_beside(app, settings) if desk else None
    if web_runner is not None:
        transcript.write(
            f"Staff web desk: {settings.web.public_url} (as staff, send /web for a sign-in link)"
        )
    try:
        if script is not None:
            with script.open(encoding="utf-8") as source:
                await run_console(app, transcript, source)
        else:
            await run_console(app, transcript)
    finally:
        if web_runner is not None:
            await web_runner.cleanup()
        if runner is not None:
            await runner.cleanup()
        await assistant.close()


async def start_desk_beside(app: App, settings: Settings) -> AppRunner | None:
    """The staff web desk in this process, on the assistant's store, clock and notifier."""
    if not settings.web.enabled:
        return None
    desk = build_desk(
        settings,
        crm=app.crm,
        clock=app.clock,
        notifier=app.notifier,
        catalog=app.catalog,
        service_catalogue=app.extras.get("service_catalogue"),
        product_facts=app.extras.get("product_facts"),
    )
    runner = await start_desk(desk, host=settings.web.host, port=settings.web.port)
    log.info("staff web desk at %s", settings.web.public_url)
    return runner


async def run_desk(settings: Settings) -> None:
    """`concierge web`: the desk alone. Its messages queue in the outbox; the process that
    leads the scheduler (`concierge run` or `concierge scheduler`) delivers them."""
    configure_logging(settings)
    clock = SystemClock()
    crm = await SqlCrm.open(
        settings.database.url,
        echo=settings.database.echo,
        secure_delete=settings.database.sqlite_secure_delete,
    )
    knowledge = await load_knowledge(settings)
    notifier = OutboxNotifier(
        crm, clock, ContactPolicy(marketing_per_week=settings.scheduler.marketing_per_week)
    )
    desk = build_desk(
        settings,
        crm=crm,
        clock=clock,
        notifier=notifier,
        product_facts=KnowledgeProductFacts(knowledge),
    )
    runner = await start_desk(desk, host=settings.web.host, port=settings.web.port)
    print(f"Staff web desk at {settings.web.public_url} (Ctrl+C to stop)", flush=True)  # noqa: T201
    try:
        await run_until_signalled(asyncio.Event().wait())
    finally:
        await runner.cleanup()
        await crm.close()
