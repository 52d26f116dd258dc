"""The chroma collection holding document chunks, their vectors and permission metadata."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from common.settings import KnowledgeSettings
from knowledge.embeddings import Embedder
from knowledge.models import Audience, Chunk

log = logging.getLogger(__name__)

_MODEL_KEY = "embedding_model"
# Changed by every ingest that wrote something, so other processes notice a re-ingest even
# when the number of chunks stayed the same (an edited paragraph).
_STAMP_KEY = "index_stamp"
_ADD_BATCH = 256


def audience_where(audience: Audience) -> dict[str, Any] | None:
    """Chroma filter for what an audience may read: clients only client documents."""
    # Staff read everything; the filter exists so a client query can never rank staff text.
    return {"audience": "client"} if audience == "client" else None


def _open_client(settings: KnowledgeSettings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies the collection's contents without reading them: two cheap calls."""

    collection_id: str
    stamp: str
    count: int


class ChunkStore:
    """One chroma collection per embedding space; vectors are always computed by us."""

    def __init__(
        self, settings: KnowledgeSettings, embedder: Embedder, *, client: Any = None
    ) -> None:
        self._embedder = embedder
        self._name = settings.collection
        self._client = client if client is not None else _open_client(settings)
        self.rebuilt = False
        # Set when the collection holds another model's vectors (see `_foreign_model`).
        self.model_mismatch: str | None = None
        # Cached: chroma answers count() with a round trip (a network one for a server), and
        # every query needs it. Our own writes and `fingerprint()` keep it current.
        self._count: int | None = None
        self._collection = self._open_collection()

    def _create(self) -> Any:
        # embedding_function=None: chroma's default would download a model at run time.
        return self._client.get_or_create_collection(
            self._name,
            metadata={_MODEL_KEY: self._embedder.name},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    def _open_collection(self) -> Any:
        collection = self._create()
        self.model_mismatch = self._foreign_model(collection)
        return collection

    def _foreign_model(self, collection: Any) -> str | None:
        """The other model whose vectors `collection` holds, or None when they are ours."""
        stored = (collection.metadata or {}).get(_MODEL_KEY)
        if stored == self._embedder.name:
            return None
        # Vectors of two models live in unrelated spaces: ranking ours against them is noise.
        # Only ingestion may rebuild (`rebuild_for_model`); a replica that merely reads must
        # never drop a collection that the other replicas are answering from.
        log.error(
            "collection %s holds vectors of %s, this process embeds with %s: dense search "
            "is off until `concierge ingest` rebuilds it with one model for every process",
            self._name,
            stored,
            self._embedder.name,
        )
        return str(stored)

    @property
    def dense_ready(self) -> bool:
        """Whether the stored vectors come from this process's embedder."""
        return self.model_mismatch is None

    def rebuild_for_model(self) -> bool:
        """For ingestion: drop a collection embedded by another model; True if it did."""
        if self.model_mismatch is None:
            return False
        log.warning(
            "embedding model changed from %s to %s: rebuilding %s",
            self.model_mismatch,
            self._embedder.name,
            self._name,
        )
        self._client.delete_collection(self._name)
        self._collection = self._create()
        self.model_mismatch = None
        self._count = None
        self.rebuilt = True
        return True

    @property
    def embedder(self) -> Embedder:
        """The embedder whose vectors this collection holds."""
        return self._embedder

    def document_hashes(self) -> dict[str, str]:
        """Content hash of every indexed document, by document id."""
        result = self._collection.get(include=["metadatas"])
        hashes: dict[str, str] = {}
        for meta in result["metadatas"] or []:
            hashes[str(meta["doc_id"])] = str(meta["doc_hash"])
        return hashes

    def fingerprint(self) -> Fingerprint:
        """The collection's identity, ingest stamp and size as chroma has them now.

        Another process (`concierge ingest`) may have rewritten the collection, even deleted
        and recreated it for a new model: the handle follows the collection by name.
        """
        import chromadb.errors

        try:
            current = self._client.get_collection(self._name, embedding_function=None)
        except chromadb.errors.NotFoundError:
            current = self._create()
        if current.id != self._collection.id:
            # Not ours to fix from a reader: the ingest that changed the model rebuilds it.
            self.model_mismatch = self._foreign_model(current)
            self._collection = current
        self._count = int(current.count())
        return Fingerprint(
            collection_id=str(current.id),
            stamp=str((current.metadata or {}).get(_STAMP_KEY, "")),
            count=self._count,
        )

    def stamp(self) -> str:
        """Mark the collection as changed for readers in other processes; the new stamp."""
        stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}-{uuid.uuid4().hex[:8]}"
        metadata = {**(self._collection.metadata or {}), _STAMP_KEY: stamp}
        self._collection.modify(metadata=metadata)
        return stamp

    def replace_document(self, doc_id: str, chunks: list[Chunk]) -> None:
        """Swap all chunks of one document for new ones."""
        self.delete_document(doc_id)
        self.add(chunks)

    def add(self, chunks: list[Chunk]) -> None:
        """Embed and store chunks."""
        for start in range(0, len(chunks), _ADD_BATCH):
            batch = chunks[start : start + _ADD_BATCH]
            vectors = self._embedder.embed_documents([c.embedding_text() for c in batch])
            self._collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors,
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )
            self._count = None

    def delete_document(self, doc_id: str) -> None:
        """Remove every chunk of one document."""
        self._collection.delete(where={"doc_id": doc_id})
        self._count = None

    def count(self) -> int:
        """Number of stored chunks, as of our last write or `fingerprint()`."""
        if self._count is None:
            self._count = int(self._collection.count())
        return self._count

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, for building the lexical index."""
        result = self._collection.get(include=["documents", "metadatas"])
        return list(_chunks(result["ids"], result["documents"], result["metadatas"]))

    def all_chunks_with_vectors(self) -> tuple[list[Chunk], Any]:
        """Every stored chunk and its vector (rows of an array, in the same order)."""
        result = self._collection.get(include=["documents", "metadatas", "embeddings"])
        chunks = list(_chunks(result["ids"], result["documents"], result["metadatas"]))
        return chunks, result["embeddings"]

    def nearest(
        self, embedding: list[float], *, audience: Audience, limit: int
    ) -> list[tuple[str, float]]:
        """Ids of the nearest chunks the audience may read, with cosine similarity.

        Ids only: a caller holding the chunks in memory (the retriever does, for BM25) saves
        chroma reading texts and metadata back, half the cost of a query on our corpus.
        """
        available = self.count()
        if available == 0:
            return []
        result = self._collection.query(
            query_embeddings=[embedding],
            n_results=min(limit, available),
            where=audience_where(audience),
            include=["distances"],
        )
        # Cosine distance in chroma is 1 - cosine similarity.
        return [
            (chunk_id, 1.0 - float(d))
            for chunk_id, d in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def chunks(self, ids: list[str]) -> list[Chunk]:
        """The stored chunks of these ids (those that exist), in no particular order."""
        if not ids:
            return []
        result = self._collection.get(ids=ids, include=["documents", "metadatas"])
        return list(_chunks(result["ids"], result["documents"], result["metadatas"]))


def _chunks(
    ids: Iterable[str], documents: Iterable[str] | None, metadatas: Iterable[Any] | None
) -> Iterable[Chunk]:
    for chunk_id, text, meta in zip(ids, documents or [], metadatas or [], strict=True):
        yield Chunk.from_store(chunk_id, text, dict(meta))
