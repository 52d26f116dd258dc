"""Fixtures of the integration tests: the CRM store on each engine, the environment of a
`concierge` command."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.settings import get_settings
from crm_adapter.sql import SqlCrm


@pytest.fixture
async def store(any_db_url: str) -> AsyncIterator[SqlCrm]:
    """A migrated store on SQLite and, when available, on PostgreSQL (`any_db_url`).

    `crm_master/` has its own `store`: SQLite only, queueing writes for the bank's CRM."""
    crm = SqlCrm.from_url(any_db_url)
    yield crm
    await crm.close()


@pytest.fixture
def command_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The environment a `concierge` command reads its settings from: this test's database,
    no Redis, no .env from the working copy; settings read afresh before and after. The
    database's URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()
