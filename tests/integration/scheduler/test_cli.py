"""The scheduler's CLI: commands register on the app, and the demo day runs on a manual clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from cli import scheduler as scheduler_cli
from cli.assembly import feature_jobs
from cli.scheduler import proactive_day, register, run_scheduler_forever
from common.clock import ManualClock
from common.settings import DatabaseSettings, Settings
from crm_adapter.sql import SqlCrm
from scheduler.bootstrap import Proactive, build_proactive
from scheduler.service import JOBS_TABLE
from tests.integration.scheduler.conftest import add_client, add_staff


def test_register_adds_the_scheduler_commands() -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["proactive-day", "--help"])
    assert result.exit_code == 0 and "--date" in result.output
    assert CliRunner().invoke(app, ["scheduler", "--help"]).exit_code == 0


async def test_proactive_day_shows_when_each_prompt_goes(crm: SqlCrm) -> None:
    await add_staff(crm, staff_id=1, chat_id=501)
    await add_client(crm, client_id=7, chat_id=701, birthday=date(1975, 6, 15), manager_id=1)
    settings = Settings(database=DatabaseSettings(url=str(crm.engine.url)))
    lines = await proactive_day(settings, date(2026, 6, 15))
    assert "00:00 fired birthday_greeting:7:2026" in lines
    assert any(line.startswith("outbox pending  15.06 10:00 client 7") for line in lines)


async def test_the_scheduler_command_schedules_every_job_a_replica_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replicas and `concierge scheduler` share one job store and compete for one lock: a
    # leader that lacked a stored job would skip it ("unknown job") for as long as it led.
    built: list[Proactive] = []

    def build(*args: Any, **kwargs: Any) -> Proactive:
        built.append(build_proactive(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(scheduler_cli, "build_proactive", build)
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    running = asyncio.create_task(run_scheduler_forever(settings, clock=clock))
    try:
        async with asyncio.timeout(60):
            while not (built and built[0].service.is_leader):
                assert not running.done(), running
                await asyncio.sleep(0.05)
        crm = SqlCrm.from_url(settings.database.url)
        try:
            async with crm.engine.connect() as conn:
                stored = set((await conn.execute(text(f"SELECT id FROM {JOBS_TABLE}"))).scalars())
        finally:
            await crm.close()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert built[0].notifier is not None
    names = feature_jobs(
        settings, crm=crm, notifier=built[0].notifier, clock=clock, facts=NoFacts()
    )
    expected = {"rules.evaluate", *names}
    assert expected <= stored, expected - stored


class NoFacts:
    def facts(self, family: str, *, language: str) -> list[Any]:
        return []
