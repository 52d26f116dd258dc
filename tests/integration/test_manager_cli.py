"""`concierge brief` on a real database: Markdown and JSON output, refusals, audit."""

from __future__ import annotations

import asyncio
import json

import pytest
import typer
from typer.testing import CliRunner

from cli.manager import register
from crm_adapter.sql import SqlCrm
from tests.factories import MiniBank, make_bank


def seeded(url: str) -> MiniBank:
    async def seed() -> MiniBank:
        crm = SqlCrm.from_url(url)
        try:
            return await make_bank(crm)
        finally:
            await crm.close()

    return asyncio.run(seed())


def audit_actions(url: str) -> list[tuple[str, str, int | None]]:
    async def read() -> list[tuple[str, str, int | None]]:
        crm = SqlCrm.from_url(url)
        try:
            async with crm.unit_of_work() as uow:
                entries = await uow.audit.recent()
            return [(e.action, e.outcome, e.actor_staff_id) for e in entries]
        finally:
            await crm.close()

    return asyncio.run(read())


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer from flattening `brief` into the root
    def noop() -> None: ...

    return app


def test_brief_prints_markdown_as_an_admin_and_is_audited(
    cli: typer.Typer, sqlite_url: str
) -> None:
    bank = seeded(sqlite_url)
    result = CliRunner().invoke(cli, ["brief", "Volkov"], env={"DATABASE_URL": sqlite_url})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Брифинг: Волков Иван Петрович")
    assert ("view_briefing", "ok", bank.admin_id) in audit_actions(sqlite_url)


def test_brief_json_in_english_for_a_manager(cli: typer.Typer, sqlite_url: str) -> None:
    seeded(sqlite_url)
    result = CliRunner().invoke(
        cli,
        ["brief", "C-0001", "--json", "--staff", "S-0001", "--lang", "en"],
        env={"DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["client"]["name"] == "Волков Иван Петрович"
    assert {o["code"] for o in data["offers"]} == {"invest_deposits", "insure_family"}


def test_brief_of_someone_elses_client_is_refused(cli: typer.Typer, sqlite_url: str) -> None:
    bank = seeded(sqlite_url)
    result = CliRunner().invoke(
        cli, ["brief", "Морозова", "--staff", "S-0001"], env={"DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 1
    assert "access denied" in result.output
    assert ("view_briefing", "denied", bank.manager_id) in audit_actions(sqlite_url)
