"""Hybrid retrieval: our own BM25 over stemmed terms fused with dense search by reciprocal rank."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.models import Audience, Chunk, SearchHit
from knowledge.store import ChunkStore, Fingerprint
from knowledge.text import terms

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "bm25", "dense"]


def visible_to(chunk: Chunk, audience: Audience) -> bool:
    """Whether an audience may read a chunk: staff read all, clients only client documents."""
    return audience == "staff" or chunk.audience == "client"


@dataclass(frozen=True, slots=True)
class _Posting:
    index: int
    tf: int


class Bm25Index:
    """Okapi BM25 over Snowball-stemmed terms, with typo-tolerant lookup of unknown terms."""

    def __init__(self, chunks: Sequence[Chunk], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.chunks = list(chunks)
        self.by_id = {chunk.chunk_id: chunk for chunk in self.chunks}
        self._k1 = k1
        self._b = b
        self._postings: dict[str, list[_Posting]] = defaultdict(list)
        self._lengths: list[int] = []
        for i, chunk in enumerate(self.chunks):
            # Title and heading are part of the field: short sections often lack their topic word.
            counts = Counter(terms(f"{chunk.title} {chunk.section} {chunk.text}"))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self._postings[term].append(_Posting(i, tf))
        self._avg_len = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        self._vocabulary = list(self._postings)
        self._fuzzy_cache: dict[str, str | None] = {}

    def _idf(self, term: str) -> float:
        df = len(self._postings.get(term, ()))
        n = len(self.chunks)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _resolve(self, term: str) -> str | None:
        """The indexed term a query term stands for; near spellings catch typos."""
        if term in self._postings:
            return term
        if len(term) < 5:
            return None
        if term not in self._fuzzy_cache:
            match = process.extractOne(term, self._vocabulary, scorer=fuzz.ratio, score_cutoff=80)
            self._fuzzy_cache[term] = match[0] if match else None
        return self._fuzzy_cache[term]

    def search(self, query: str, *, audience: Audience, limit: int) -> list[tuple[int, float]]:
        """Best (chunk index, score) pairs the audience may read."""
        scores: dict[int, float] = defaultdict(float)
        for raw in set(terms(query)):
            term = self._resolve(raw)
            if term is None:
                continue
            idf = self._idf(term)
            for posting in self._postings[term]:
                length_norm = 1 - self._b + self._b * self._lengths[posting.index] / self._avg_len
                tf = posting.tf
                scores[posting.index] += idf * tf * (self._k1 + 1) / (tf + self._k1 * length_norm)
        ranked = sorted(
            ((i, s) for i, s in scores.items() if visible_to(self.chunks[i], audience)),
            key=lambda item: (-item[1], item[0]),
        )
        return ranked[:limit]


class DenseIndex:
    """Every chunk's vector in memory, ranked exactly by cosine similarity.

    Chroma stays the store every process shares; asking it for the nearest chunks costs its
    client and query planning, not the arithmetic, so a matrix-vector product over the same
    vectors is an order of magnitude faster and exact (`python -m bench.retrieval` prints
    both side by side and how often their top ten agree). Memory is about 2 KB a chunk,
    which is why the retriever uses this only up to `exact_search_max_chunks`.
    """

    def __init__(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        matrix = (
            np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1)
            if len(chunks)
            else np.zeros((0, 1), dtype=np.float32)
        )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # Unit rows, so a dot product is the cosine (our embedders normalise, others may not).
        self._matrix = matrix / np.where(norms == 0, 1.0, norms)
        self._chunks = list(chunks)
        self._row = {chunk.chunk_id: row for row, chunk in enumerate(self._chunks)}
        self._client = np.fromiter(
            (chunk.audience == "client" for chunk in self._chunks), dtype=bool, count=len(chunks)
        )

    def similarities(self, vector: Sequence[float]) -> Any:
        """Cosine similarity of the query to every chunk, by row."""
        if not self._chunks:  # nothing indexed yet: no vectors to compare with
            return np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        return self._matrix @ (query / norm if norm else query)

    def similarity(self, similarities: Any, chunk: Chunk) -> float | None:
        row = self._row.get(chunk.chunk_id)
        return float(similarities[row]) if row is not None else None

    def nearest(
        self, similarities: Any, *, audience: Audience, limit: int
    ) -> list[tuple[Chunk, float]]:
        """The `limit` most similar chunks the audience may read, best first."""
        visible = (
            similarities if audience == "staff" else np.where(self._client, similarities, -np.inf)
        )
        count = min(limit, len(self._chunks))
        if count <= 0:
            return []
        top = np.argpartition(-visible, count - 1)[:count]
        # Ties broken by row, so a ranking never depends on argpartition's internals.
        top = top[np.lexsort((top, -visible[top]))]
        return [(self._chunks[i], float(visible[i])) for i in top if np.isfinite(visible[i])]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What one refresh loaded: both rankings always see the same chunks."""

    bm25: Bm25Index
    dense: DenseIndex | None


