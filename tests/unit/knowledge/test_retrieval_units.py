"""BM25 ranking and permissions, and reciprocal rank fusion."""

from knowledge.models import Chunk, SearchHit
from knowledge.retriever import Bm25Index, fuse


def _chunk(doc_id: str, text: str, audience: str = "client") -> Chunk:
    return Chunk(
        chunk_id=f"{doc_id}::000",
        doc_id=doc_id,
        title=doc_id,
        section="s",
        text=text,
        section_text=text,
        audience="staff" if audience == "staff" else "client",
        language="ru",
        family="",
        group=doc_id,
        source="",
        version="",
        effective_date="",
        doc_hash="",
        position=0,
    )


CHUNKS = [
    _chunk("deposits", "Ставки по вкладам: вклад на год под 15 процентов."),
    _chunk("cards", "Кэшбэк по карте два процента."),
    _chunk("escalation", "Эскалация вклада и запроса дежурной службе через 10 минут.", "staff"),
]


def test_bm25_ranks_by_stemmed_terms_and_tolerates_typos() -> None:
    index = Bm25Index(CHUNKS)
    ranked = index.search("ставка по вкладу", audience="client", limit=3)
    assert CHUNKS[ranked[0][0]].doc_id == "deposits"
    typo = index.search("кешбэк по картe", audience="client", limit=1)
    assert CHUNKS[typo[0][0]].doc_id == "cards"


def test_bm25_never_returns_staff_chunks_to_clients() -> None:
    index = Bm25Index(CHUNKS)
    client = index.search("эскалация дежурной службе", audience="client", limit=5)
    assert all(CHUNKS[i].audience == "client" for i, _ in client)
    staff = index.search("эскалация дежурной службе", audience="staff", limit=5)
    assert CHUNKS[staff[0][0]].doc_id == "escalation"


def test_fusion_rewards_agreement_and_merges_evidence() -> None:
    a, b, c = (_chunk(x, x) for x in ("a", "b", "c"))
    lexical = [
        SearchHit(a, 9.0, bm25_score=9.0, bm25_rank=1),
        SearchHit(b, 5.0, bm25_score=5.0, bm25_rank=2),
    ]
    semantic = [
        SearchHit(c, 0.9, dense_similarity=0.9, dense_rank=1),
        SearchHit(b, 0.8, dense_similarity=0.8, dense_rank=2),
    ]
    fused = fuse(lexical, semantic, k=60)
    assert [h.chunk.doc_id for h in fused][0] == "b"  # second on both sides beats first on one
    top = fused[0]
    assert (top.bm25_rank, top.dense_rank, top.dense_similarity) == (2, 2, 0.8)
    assert top.score == 2 / 62
