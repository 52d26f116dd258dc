"""Fixtures of the desk tests: the desk on the test bot's store, notifier and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness
from tests.web.desk import DeskBrowser
from web.app import build_desk

CLIENT, MANAGER, BACKUP, COORDINATOR, ADMIN, DUTY = 7201, 8201, 8202, 8203, 8204, 8205


@pytest.fixture
async def desk_client(app: App) -> AsyncIterator[TestClient[Any, Any]]:
    desk = build_desk(app.settings, crm=app.crm, clock=app.clock, notifier=app.notifier)
    async with TestClient(TestServer(desk)) as client:
        yield client


@pytest.fixture
def browser(desk_client: TestClient[Any, Any]) -> DeskBrowser:
    return DeskBrowser(desk_client)


@pytest.fixture
async def bank(harness: BotHarness) -> MiniBank:
    """The mini bank with the client and every staff member linked through /start."""
    found = await make_bank(harness.app.crm)
    await harness.link(harness.user(CLIENT), client_id=found.client_id)
    for user_id, staff_id in (
        (MANAGER, found.manager_id),
        (BACKUP, found.backup_id),
        (COORDINATOR, found.coordinator_id),
        (ADMIN, found.admin_id),
        (DUTY, found.duty_id),
    ):
        await harness.link(harness.user(user_id), staff_id=staff_id)
    return found
