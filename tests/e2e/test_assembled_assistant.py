"""The assembled assistant of `concierge run` / `console`: knowledge, outbox, scheduler, jobs."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

from sqlalchemy import select

from bot.console import ConsoleSession, Transcript, run_console
from cli.assembly import assemble
from common.clock import ManualClock
from common.settings import Settings
from crm_adapter import models as m
from crm_adapter.demo.loader import load_demo_data
from crm_adapter.sql import SqlCrm


async def _link_manager(crm: SqlCrm, clock: ManualClock) -> None:
    """S-0001's messenger account, as the console links it (`:as staff S-0001`)."""
    async with crm.unit_of_work() as uow:
        manager = await uow.staff.by_external_id("S-0001")
        assert manager is not None
        await uow.links.bind(
            user_id=8_000_001,
            chat_id=8_000_001,
            client_id=None,
            staff_id=manager.id,
            now=clock.now(),
            language="ru",
        )
        await uow.commit()


async def test_assembled_assistant_runs_every_job_and_delivers(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    await load_demo_data(crm, clock=clock)
    await _link_manager(crm, clock)
    out = io.StringIO()
    assistant = await assemble(settings, session=ConsoleSession(Transcript(out=out)), clock=clock)
    # The demo meeting starts exactly two hours after the load; a few minutes later it is due.
    clock.advance(timedelta(minutes=5))
    try:
        results = await asyncio.wait_for(assistant.run_jobs_now(), timeout=120)
        health = await assistant.app.health.report()
    finally:
        await assistant.close()
    assert set(results) == {
        "requests.escalate",
        "briefings.before_meetings",
        "events.reminders",
        "feedback.nps",
        "insights.watchlist",
        "retention.purge",
        "rules.evaluate",
    }
    assert results["briefings.before_meetings"] == 1  # the demo meeting ~2 h from now
    assert "database" in str(health)
    # Delivered by the worker through the console session, not merely queued.
    assert "Брифинг к встрече" in out.getvalue()


async def test_a_replica_without_the_scheduler_queues_notifications_in_the_outbox(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    """Regression: with SCHEDULER_ENABLED=false a replica used the direct notifier, so its
    messages to managers bypassed the outbox, the contact policy and the rate limits."""
    await load_demo_data(crm, clock=clock)
    await _link_manager(crm, clock)
    quiet = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"enabled": False})}
    )
    out = io.StringIO()
    transcript = Transcript(out=out)
    assistant = await assemble(quiet, session=ConsoleSession(transcript), clock=clock)
    script = (
        ":as client C-0001\n:press Даю согласие\n:press Срочная помощь\n"
        ":press Карта утеряна\nИталия, Милан\n"
    )
    try:
        await run_console(assistant.app, transcript, io.StringIO(script))
    finally:
        await assistant.close()
    async with crm.unit_of_work() as uow:
        manager = await uow.staff.by_external_id("S-0001")
        assert manager is not None
        queued = (
            await uow.session.execute(
                select(m.OutboxMessageRow.status, m.OutboxMessageRow.text).where(
                    m.OutboxMessageRow.staff_id == manager.id
                )
            )
        ).all()
    # Queued for whichever process leads the scheduler, and not sent by this replica.
    assert [status for status, _ in queued] == ["pending"]
    assert "Италия, Милан" in queued[0].text
    assert "Срочная заявка" in out.getvalue()  # the client's own answer is the reply
    assert "── to Соколов" not in out.getvalue()
