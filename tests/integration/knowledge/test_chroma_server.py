"""The production path against a real Chroma server (`chroma run`, started once per session).

`concierge ingest` writes through CHROMA_URL; a bot replica built from the same settings in
another client answers from the server, keeps staff documents from clients, and notices a
re-ingest by another process without a restart.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import chromadb
import pytest
import typer
from chromadb.config import Settings as ChromaSettings
from typer.testing import CliRunner

from cli import knowledge as knowledge_cli
from common.settings import KnowledgeSettings, Settings, get_settings
from knowledge import answers
from knowledge.answers import KnowledgeBase
from tests.integration.knowledge.conftest import (
    assert_clients_never_get_staff_chunks,
    copy_documents,
)
from tests.unit.knowledge.fakes import HashingEmbedder

# Enough for every question below, with neighbours in both languages and both audiences.
DOCUMENTS = [
    "card-lost-abroad.md",
    "card-lost-abroad-en.md",
    "deposits.md",
    "emergency-cash.md",
    "fx.md",
    "premium-cards.md",
    "premium-cards-en.md",
    "safe-box.md",
    "staff-escalation-matrix.md",
    "staff-kyc-aml.md",
    "urgent-transfer.md",
]

NEW_DOCUMENT = """---
id: yacht-charter
title: Аренда яхты
audience: client
language: ru
---
# Аренда яхты

## Как заказать

Клиенты private banking могут заказать аренду яхты в Монако через консьерж-службу банка.
Заявку на яхту принимают за четырнадцать дней до выхода в море.
"""


@pytest.fixture(autouse=True)
def _no_default_embedding_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedder would download a model: any call to it fails the test."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    def refuse(self: object, input: object) -> None:  # noqa: A002 - chroma's parameter name
        raise AssertionError("chroma's default embedding function was used")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return copy_documents(tmp_path / "docs", DOCUMENTS)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def env(
    chroma_server: str,
    docs: Path,
    command_env: str,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The process environment of a production deployment; settings are read from it."""
    monkeypatch.setenv("CHROMA_URL", chroma_server)
    # A collection of this test alone: the server lives for the whole session.
    monkeypatch.setenv("KNOWLEDGE_COLLECTION", f"docs-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("KNOWLEDGE_DOCS_PATH", str(docs))
    monkeypatch.setenv("KNOWLEDGE_INDEX_CHECK_SECONDS", "0")
    monkeypatch.setenv("EMBEDDING_MODEL", embedder.name)
    # Both "processes" embed with the fake model; the wiring around it is the real one.
    monkeypatch.setattr(answers, "make_embedder", lambda name: embedder)
    return get_settings()


def _cli() -> typer.Typer:
    application = typer.Typer()
    knowledge_cli.register(application)
    return application


def _server_collection(settings: KnowledgeSettings) -> Any:
    """The collection as a third party sees it, through its own client."""
    assert settings.chroma_url is not None
    port = int(settings.chroma_url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection(settings.collection, embedding_function=None)


def test_ingest_writes_to_the_server_and_a_replica_answers_with_citations(
    env: Settings, docs: Path
) -> None:
    result = CliRunner().invoke(_cli(), ["ingest", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"added {len(list(docs.glob('*.md')))}, updated 0" in result.output

    collection = _server_collection(env.knowledge)
    assert collection.count() > 0
    assert collection.metadata["embedding_model"] == "fake-hashing"
    assert collection.metadata["index_stamp"]

    replica = KnowledgeBase.from_settings(env)
    client_settings = replica.retriever._store._client.get_settings()
    assert client_settings.chroma_api_impl == "chromadb.api.fastapi.FastAPI"  # the HTTP client
    assert client_settings.anonymized_telemetry is False
    answer = replica.answer(
        "что делать, если украли карту за границей?", audience="client", language="ru"
    )
    assert answer.citations and answer.citations[0].doc_id == "card-lost-abroad"
    assert "+7 495 700-10-10" in answer.citations[0].section_text
    assert not answer.needs_manager


def test_clients_never_get_staff_chunks_from_the_server(env: Settings) -> None:
    KnowledgeBase.from_settings(env).ingest()
    assert_clients_never_get_staff_chunks(KnowledgeBase.from_settings(env))


def test_reingesting_unchanged_documents_writes_nothing(
    env: Settings, embedder: HashingEmbedder
) -> None:
    first = KnowledgeBase.from_settings(env).ingest()
    stamp = _server_collection(env.knowledge).metadata["index_stamp"]
    calls = embedder.calls

    again = KnowledgeBase.from_settings(env).ingest()
    assert not again.changed and len(again.unchanged) == len(first.added)
    assert again.chunks_total == first.chunks_total
    assert embedder.calls == calls
    # No stamp either: running replicas have nothing to reload.
    assert _server_collection(env.knowledge).metadata["index_stamp"] == stamp


def test_a_running_replica_picks_up_another_process_s_ingest(env: Settings, docs: Path) -> None:
    KnowledgeBase.from_settings(env).ingest()
    replica = KnowledgeBase.from_settings(env)
    replica.warm_up()
    question = "как заказать аренду яхты в Монако"
    before = replica.search(question, audience="client", limit=3)
    assert all(h.chunk.doc_id != "yacht-charter" for h in before)

    (docs / "yacht-charter.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    summary = KnowledgeBase.from_settings(env).ingest()  # another process, another client
    assert summary.added == ["yacht-charter"]

    for mode in ("bm25", "dense"):
        top = replica.search(question, audience="client", limit=1, mode=mode)
        assert top[0].chunk.doc_id == "yacht-charter", mode
    answer = replica.answer(question, audience="client", language="ru")
    assert answer.citations[0].doc_id == "yacht-charter"
    assert "четырнадцать дней" in answer.citations[0].section_text


def test_a_document_edited_in_place_is_reloaded_though_the_count_is_the_same(
    env: Settings, docs: Path
) -> None:
    first = KnowledgeBase.from_settings(env).ingest()
    replica = KnowledgeBase.from_settings(env)
    replica.warm_up()
    fx = docs / "fx.md"
    fx.write_text(fx.read_text(encoding="utf-8").replace("0,3 %", "0,25 %"), encoding="utf-8")
    summary = KnowledgeBase.from_settings(env).ingest()
    assert summary.updated == ["fx"] and summary.chunks_total == first.chunks_total

    hit = replica.search("спред льготный курс обмена", audience="client", limit=1, mode="bm25")
    assert "0,25 %" in hit[0].chunk.section_text
