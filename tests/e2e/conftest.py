"""End-to-end fixtures shared by several journeys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_app
from bot.notifier import direct_notifier
from common.clock import ManualClock
from common.settings import KnowledgeSettings, Settings
from crm_adapter.sql import SqlCrm
from knowledge.answers import KnowledgeBase
from tests.harness import BotHarness, RecordingSession
from tests.unit.knowledge.fakes import HashingEmbedder

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
