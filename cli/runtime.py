"""Start-up and shutdown of the long-running modes: the messenger transports and the console."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.console import ConsoleSession, Transcript, run_console
from bot.observability import start_server
from bot.replica_state import Unthrottled, build_replica_state
from bot.transports import run_polling, run_webhook
from cli.assembly import assemble
from cli.logging_setup import configure_logging
from common.clock import Clock, ManualClock, SystemClock
from common.settings import Settings


async def run_messenger(settings: Settings) -> None:
    configure_logging(settings)
    assistant = await assemble(settings, session=None, clock=SystemClock())
    try:
        if settings.telegram.mode == "webhook":
            await run_webhook(assistant.app)
        else:
            await run_polling(assistant.app)
    finally:
        await assistant.close()


async def run_console_app(
    settings: Settings, *, script: Path | None, manual_clock: bool, out: object = None
) -> None:
    # The console owns the terminal: logs go to a file so they do not interleave with chat.
    configure_logging(settings, to_file=settings.var_dir / "console.log")
    transcript = Transcript(out=sys.stdout)
    clock: Clock = ManualClock(SystemClock().now()) if manual_clock else SystemClock()
    # Flood control guards the bank against a messenger account; here the only sender is the
    # operator, and a script's lines arrive as fast as they are read.
    replica_state = build_replica_state(settings)
    replica_state.throttle = Unthrottled()
    assistant = await assemble(
        settings, session=ConsoleSession(transcript), clock=clock, replica_state=replica_state
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
    try:
        if script is not None:
            with script.open(encoding="utf-8") as source:
                await run_console(app, transcript, source)
        else:
            await run_console(app, transcript)
    finally:
        if runner is not None:
            await runner.cleanup()
        await assistant.close()
