"""Fixtures of the integration tests: the CRM store on each engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm_adapter.sql import SqlCrm


@pytest.fixture
async def store(any_db_url: str) -> AsyncIterator[SqlCrm]:
    """A migrated store on SQLite and, when available, on PostgreSQL (`any_db_url`).

    `crm_master/` has its own `store`: SQLite only, queueing writes for the bank's CRM."""
    crm = SqlCrm.from_url(any_db_url)
    yield crm
    await crm.close()
