"""Shared fixtures: settings on a temporary directory, a migrated CRM store, the bot harness."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bot.app import App, build_app  # noqa: E402 - the offline switches must be set first
from bot.notifier import direct_notifier
from common.clock import ManualClock  # noqa: E402
from common.settings import (  # noqa: E402
    BehaviourSettings,
    DatabaseSettings,
    KnowledgeSettings,
    Settings,
)
from crm_adapter.migrate import upgrade  # noqa: E402
from crm_adapter.sql import SqlCrm, create_engine  # noqa: E402
from tests.harness import BotHarness, RecordingSession  # noqa: E402

# A Sunday evening in Moscow: the tests' default "now" (time rules are checked against it).
DEFAULT_NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
LOOPBACK_PREFIXES = ("http://127.", "http://localhost", "http://[::1]")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call to a Bot API server that is not on this machine fails the test (Telegram's
    through aiohttp, MAX's through httpx)."""
    original = AiohttpSession.make_request

    async def guarded(self: AiohttpSession, bot: Any, method: Any, timeout: Any = None) -> Any:
        base = self.api.base
        if not base.startswith(LOOPBACK_PREFIXES):
            raise AssertionError(f"test tried to reach {base}: the network is off in tests")
        return await original(self, bot, method, timeout)

    monkeypatch.setattr(AiohttpSession, "make_request", guarded)
    original_send = httpx.AsyncClient.send

    async def guarded_send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        if not str(request.url).startswith(LOOPBACK_PREFIXES):
            raise AssertionError(f"test tried to reach {request.url.host}: the network is off")
        return await original_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", guarded_send)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DEFAULT_NOW)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per run; each test gets a copy of the file (migrations take a while)."""
    path = tmp_path_factory.mktemp("template") / "crm.db"

    _run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _template_db: Path) -> str:
    target = tmp_path / "crm.db"
    shutil.copy(_template_db, target)
    return f"sqlite+aiosqlite:///{target}"


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Runs set-up work from a synchronous fixture (pytest-asyncio's loop is not running)."""
    asyncio.run(coro)


async def _execute(url: str, statement: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards; skips without one."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _run(_execute(base, f'CREATE SCHEMA "{schema}"'))
    yield f"{base}{'&' if '?' in base else '?'}search_path={schema}"
    _run(_execute(base, f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def redis_url() -> str:
    """The test Redis; skips without one."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return url


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key namespace of this test alone (others share the Redis); its keys are removed after."""
    from redis.asyncio import Redis

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """Both engines: store tests run on SQLite and, when available, on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    _run(_migrate(url))
    return url


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return Settings(
        environment="test",
        var_dir=tmp_path,
        database=DatabaseSettings(url=sqlite_url),
        knowledge=KnowledgeSettings(chroma_path=tmp_path / "chroma"),
        # High enough that long journeys are never throttled; the throttle has its own test.
        behaviour=BehaviourSettings(throttle_burst=1000),
    )


@pytest.fixture
async def crm(settings: Settings) -> AsyncIterator[SqlCrm]:
    store = SqlCrm.from_url(settings.database.url)
    yield store
    await store.close()


@pytest.fixture
def app_services() -> dict[str, Any]:
    """Services `app` passes on to `build_app` (e.g. `product_facts`): none here; a module or
    a conftest overrides this fixture to give its tests the app with theirs."""
    return {}


@pytest.fixture
async def app(
    settings: Settings, crm: SqlCrm, clock: ManualClock, app_services: dict[str, Any]
) -> AsyncIterator[App]:
    session = RecordingSession()
    application = build_app(
        settings,
        session=session,
        clock=clock,
        notifier_factory=direct_notifier,
        crm=crm,
        **app_services,
    )
    yield application
    await application.bot.session.close()


@pytest.fixture
def harness(app: App) -> BotHarness:
    session = app.bot.session
    assert isinstance(session, RecordingSession)
    return BotHarness(app, session)
