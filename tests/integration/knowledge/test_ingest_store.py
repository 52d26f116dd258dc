"""Ingest against a real chroma: hash-based skip/update/delete, model change, permissions."""

from pathlib import Path

from bot.settings import KnowledgeSettings
from knowledge.answers import KnowledgeBase
from tests.unit.knowledge.fakes import HashingEmbedder


def test_unchanged_documents_are_skipped_changed_updated_removed_deleted(
    settings: KnowledgeSettings, docs: Path
) -> None:
    embedder = HashingEmbedder()
    kb = KnowledgeBase(settings, embedder)
    first = kb.ingest()
    assert len(first.added) == len(list(docs.glob("*.md")))
    assert first.chunks_total == first.chunks_written > 0

    calls = embedder.calls
    again = KnowledgeBase(settings, embedder).ingest()
    assert not again.changed and len(again.unchanged) == len(first.added)
    assert embedder.calls == calls  # nothing embedded for unchanged documents

    fx = docs / "fx.md"
    fx.write_text(fx.read_text(encoding="utf-8").replace("0,3 %", "0,25 %"), encoding="utf-8")
    (docs / "safe-box.md").unlink()
    third = kb.ingest()
    assert third.updated == ["fx"] and third.removed == ["safe-box"] and not third.added
    gone = kb.search("сейфовая ячейка", audience="staff")
    assert not any(h.chunk.doc_id == "safe-box" for h in gone)
    rate = kb.search("спред льготный курс обмена", audience="client", limit=1)[0]
    assert "0,25 %" in rate.chunk.section_text


def test_a_new_embedding_model_rebuilds_the_collection(settings: KnowledgeSettings) -> None:
    KnowledgeBase(settings, HashingEmbedder("model-a")).ingest()
    summary = KnowledgeBase(settings, HashingEmbedder("model-b")).ingest()
    assert summary.rebuilt
    assert not summary.unchanged and summary.added


def test_clients_never_see_staff_chunks_in_any_mode(kb: KnowledgeBase) -> None:
    question = "матрица эскалации красная кнопка дежурная служба backup-менеджер"
    for mode in ("bm25", "dense", "hybrid"):
        client_hits = kb.search(question, audience="client", limit=50, mode=mode)
        assert client_hits and all(h.chunk.audience == "client" for h in client_hits)
        staff_hits = kb.search(question, audience="staff", limit=3, mode=mode)
        assert staff_hits[0].chunk.doc_id == "staff-escalation-matrix"


def test_hybrid_finds_what_each_side_alone_ranks_lower(kb: KnowledgeBase) -> None:
    hits = kb.search("потерял карту за границей", audience="client", limit=3)
    assert hits[0].chunk.group == "card-lost-abroad"
    assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None