class HybridRetriever:
    """Ranks chunks by BM25, by embeddings, or by both fused with reciprocal rank fusion."""

    def __init__(
        self,
        store: ChunkStore,
        *,
        rrf_k: int = 10,
        candidates: int = 30,
        dense_weight: float = 1.0,
        bm25_weight: float = 1.0,
        check_interval: float = 5.0,
        exact_search_max_chunks: int = 20_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        # k=10 rather than the textbook 60: with ~130 chunks only the first few ranks matter,
        # and a small k lets a clear first place on one side outweigh noise (bench/retrieval).
        self._rrf_k = rrf_k
        self._candidates = candidates
        self._dense_weight = dense_weight
        self._bm25_weight = bm25_weight
        self._snapshot: _Snapshot | None = None
        self._exact_max = exact_search_max_chunks
        self._lock = threading.Lock()
        # Another process may re-ingest into a shared Chroma server; the lexical index is
        # built from the chunks, so it is checked against the store's fingerprint at most
        # every `check_interval` seconds (0: before every search).
        self._check_interval = check_interval
        self._monotonic = monotonic
        self._checking = threading.Lock()
        self._seen: Fingerprint | None = None
        self._checked_at = float("-inf")

    def refresh(self) -> None:
        """Reload the chunks (and, for exact dense ranking, their vectors) from the store."""
        # Fingerprint first: a write landing between the two calls then shows up as a
        # change on the next check instead of being missed.
        seen = self._store.fingerprint()
        dense: DenseIndex | None = None
        if self._store.dense_ready and seen.count <= self._exact_max:
            chunks, vectors = self._store.all_chunks_with_vectors()
            dense = DenseIndex(chunks, vectors)
        else:
            chunks = self._store.all_chunks()
        snapshot = _Snapshot(Bm25Index(chunks), dense)
        with self._lock:
            self._snapshot = snapshot
            self._seen = seen
            self._checked_at = self._monotonic()

    def ensure_fresh(self) -> bool:
        """Rebuild the lexical index if the store changed under us; True when it did.

        Cheap between checks (a clock read). Concurrent searches never wait for a check: the
        one that takes it does the work, the others use the index they have.
        """
        if self._monotonic() - self._checked_at < self._check_interval:
            return False
        if not self._checking.acquire(blocking=False):
            return False
        try:
            if self._monotonic() - self._checked_at < self._check_interval:
                return False
            self._checked_at = self._monotonic()
            if self._snapshot is None:
                self.refresh()
                return True
            if self._store.fingerprint() == self._seen:
                return False
            log.info("document index changed by another process: reloading it")
            self.refresh()
            return True
        finally:
            self._checking.release()

    def _current(self) -> _Snapshot:
        if self._snapshot is None:
            self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def _index(self) -> Bm25Index:
        return self._current().bm25

    @property
    def store(self) -> ChunkStore:
        return self._store

    def chunks(self) -> list[Chunk]:
        """Every chunk as of the last reload."""
        return self._index().chunks

    def translations(self, chunk: Chunk, language: str, *, audience: Audience) -> list[Chunk]:
        """Chunks of the other-language versions of `chunk`'s document, in section order."""
        return sorted(
            (
                c
                for c in self._index().chunks
                if c.group == chunk.group and c.language == language and visible_to(c, audience)
            ),
            key=lambda c: c.position,
        )

    # The two rankings below are only reached through `search`, which checks the index for
    # other writers once: with a check interval of 0 each check is two requests to Chroma.
    def _lexical(self, query: str, *, audience: Audience, limit: int) -> list[SearchHit]:
        """Lexical ranking only."""
        index = self._index()
        return [
            SearchHit(chunk=index.chunks[i], score=s, bm25_score=s, bm25_rank=rank)
            for rank, (i, s) in enumerate(index.search(query, audience=audience, limit=limit), 1)
        ]

    def _semantic(
        self, query: str, *, audience: Audience, limit: int, snapshot: _Snapshot
    ) -> tuple[list[SearchHit], Any]:
        """Embedding ranking only (none while the store holds another model's vectors), and
        the similarity of every chunk when they were ranked in memory."""
        if not self._store.dense_ready:
            return [], None
        vector = self._store.embedder.embed_query(query)
        return self._rank(vector, audience=audience, limit=limit, snapshot=snapshot)

    def rank_dense(
        self, vector: list[float], *, audience: Audience, limit: int
    ) -> list[SearchHit]:
        """The dense ranking of an embedded query (for benchmarks: no embedding inside)."""
        return self._rank(vector, audience=audience, limit=limit, snapshot=self._current())[0]

    def _rank(
        self, vector: list[float], *, audience: Audience, limit: int, snapshot: _Snapshot
    ) -> tuple[list[SearchHit], Any]:
        if snapshot.dense is not None:
            similarities = snapshot.dense.similarities(vector)
            found = snapshot.dense.nearest(similarities, audience=audience, limit=limit)
        else:
            similarities = None
            found = self._nearest_in_store(vector, audience=audience, limit=limit)
        hits = [
            SearchHit(chunk=chunk, score=sim, dense_similarity=sim, dense_rank=rank)
            for rank, (chunk, sim) in enumerate(found, 1)
            # Defence in depth: both rankings filter already, this guards a store bug.
            if visible_to(chunk, audience)
        ]
        return hits, similarities

    def _nearest_in_store(
        self, vector: list[float], *, audience: Audience, limit: int
    ) -> list[tuple[Chunk, float]]:
        """Chroma's approximate ranking, for a collection too large to hold in memory."""
        nearest = self._store.nearest(vector, audience=audience, limit=limit)
        by_id = self._index().by_id
        missing = [chunk_id for chunk_id, _ in nearest if chunk_id not in by_id]
        if missing:
            # Written by a re-ingest after our last refresh: read those from the store.
            by_id = {**by_id, **{c.chunk_id: c for c in self._store.chunks(missing)}}
        return [(by_id[i], sim) for i, sim in nearest if i in by_id]

    def search(
        self, query: str, *, audience: Audience, limit: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        """The best `limit` chunks the audience may read."""
        self.ensure_fresh()
        snapshot = self._current()
        if mode == "bm25":
            return self._lexical(query, audience=audience, limit=limit)
        if mode == "dense":
            return self._semantic(query, audience=audience, limit=limit, snapshot=snapshot)[0]
        lexical = self._lexical(query, audience=audience, limit=self._candidates)
        semantic, similarities = self._semantic(
            query, audience=audience, limit=self._candidates, snapshot=snapshot
        )
        fused = fuse(
            lexical,
            semantic,
            k=self._rrf_k,
            bm25_weight=self._bm25_weight,
            dense_weight=self._dense_weight,
        )[:limit]
        if snapshot.dense is None or similarities is None:
            return fused
        # A hit only BM25 ranked still has a known similarity: the answer's confidence needs
        # it, and computing it here spares embedding the query and the passage again.
        dense = snapshot.dense
        return [
            hit
            if hit.dense_similarity is not None
            else replace(hit, dense_similarity=dense.similarity(similarities, hit.chunk))
            for hit in fused
        ]


def fuse(
    lexical: Sequence[SearchHit],
    semantic: Sequence[SearchHit],
    *,
    k: int = 60,
    bm25_weight: float = 1.0,
    dense_weight: float = 1.0,
) -> list[SearchHit]:
    """Reciprocal rank fusion: a chunk ranked well by either side rises, by both rises most."""
    merged: dict[str, SearchHit] = {}
    scores: dict[str, float] = defaultdict(float)
    for weight, hits in ((bm25_weight, lexical), (dense_weight, semantic)):
        for rank, hit in enumerate(hits, 1):
            key = hit.chunk.chunk_id
            scores[key] += weight / (k + rank)
            known = merged.get(key)
            if known is None:
                merged[key] = hit
            else:
                merged[key] = replace(
                    known,
                    dense_similarity=known.dense_similarity
                    if known.dense_similarity is not None
                    else hit.dense_similarity,
                    dense_rank=known.dense_rank or hit.dense_rank,
                    bm25_score=known.bm25_score
                    if known.bm25_score is not None
                    else hit.bm25_score,
                    bm25_rank=known.bm25_rank or hit.bm25_rank,
                )
    ranked = sorted(merged, key=lambda key: (-scores[key], key))
    return [replace(merged[key], score=scores[key]) for key in ranked]
