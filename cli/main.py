"""The `concierge` command line: run the assistant, migrate, load demo data, link accounts."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from common.settings import Settings, get_settings

# Offline by design: nothing may fetch model weights or phone home at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _settings() -> Settings:
    return get_settings()


@app.command()
def migrate() -> None:
    """Create or upgrade the CRM database schema."""
    from crm_adapter.migrate import upgrade
    from crm_adapter.sql import create_engine

    async def _go() -> None:
        engine = create_engine(_settings().database.url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_go())
    typer.echo("database is up to date")


@app.command()
def link(
    person: Annotated[
        str, typer.Argument(help="client or staff external id, e.g. C-0001, S-0001")
    ],
) -> None:
    """Print a one-time deep link (valid 24 h) that binds a messenger account (Telegram or
    MAX) to a person."""
    from datetime import timedelta

    from common.clock import SystemClock
    from concierge.linking import issue_link_code
    from crm_adapter.sql import SqlCrm

    settings = _settings()

    async def _go() -> str:
        async with SqlCrm.opened(settings.database.url) as crm, crm.unit_of_work() as uow:
            client = await uow.clients.by_external_id(person)
            staff = None if client else await uow.staff.by_external_id(person)
            if client is None and staff is None:
                raise typer.BadParameter(f"no client or staff member {person}")
            issued = await issue_link_code(
                uow,
                clock=SystemClock(),
                client_id=client.id if client else None,
                staff_id=staff.id if staff else None,
                ttl=timedelta(hours=settings.behaviour.link_code_ttl_hours),
            )
            await uow.commit()
        # One code, either messenger: it links the first account that opens it.
        lines = [issued.deep_link(settings.telegram.bot_username)]
        if settings.max.bot_username:
            lines.append(issued.max_link(settings.max.bot_username))
        return "\n".join(lines) + f"\n(single use, expires {issued.expires_at_iso})"

    typer.echo(asyncio.run(_go()))


@app.command()
def console(
    script: Annotated[
        Path | None, typer.Option(help="read console lines from this file instead of stdin")
    ] = None,
    clock: Annotated[
        str, typer.Option(help="system, or manual to move time with :clock")
    ] = "system",
) -> None:
    """The local console messenger on the real dispatcher (no Telegram needed)."""
    from cli.runtime import run_console_app

    asyncio.run(run_console_app(_settings(), script=script, manual_clock=clock == "manual"))


@app.command()
def run(
    webhook: Annotated[
        bool, typer.Option("--webhook", help="webhook mode (a replica behind the reverse proxy)")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve /healthz and /metrics on this port (polling and console)"),
    ] = None,
    channel: Annotated[
        str,
        typer.Option(
            help="receive from telegram, max, or all configured (a replica per messenger); "
            "every process sends in every messenger it has a token for"
        ),
    ] = "all",
) -> None:
    """Run the assistant: Telegram and/or MAX with their tokens, else the local console."""
    from cli.runtime import run_console_app, run_messenger

    settings = _settings()
    if metrics_port is not None:
        settings.observability.port = metrics_port
    channels = chosen_channels(settings, channel)
    if webhook:
        for chosen in channels:
            getattr(settings, chosen).mode = "webhook"
    problem = start_problem(settings, channel, channels)
    if webhook and not channels and not problem:
        problem = "Webhook mode needs TELEGRAM_BOT_TOKEN or MAX_BOT_TOKEN."
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    if not channels:
        typer.echo(
            "No TELEGRAM_BOT_TOKEN or MAX_BOT_TOKEN: starting the local console messenger.",
            err=True,
        )
        asyncio.run(run_console_app(settings, script=None, manual_clock=False, desk=True))
    else:
        asyncio.run(run_messenger(settings, channels))


MESSENGER_TOKENS = {"telegram": "TELEGRAM_BOT_TOKEN", "max": "MAX_BOT_TOKEN"}


def chosen_channels(settings: Settings, channel: str) -> list[str]:
    """The messengers to receive from: the one asked for, or every one with a token."""
    configured = [
        name
        for name, section in (("telegram", settings.telegram), ("max", settings.max))
        if section.bot_token is not None
    ]
    return configured if channel == "all" else [c for c in configured if c == channel]


def start_problem(settings: Settings, channel: str, channels: list[str]) -> str | None:
    """Why `concierge run` cannot start, or None."""
    if channel not in ("all", *MESSENGER_TOKENS):
        return f"--channel is telegram, max or all (not {channel!r})."
    if channel != "all" and channel not in channels:
        return f"--channel {channel} needs {MESSENGER_TOKENS[channel]}."
    return webhook_start_problem(settings)


def webhook_start_problem(settings: Settings) -> str | None:
    """Why the assistant cannot start, or None: production never runs without the check-in
    key, webhook mode never without a token and a secret."""
    if settings.environment == "production" and settings.behaviour.checkin_secret is None:
        # Check-in code hashes are keyed with it; without it a database copy reveals them.
        return "Production needs BOT_CHECKIN_SECRET (the same on every process)."
    if settings.telegram.mode == "webhook":
        if settings.telegram.bot_token is None:
            return "Webhook mode needs TELEGRAM_BOT_TOKEN."
        secret = settings.telegram.webhook_secret
        if secret is None or not secret.get_secret_value():
            # Without it anyone who finds the URL could post forged updates as any client.
            return (
                "Webhook mode needs TELEGRAM_WEBHOOK_SECRET (sent back by Telegram on every call)."
            )
    if settings.max.mode == "webhook":
        if settings.max.bot_token is None:
            return "MAX webhook mode needs MAX_BOT_TOKEN."
        max_secret = settings.max.webhook_secret
        if max_secret is None or not max_secret.get_secret_value():
            return "MAX webhook mode needs MAX_WEBHOOK_SECRET (MAX sends it on every call)."
    return None


@app.command("purge-interactions")
def purge_interactions_command(
    days: Annotated[int, typer.Option(min=1, help="keep this many days of personal data")],
) -> None:
    """Purge personal data older than the retention period: interactions, notes, closed
    requests, relay mappings, audit details, sent messages (see concierge.retention)."""
    from datetime import timedelta

    from common.clock import SystemClock
    from concierge.retention import purge_personal_data
    from crm_adapter.sql import SqlCrm

    settings = _settings()

    async def _go() -> dict[str, int]:
        async with SqlCrm.opened(settings.database.url) as crm, crm.unit_of_work() as uow:
            purged = await purge_personal_data(
                uow,
                SystemClock(),
                timedelta(days=days),
                relay_window=timedelta(days=settings.behaviour.relay_reply_days),
            )
            await uow.commit()
        return purged

    purged = asyncio.run(_go())
    typer.echo(f"purged {purged['interaction']} interactions older than {days} days")
    others = ", ".join(
        f"{table} {count}" for table, count in purged.items() if table != "interaction"
    )
    typer.echo(f"other personal data purged (rows per table): {others}")


@app.command("demo-data")
def demo_data() -> None:
    """Load the fictional demo bank (idempotent: a second run adds nothing)."""
    from common.clock import SystemClock
    from crm_adapter.demo.loader import load_demo_data
    from crm_adapter.sql import SqlCrm

    async def _go() -> str:
        async with SqlCrm.opened(_settings().database.url) as crm:
            summary = await load_demo_data(crm, clock=SystemClock())
        return (
            f"demo bank: {summary.clients} clients, {summary.staff} staff, "
            f"{summary.created} rows added"
        )

    typer.echo(asyncio.run(_go()))


def _register_features() -> None:
    # Each feature owns its commands; they are added here, in one place.
    from cli import crm as crm_cli
    from cli import data_rights as data_rights_cli
    from cli import events as events_cli
    from cli import knowledge as knowledge_cli
    from cli import manager as manager_cli
    from cli import scheduler as scheduler_cli
    from cli import web as web_cli

    knowledge_cli.register(app)
    scheduler_cli.register(app)
    manager_cli.register(app)
    events_cli.register(app)
    web_cli.register(app)
    crm_cli.register(app)
    data_rights_cli.register(app)


_register_features()


def main() -> None:
    from crm_adapter.master.factory import CrmNotConfigured
    from crm_adapter.master.records import CrmUnavailable
    from crm_adapter.migrate import SchemaNotReady

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except CrmNotConfigured as exc:
        typer.echo(f"concierge: {exc}", err=True)
        sys.exit(2)
    except CrmUnavailable as exc:
        # A code, never the portal's answer or URL (the webhook URL holds a secret).
        typer.echo(f"concierge: the bank's CRM is unavailable ({exc.code}); try later", err=True)
        sys.exit(75)
    except SchemaNotReady as exc:
        # Every command opens the store through SqlCrm.open, so one place turns a fresh or
        # outdated database into the command to run instead of a driver traceback.
        typer.echo(f"concierge: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # `python -m cli.main`, like `python -m cli` and `concierge`
    main()
