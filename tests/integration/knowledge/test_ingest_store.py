"""Ingest against a real chroma: hash-based skip/update/delete, model change, permissions."""

from pathlib import Path

import pytest

from common.settings import KnowledgeSettings
from knowledge.answers import KnowledgeBase
from knowledge.retriever import HybridRetriever
from knowledge.store import Fingerprint
from tests.integration.knowledge.conftest import assert_clients_never_get_staff_chunks
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
    assert_clients_never_get_staff_chunks(kb)


def test_hybrid_finds_what_each_side_alone_ranks_lower(kb: KnowledgeBase) -> None:
    hits = kb.search("потерял карту за границей", audience="client", limit=3)
    assert hits[0].chunk.group == "card-lost-abroad"
    assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None


class CountingCollection:
    """A chroma collection that counts the calls to `count()` (a round trip on a server)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.counts = 0

    def count(self) -> int:
        self.counts += 1
        return int(self._inner.count())  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_queries_use_the_cached_count_which_writes_keep_current(kb: KnowledgeBase) -> None:
    store = kb.retriever.store
    spy = CountingCollection(store._collection)
    store._collection = spy
    total = store.count()
    for _ in range(5):
        assert kb.search("ставка по вкладу", audience="client", mode="dense")
    assert spy.counts == 0

    store.delete_document("safe-box")
    assert store.count() < total and spy.counts == 1


def test_the_index_is_checked_for_other_writers_at_most_every_interval(
    settings: KnowledgeSettings,
) -> None:
    now = [100.0]
    kb = KnowledgeBase(settings, HashingEmbedder())
    kb.ingest()
    retriever = HybridRetriever(kb.retriever.store, check_interval=10, monotonic=lambda: now[0])
    checks = 0
    fingerprint = kb.retriever.store.fingerprint

    def counting() -> Fingerprint:
        nonlocal checks
        checks += 1
        return fingerprint()

    kb.retriever.store.fingerprint = counting  # type: ignore[method-assign]
    retriever.refresh()
    assert checks == 1
    # Another writer syncs the index with the folder, which no longer has one document.
    (settings.docs_path / "safe-box.md").unlink()
    KnowledgeBase(settings, HashingEmbedder()).ingest()

    for _ in range(3):
        retriever.search("спред курс обмена", audience="client")
    assert checks == 1  # within the interval: no round trip at all
    now[0] += 10
    hits = retriever.search("сейфовая ячейка", audience="staff", mode="bm25")
    assert checks == 3  # one check, which saw the change and rebuilt (refresh reads again)
    assert not any(h.chunk.doc_id == "safe-box" for h in hits)


def test_dense_search_finds_chunks_written_since_the_last_reload(
    settings: KnowledgeSettings,
) -> None:
    """Above the in-memory limit Chroma ranks: it returns ids and the retriever maps them to
    the chunks it holds; one it does not hold yet (another process ingested it a moment ago)
    is read from the store."""
    kb = KnowledgeBase(settings, HashingEmbedder())
    kb.ingest()
    retriever = HybridRetriever(kb.retriever.store, check_interval=3600, exact_search_max_chunks=0)
    retriever.refresh()
    _another_process_adds_a_document(settings)

    hits = retriever.search("Аренда яхты в Монако на выходные", audience="client", mode="dense")
    assert hits[0].chunk.doc_id == "yacht-charter"
    assert "Монако" in hits[0].chunk.text
    assert all(h.chunk.audience == "client" for h in hits)


def test_a_search_checks_the_store_for_other_writers_once(settings: KnowledgeSettings) -> None:
    """With a check interval of 0 every search looks at the store, but once: a hybrid search
    runs both rankings, and each check is two requests to a Chroma server."""
    kb = KnowledgeBase(settings, HashingEmbedder())
    kb.ingest()
    store = kb.retriever.store
    retriever = HybridRetriever(store, check_interval=0)
    retriever.refresh()
    checks = 0
    fingerprint = store.fingerprint

    def counting() -> Fingerprint:
        nonlocal checks
        checks += 1
        return fingerprint()

    store.fingerprint = counting  # type: ignore[method-assign]
    for mode in ("hybrid", "bm25", "dense"):
        assert retriever.search("спред курс обмена", audience="client", mode=mode)  # type: ignore[arg-type]
    assert checks == 3


def test_ingesting_one_file_leaves_the_other_documents_indexed(
    settings: KnowledgeSettings, docs: Path
) -> None:
    kb = KnowledgeBase(settings, HashingEmbedder())
    everything = kb.ingest()
    fx = docs / "fx.md"
    fx.write_text(fx.read_text(encoding="utf-8").replace("0,3 %", "0,25 %"), encoding="utf-8")

    one = kb.ingest(fx)

    assert one.updated == ["fx"] and not one.removed
    assert one.chunks_total == everything.chunks_total
    assert kb.search("сейфовая ячейка", audience="staff", limit=1)[0].chunk.doc_id == "safe-box"


def test_a_reader_with_another_model_never_drops_the_shared_collection(
    settings: KnowledgeSettings,
) -> None:
    indexed = KnowledgeBase(settings, HashingEmbedder("model-a")).ingest()

    # A replica started with the wrong EMBEDDING_MODEL: it reads, it must not rebuild.
    reader = KnowledgeBase(settings, HashingEmbedder("model-b"))
    hits = reader.search("сейфовая ячейка", audience="staff", limit=3)

    assert hits and all(h.dense_rank is None for h in hits)  # lexical only, no foreign vectors
    again = KnowledgeBase(settings, HashingEmbedder("model-a")).ingest()
    assert not again.rebuilt and not again.changed
    assert len(again.unchanged) == len(indexed.added)


def test_a_reader_uses_dense_search_again_once_ingestion_rebuilt_for_its_model(
    settings: KnowledgeSettings,
) -> None:
    KnowledgeBase(settings, HashingEmbedder("model-a")).ingest()
    reader = KnowledgeBase(
        settings.model_copy(update={"index_check_seconds": 0}), HashingEmbedder("model-b")
    )
    assert not reader.search("сейфовая ячейка", audience="staff", limit=3)[0].dense_rank

    rebuilt = KnowledgeBase(settings, HashingEmbedder("model-b")).ingest()

    assert rebuilt.rebuilt
    hits = reader.search("сейфовая ячейка", audience="staff", limit=3)
    assert any(h.dense_rank is not None for h in hits)


def test_in_memory_ranking_matches_chromas_and_catches_up_with_other_writers(
    settings: KnowledgeSettings,
) -> None:
    kb = KnowledgeBase(settings, HashingEmbedder())
    kb.ingest()
    store = kb.retriever.store
    now = [0.0]
    exact = HybridRetriever(store, check_interval=10, monotonic=lambda: now[0])
    chroma = HybridRetriever(store, check_interval=10, exact_search_max_chunks=0)
    for question in ("курс обмена валют", "потеряна карта за границей", "VIP lounge airport"):
        for audience in ("client", "staff"):
            mine = exact.search(question, audience=audience, limit=8, mode="dense")  # type: ignore[arg-type]
            theirs = chroma.search(question, audience=audience, limit=8, mode="dense")  # type: ignore[arg-type]
            assert [h.chunk.chunk_id for h in mine] == [h.chunk.chunk_id for h in theirs]
            assert [h.dense_similarity for h in mine] == pytest.approx(
                [h.dense_similarity for h in theirs], abs=1e-5
            )

    _another_process_adds_a_document(settings)
    question = "Аренда яхты в Монако на выходные"
    # Both rankings see one snapshot: the new chunk arrives with the next check, not before.
    assert exact.search(question, audience="client", mode="dense")[0].chunk.doc_id != (
        "yacht-charter"
    )
    now[0] += 10
    assert exact.search(question, audience="client", mode="dense")[0].chunk.doc_id == (
        "yacht-charter"
    )


def test_every_hybrid_hit_carries_its_similarity_to_the_question(kb: KnowledgeBase) -> None:
    """BM25-only hits get theirs from the vectors in memory: the answer's confidence needs it
    and no longer embeds the question and the passage a second time."""
    question = "потеряна карта за границей"
    embedder = kb.retriever.store.embedder
    query = embedder.embed_query(question)
    # Few candidates a side, so that some of the fused hits were ranked by BM25 alone.
    retriever = HybridRetriever(kb.retriever.store, candidates=3)
    hits = retriever.search(question, audience="staff", limit=6)
    assert any(h.dense_rank is None for h in hits)
    for hit in hits:
        passage = embedder.embed_documents([hit.chunk.embedding_text()])[0]
        expected = sum(a * b for a, b in zip(query, passage, strict=True))
        assert hit.dense_similarity == pytest.approx(expected, abs=1e-4)


def test_an_empty_index_answers_every_mode_with_nothing(settings: KnowledgeSettings) -> None:
    # Regression: the in-memory ranking of an empty collection failed on the vector shapes.
    kb = KnowledgeBase(settings, HashingEmbedder())
    assert kb.is_empty()
    for mode in ("hybrid", "bm25", "dense"):
        assert kb.search("курс обмена", audience="client", mode=mode) == []  # type: ignore[arg-type]
    assert kb.answer("курс обмена", audience="client").needs_manager


def _another_process_adds_a_document(settings: KnowledgeSettings) -> None:
    """A new client document (`yacht-charter`) ingested by a knowledge base of its own."""
    (settings.docs_path / "yacht.md").write_text(
        "---\nid: yacht-charter\ntitle: Аренда яхты\naudience: client\nlanguage: ru\n"
        'version: "1"\neffective_date: 2026-11-01\n---\n## Условия\n'
        "Аренда яхты в Монако на выходные для клиентов Private.\n",
        encoding="utf-8",
    )
    KnowledgeBase(settings, HashingEmbedder()).ingest()
