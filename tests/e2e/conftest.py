"""End-to-end fixtures shared by several journeys."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.max_standin import MaxStandIn
from bot.app import App, build_app
from bot.max.session import MaxTransport
from bot.notifier import direct_notifier
from common.clock import ManualClock
from common.settings import KnowledgeSettings, Settings
from crm_adapter.sql import SqlCrm
from knowledge.answers import KnowledgeBase
from tests.harness import BotHarness, RecordingSession
from tests.max_harness import MaxHarness
from tests.unit.knowledge.fakes import HashingEmbedder

MAX_TEST_TOKEN = "max-test-token"


async def console_script(
    database_url: str, var_dir: Path, script: str, *, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`concierge console --script` in a process of its own, as a person runs it."""
    path = var_dir / "session.txt"
    path.write_text(script, encoding="utf-8")
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CONCIERGE_VAR_DIR": str(var_dir),
        **env,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "console", "--script", str(path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "knowledge" / "docs"


def sample_knowledge(chroma_path: Path, collection: str) -> KnowledgeBase:
    """The sample documents indexed with the fast hashing embedder."""
    knowledge = KnowledgeBase(
        KnowledgeSettings(
            docs_path=SAMPLE_DOCS,
            chroma_path=chroma_path,
            embedding_model="fake",
            collection=collection,
        ),
        HashingEmbedder(),
    )
    knowledge.ingest()
    return knowledge


@pytest.fixture
async def asking(
    settings: Settings, crm: SqlCrm, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """The assistant with the sample documents indexed (a fast hashing embedder)."""
    knowledge = sample_knowledge(tmp_path / "kb", "e2e")
    session = RecordingSession()
    app = build_app(
        settings,
        session=session,
        clock=clock,
        notifier_factory=direct_notifier,
        crm=crm,
        knowledge=knowledge,
    )
    yield BotHarness(app, session)
    await session.close()


@pytest.fixture
async def max_api() -> AsyncIterator[MaxStandIn]:
    """MAX's Bot API stood in on loopback."""
    async with MaxStandIn(token=MAX_TEST_TOKEN) as api:
        yield api


@dataclass
class Channels:
    """One assistant in both messengers: Telegram recorded in-process, MAX over HTTP."""

    telegram: BotHarness
    max: MaxHarness

    @property
    def app(self) -> App:
        return self.telegram.app

    def of(self, messenger: str) -> BotHarness | MaxHarness:
        return self.telegram if messenger == "telegram" else self.max


async def _channels(
    settings: Settings, crm: SqlCrm, clock: ManualClock, api: MaxStandIn, **services: Any
) -> Channels:
    session = RecordingSession()
    app = build_app(
        settings,
        session=session,
        max_session=MaxTransport(MAX_TEST_TOKEN, api_url=api.base_url),
        clock=clock,
        notifier_factory=direct_notifier,
        crm=crm,
        **services,
    )
    return Channels(BotHarness(app, session), MaxHarness(app, api))


async def _close(channels: Channels) -> None:
    for bot in channels.app.messengers.values():
        await bot.session.close()


@pytest.fixture
async def channels(
    settings: Settings, crm: SqlCrm, clock: ManualClock, max_api: MaxStandIn
) -> AsyncIterator[Channels]:
    built = await _channels(settings, crm, clock, max_api)
    yield built
    await _close(built)


@pytest.fixture
async def asking_channels(
    settings: Settings, crm: SqlCrm, clock: ManualClock, max_api: MaxStandIn, tmp_path: Path
) -> AsyncIterator[Channels]:
    """Both messengers with the sample documents indexed."""
    knowledge = sample_knowledge(tmp_path / "kb", "channels")
    built = await _channels(settings, crm, clock, max_api, knowledge=knowledge)
    yield built
    await _close(built)
