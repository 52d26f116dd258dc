"""Data transfer objects of the knowledge base: chunks, search hits, answers, ingest summaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Audience = Literal["client", "staff"]
AnswerMode = Literal["extractive", "llm", "none"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A heading-bounded piece of one document, the unit that is indexed and cited."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    section_text: str
    audience: Audience
    language: str
    family: str
    group: str  # the id shared by all language versions of one document
    source: str
    version: str
    effective_date: str
    doc_hash: str
    position: int

    def embedding_text(self) -> str:
        """What the embedder sees: title and heading give a short passage its topic."""
        return f"{self.title}. {self.section}. {self.text}"

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata as chroma stores it."""
        data = asdict(self)
        del data["text"]
        del data["chunk_id"]
        return data

    @classmethod
    def from_store(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from what the store returns."""
        return cls(
            chunk_id=chunk_id,
            text=text,
            doc_id=str(meta["doc_id"]),
            title=str(meta["title"]),
            section=str(meta["section"]),
            section_text=str(meta["section_text"]),
            audience="staff" if meta["audience"] == "staff" else "client",
            language=str(meta["language"]),
            family=str(meta.get("family", "")),
            group=str(meta.get("group", meta["doc_id"])),
            source=str(meta.get("source", "")),
            version=str(meta.get("version", "")),
            effective_date=str(meta.get("effective_date", "")),
            doc_hash=str(meta.get("doc_hash", "")),
            position=int(meta.get("position", 0)),
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved chunk with the evidence behind its rank."""

    chunk: Chunk
    score: float  # fused RRF score
    dense_similarity: float | None = None  # cosine similarity, when the dense side found it
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where an answer comes from, with the full section so the bot can offer to show it."""

    doc_id: str
    title: str
    section: str
    section_text: str
    language: str
    score: float

    def to_dict(self, *, with_text: bool = False) -> dict[str, Any]:
        """JSON-ready form; the section text is optional as it can be long."""
        data = asdict(self)
        if not with_text:
            del data["section_text"]
        return data


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded reply to a question, with what the bot needs to route it."""

    text: str
    citations: list[Citation]
    confidence: float
    needs_manager: bool
    language: str
    mode: AnswerMode
    interest_family: str | None = None
    # The document group the interest points at (e.g. "alternative-assets"), for the manager.
    interest_topic: str | None = None
    manager_requested: bool = False
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the CLI and logs."""
        return {
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "confidence": round(self.confidence, 4),
            "needs_manager": self.needs_manager,
            "manager_requested": self.manager_requested,
            "interest_family": self.interest_family,
            "interest_topic": self.interest_topic,
            "language": self.language,
            "mode": self.mode,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


@dataclass(slots=True)
class IngestSummary:
    """What one ingest run changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    rebuilt: bool = False  # the collection was recreated for a different embedding model
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the index differs from before the run."""
        return bool(self.added or self.updated or self.removed)

    def describe(self) -> str:
        """One line for the CLI and logs."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, removed {len(self.removed)}; "
            f"chunks written {self.chunks_written}, total {self.chunks_total}"
            f"{' (rebuilt for a new embedding model)' if self.rebuilt else ''}"
            f" in {self.seconds:.2f}s"
        )
