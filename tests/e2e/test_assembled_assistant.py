"""The assembled assistant of `concierge run` / `console`: knowledge, outbox, scheduler, jobs."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

from bot.console import ConsoleSession, Transcript
from cli.assembly import assemble
from common.clock import ManualClock
from common.settings import Settings
from crm_adapter.demo.loader import load_demo_data
from crm_adapter.sql import SqlCrm


async def test_assembled_assistant_runs_every_job_and_delivers(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    await load_demo_data(crm, clock=clock)
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
