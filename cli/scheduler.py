"""Command-line entry points of the scheduler: `concierge scheduler` and `proactive-day`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.app import create_max_bot
from bot.channels import Messengers
from bot.sender import BotSender
from cli.logging_setup import configure_logging
from cli.signals import run_until_signalled
from common.clock import Clock, ManualClock, SystemClock
from common.settings import Settings, get_settings
from crm_adapter.master.factory import build_master_crm
from crm_adapter.sql import SqlCrm
from scheduler.bootstrap import build_proactive


def make_bot(settings: Settings) -> Bot | None:
    """The Bot API client from settings, or None when no token is configured."""
    token = settings.telegram.bot_token
    if token is None:
        return None
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_server_url))
        if settings.telegram.api_server_url
        else AiohttpSession()
    )
    return Bot(token.get_secret_value(), session=session)


def make_bots(settings: Settings) -> Messengers:
    """The bot of every messenger with a token in the settings."""
    bots = [make_bot(settings), create_max_bot(settings)]
    return Messengers.of(*(bot for bot in bots if bot is not None))


async def run_scheduler_forever(
    settings: Settings, *, clock: Clock | None = None, bots: Messengers | None = None
) -> None:
    """Runs the scheduler (and delivery, when a bot is available) until SIGINT/SIGTERM.

    It schedules the same jobs as a `concierge run` replica, so whichever process leads runs
    all of them; the knowledge base is loaded for the briefings' product facts.
    """
    # Imported here: cli.assembly wires the whole assistant, which the other commands of this
    # module (proactive-day) do not need.
    from cli.assembly import load_knowledge, schedule_feature_jobs
    from concierge.product_facts import KnowledgeProductFacts

    clock = clock or SystemClock()
    crm = await SqlCrm.open(
        settings.database.url,
        echo=settings.database.echo,
        write_back=settings.crm.writes_back,
        secure_delete=settings.database.sqlite_secure_delete,
    )
    owns_bots = bots is None
    bots = bots if bots is not None else make_bots(settings)
    proactive = build_proactive(
        settings,
        crm=crm,
        clock=clock,
        senders={messenger: BotSender(bot) for messenger, bot in bots.items()},
        master=build_master_crm(
            settings.crm, crm=crm, language=settings.behaviour.default_language
        ),
    )
    facts = KnowledgeProductFacts(await load_knowledge(settings))
    schedule_feature_jobs(
        proactive, settings, crm=crm, notifier=proactive.notifier, clock=clock, facts=facts
    )
    await proactive.start()
    try:
        await run_until_signalled(asyncio.Event().wait())
    finally:
        await proactive.stop()
        if owns_bots:
            for bot in bots.values():
                await bot.session.close()
        await crm.close()


async def proactive_day(settings: Settings, day: date) -> list[str]:
    """Fast-forwards a manual clock hour by hour through `day` (Moscow), evaluating the rules.

    Nothing is sent: the result lists what the outbox holds and when each message may go,
    which is what the demo shows.
    """
    zone = ZoneInfo(settings.scheduler.timezone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    clock = ManualClock(start)
    async with SqlCrm.opened(settings.database.url, write_back=settings.crm.writes_back) as crm:
        proactive = build_proactive(settings, crm=crm, clock=clock, senders=None)
        lines = []
        for hour in range(24):
            clock.set(start + timedelta(hours=hour))
            report = await proactive.rules.evaluate()
            for key in report.fired:
                local = clock.now().astimezone(zone).strftime("%H:%M")
                lines.append(f"{local} fired {key}")
        async with crm.unit_of_work() as uow:
            for status in ("pending", "sent", "failed", "blocked"):
                for message in await uow.outbox.by_status(status):
                    when = message.not_before.astimezone(zone).strftime("%d.%m %H:%M")
                    who = (
                        f"client {message.client_id}"
                        if message.client_id
                        else f"staff {message.staff_id}"
                    )
                    lines.append(f"outbox {status:8} {when} {who}: {message.text[:80]}")
        return lines


def register(app: typer.Typer) -> None:
    """Adds the scheduler's commands to the `concierge` CLI."""

    @app.command("scheduler")
    def scheduler_command() -> None:
        """Run the scheduler and the delivery worker on their own (one leader per CRM)."""
        settings = get_settings()
        # Like `concierge run`: without it only warnings reach stderr and leadership changes
        # (INFO) go unseen.
        configure_logging(settings)
        asyncio.run(run_scheduler_forever(settings))

    @app.command("proactive-day")
    def proactive_day_command(
        day: Annotated[str, typer.Option("--date", help="The day to simulate, YYYY-MM-DD")],
    ) -> None:
        """Fast-forward one day of trigger rules on a manual clock and show the outbox."""
        for line in asyncio.run(proactive_day(get_settings(), date.fromisoformat(day))):
            typer.echo(line)
