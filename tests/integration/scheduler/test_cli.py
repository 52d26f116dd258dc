"""The scheduler's CLI: commands register on the app, and the demo day runs on a manual clock."""

from __future__ import annotations

from datetime import date

import typer
from typer.testing import CliRunner

from bot.settings import DatabaseSettings, Settings
from crm_adapter.sql import SqlCrm
from scheduler.cli import proactive_day, register
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
