"""Fixtures for the bank's-CRM tests: the Bitrix24 stand-in serving the demo bank, a store
that writes back, and the Bitrix24 adapter pointed at the stand-in."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bench.bitrix24_portal import Portal
from bench.bitrix24_standin import Bitrix24StandIn, demo_portal
from common.clock import ManualClock
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.bitrix24.rest import Bitrix24Rest
from crm_adapter.sql import SqlCrm

HOLDINGS = 1032
LIFE_EVENTS = 1036


@pytest.fixture(scope="session")
def _demo_portal() -> Portal:
    """The demo bank as a portal, built once (it loads the demo bank into a store)."""
    return asyncio.run(demo_portal(HOLDINGS, LIFE_EVENTS))


@pytest.fixture
def portal(_demo_portal: Portal, clock: ManualClock) -> Portal:
    copied = copy.deepcopy(_demo_portal)
    # The portal stamps records with the test's clock, as a real one would with the time.
    copied.restamp(clock.now() - timedelta(hours=1))
    copied.now = clock.now
    return copied


@pytest.fixture
async def standin(portal: Portal) -> AsyncIterator[Bitrix24StandIn]:
    # Fast enough not to slow the tests; the limit itself has tests of its own.
    async with Bitrix24StandIn(portal, rate=1000, burst=1000) as api:
        yield api


def bitrix24(webhook_url: str, *, per_second: float = 1000.0) -> Bitrix24Crm:
    return Bitrix24Crm(
        Bitrix24Rest(webhook_url=webhook_url, requests_per_second=per_second),
        holdings_entity_type_id=HOLDINGS,
        life_events_entity_type_id=LIFE_EVENTS,
    )


@pytest.fixture
async def master(standin: Bitrix24StandIn) -> AsyncIterator[Bitrix24Crm]:
    crm = bitrix24(standin.webhook_url)
    yield crm
    await crm.close()


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[SqlCrm]:
    """An empty, migrated store that queues its writes for the bank's CRM."""
    crm = SqlCrm.from_url(sqlite_url, write_back=True)
    yield crm
    await crm.close()
