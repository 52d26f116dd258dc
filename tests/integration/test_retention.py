"""Retention of the interaction log: the purge use case and its command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli import main as cli
from common.clock import ManualClock
from concierge.retention import purge_interactions
from crm_adapter.sql import SqlCrm
from tests.factories import log_message

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


async def log_at(crm: SqlCrm, *moments: datetime) -> None:
    async with crm.unit_of_work() as uow:
        for number, moment in enumerate(moments):
            await log_message(
                uow,
                at=moment,
                actor="unknown",
                text="…",
                update_id=int(moment.timestamp()) + number,
            )
        await uow.commit()


async def test_purge_removes_only_what_is_older_than_the_retention(store: SqlCrm) -> None:
    await log_at(
        store,
        NOW - timedelta(days=400),
        NOW - timedelta(days=181),
        NOW - timedelta(days=179),
        NOW - timedelta(hours=1),
    )
    async with store.unit_of_work() as uow:
        purged = await purge_interactions(uow, ManualClock(NOW), timedelta(days=180))
        await uow.commit()
    async with store.unit_of_work() as uow:
        left = await uow.interactions.count()
    assert (purged, left) == (2, 2)


async def test_purge_keeps_at_least_the_redelivery_window(crm: SqlCrm) -> None:
    async with crm.unit_of_work() as uow:
        with pytest.raises(ValueError, match="at least"):
            await purge_interactions(uow, ManualClock(NOW), timedelta(hours=12))


def test_purge_command(command_env: str) -> None:
    import asyncio

    crm = SqlCrm.from_url(command_env)

    async def seed() -> None:
        await log_at(crm, datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
        await crm.close()

    asyncio.run(seed())
    runner = CliRunner()
    refused = runner.invoke(cli.app, ["purge-interactions", "--days", "0"])
    result = runner.invoke(cli.app, ["purge-interactions", "--days", "365"])
    assert refused.exit_code == 2
    assert result.exit_code == 0, result.output
    assert "purged 1 interactions older than 365 days" in result.output
