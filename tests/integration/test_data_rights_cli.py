"""`concierge client export|erase` on a real database, by the ticket's owner only."""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli import main as cli
from common.clock import ManualClock
from concierge.preferences import request_data_task
from crm_adapter.sql import SqlCrm
from tests.conftest import DEFAULT_NOW
from tests.factories import MiniBank, make_bank


class _Silent:
    async def to_staff(self, staff_id: int, message: object) -> bool:
        return True

    async def to_client(self, client_id: int, message: object) -> bool:
        return True


def _seed(url: str, task: str) -> tuple[MiniBank, int]:
    async def seed() -> tuple[MiniBank, int]:
        crm = SqlCrm.from_url(url)
        try:
            bank = await make_bank(crm)
            async with crm.unit_of_work() as uow:
                # The manager works in a messenger, so the ticket is theirs (a ticket for a
                # manager no messenger reaches goes on to the backup or the duty desk).
                await uow.links.bind(
                    user_id=8901,
                    chat_id=8901,
                    client_id=None,
                    staff_id=bank.manager_id,
                    now=DEFAULT_NOW,
                    language="ru",
                )
                client = await uow.clients.get(bank.client_id)
                assert client is not None
                request = await request_data_task(
                    uow, _Silent(), ManualClock(DEFAULT_NOW), client=client, task=task
                )
                await uow.commit()
            return bank, request.id
        finally:
            await crm.close()

    return asyncio.run(seed())


def test_export_writes_the_archive_for_the_tickets_owner(command_env: str, tmp_path: Path) -> None:
    _, ticket = _seed(command_env, "export")
    out = tmp_path / "export.zip"
    runner = CliRunner()

    def export_by(staff: str) -> Result:
        command = ["client", "export", "C-0001", "--ticket", str(ticket), "--staff", staff]
        return runner.invoke(cli.app, [*command, "--out", str(out)])

    refused = export_by("S-0002")
    assert refused.exit_code == 1 and "not_owner" in refused.output and not out.exists()
    done = export_by("S-0001")
    assert done.exit_code == 0, done.output
    assert "ticket closed" in done.output
    data = zipfile.ZipFile(out).read("data.json").decode()
    assert "Волков" in data and "Вклад «Капитал»" in data


def test_erase_by_the_tickets_owner(command_env: str) -> None:
    bank, ticket = _seed(command_env, "deletion")
    runner = CliRunner()
    wrong = runner.invoke(
        cli.app,
        ["client", "erase", "C-0002", "--ticket", str(ticket), "--staff", "S-0001", "--yes"],
    )
    assert wrong.exit_code == 1 and "wrong_ticket" in wrong.output
    done = runner.invoke(
        cli.app,
        ["client", "erase", "C-0001", "--ticket", str(ticket), "--staff", "S-0001", "--yes"],
    )
    assert done.exit_code == 0, done.output
    assert "C-0001: erased" in done.output and "REDIS_URL" in done.output

    async def name() -> str:
        crm = SqlCrm.from_url(command_env)
        try:
            async with crm.unit_of_work() as uow:
                client = await uow.clients.get(bank.client_id)
                assert client is not None
                return client.full_name
        finally:
            await crm.close()

    assert "Волков" not in asyncio.run(name())


@pytest.mark.parametrize("ticket", ["99999999999999999999", "0", "-5"])
def test_a_ticket_number_out_of_range_is_refused_without_a_traceback(
    command_env: str, tmp_path: Path, ticket: str
) -> None:
    # A number past the database's integer reached the query: OverflowError on SQLite (a
    # DataError on PostgreSQL) and a traceback instead of a line for the operator.
    _seed(command_env, "export")
    runner = CliRunner()
    for command in (
        ["client", "export", "C-0001", "--out", str(tmp_path / "x.zip")],
        ["client", "erase", "C-0001", "--yes"],
    ):
        result = runner.invoke(cli.app, [*command, "--ticket", ticket, "--staff", "S-0001"])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "--ticket" in result.output
