"""A knowledge base over the sample documents in a temporary chroma, with the fake embedder."""

import os
import shutil
from pathlib import Path

import pytest

from bot.settings import KnowledgeSettings
from knowledge.answers import KnowledgeBase
from tests.unit.knowledge.fakes import HashingEmbedder

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE_DOCS = Path(__file__).resolve().parents[3] / "knowledge" / "docs"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of the sample documents, free to edit."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, docs: Path) -> KnowledgeSettings:
    return KnowledgeSettings(
        docs_path=docs,
        chroma_path=tmp_path / "chroma",
        embedding_model="fake",
        collection="test_documents",
    )


@pytest.fixture
def kb(settings: KnowledgeSettings) -> KnowledgeBase:
    knowledge = KnowledgeBase(settings, HashingEmbedder())
    knowledge.ingest()
    return knowledge
