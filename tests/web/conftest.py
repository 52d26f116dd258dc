"""Fixtures of the desk tests: the desk on the test bot's store, notifier and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from tests.factories import MiniBank
from tests.harness import BotHarness
from tests.web.desk import DeskBrowser, outbox_notifier, staffed_bank
from web.app import build_desk


@pytest.fixture
async def desk_client(app: App) -> AsyncIterator[TestClient[Any, Any]]:
    notifier = outbox_notifier(app.crm, app.clock)
    desk = build_desk(app.settings, crm=app.crm, clock=app.clock, notifier=notifier)
    async with TestClient(TestServer(desk)) as client:
        yield client


@pytest.fixture
def browser(desk_client: TestClient[Any, Any]) -> DeskBrowser:
    return DeskBrowser(desk_client)


@pytest.fixture
async def bank(harness: BotHarness) -> MiniBank:
    return await staffed_bank(harness)
