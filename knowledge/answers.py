"""The knowledge base use case: question in, short grounded answer with citations out."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from common.settings import KnowledgeSettings
from knowledge.embeddings import NANO_E5, USE_MULTILINGUAL, Embedder, make_embedder
from knowledge.ingest import ingest_path
from knowledge.intents import asks_for_manager, interest_family
from knowledge.llm import LlmAnswerer, make_chat_model
from knowledge.models import (
    Answer,
    AnswerMode,
    Audience,
    Chunk,
    Citation,
    IngestSummary,
    SearchHit,
)
from knowledge.retriever import HybridRetriever, SearchMode
from knowledge.store import ChunkStore
from knowledge.text import detect_language, split_sentences, terms

if TYPE_CHECKING:
    from common.settings import Settings

AnswerLanguage = Literal["ru", "en"]

# Cosine similarities mean different things per model: these map "unrelated" to 0 and
# "clearly on topic" to 1, measured on the eval set and off-topic questions (see README).
_SIMILARITY_RANGE: dict[str, tuple[float, float]] = {
    USE_MULTILINGUAL: (0.12, 0.5),
    NANO_E5: (0.78, 0.9),
}
_DEFAULT_SIMILARITY_RANGE = (0.2, 0.7)
_MAX_ANSWER_SENTENCES = 3
_MAX_ANSWER_CHARS = 600
_CANDIDATES = 30

# Shown when no passage is good enough; the bot renders its own message from needs_manager,
# these keep the CLI and logs readable.
_NO_ANSWER = {
    "ru": "Точного ответа в документах банка я не нашёл — передаю вопрос вашему менеджеру.",
    "en": "I could not find a reliable answer in the bank's documents, so I am passing your "
    "question to your personal manager.",
}
_MANAGER = {
    "ru": "Передаю ваш запрос персональному менеджеру — он свяжется с вами.",
    "en": "I am passing your request to your personal manager, who will contact you.",
}


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def condense(text: str, question: str, *, max_sentences: int = _MAX_ANSWER_SENTENCES) -> str:
    """The few sentences of a passage that share most terms with the question, in order."""
    sentences = split_sentences(text)
    if not sentences:
        return text.strip()
    wanted = set(terms(question))
    scored = []
    for position, sentence in enumerate(sentences):
        overlap = len(wanted & set(terms(sentence)))
        # Earlier sentences usually state the rule; later ones its details.
        scored.append((overlap - 0.01 * position, position))
    best = sorted(scored, reverse=True)[:max_sentences]
    if best[0][0] <= 0:
        chosen = list(range(min(max_sentences, len(sentences))))
    else:
        chosen = sorted(p for score, p in best if score > 0)
    picked: list[str] = []
    length = 0
    for p in chosen:
        if picked and length + len(sentences[p]) > _MAX_ANSWER_CHARS:
            break
        picked.append(sentences[p])
        length += len(sentences[p])
    return " ".join(s if s.endswith((".", "!", "?", ":", "…")) else f"{s}." for s in picked)


class KnowledgeBase:
    """Indexes the bank's documents and answers questions from them for clients and staff.

    Methods are synchronous and CPU-bound; coroutines `aingest`/`aanswer` run them in a thread
    so the bot's event loop stays responsive.
    """

    def __init__(
        self,
        settings: KnowledgeSettings,
        embedder: Embedder,
        *,
        llm: LlmAnswerer | None = None,
        store: ChunkStore | None = None,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._store = store if store is not None else ChunkStore(settings, embedder)
        self._retriever = HybridRetriever(
            self._store,
            candidates=_CANDIDATES,
            check_interval=settings.index_check_seconds,
            exact_search_max_chunks=settings.exact_search_max_chunks,
        )
        self._llm = llm
        self._write_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> KnowledgeBase:
        """The production wiring: embedder by name or path, LLM only when an endpoint is set."""
        embedder = make_embedder(settings.knowledge.embedding_model)
        chat_model = make_chat_model(settings.llm)
        llm = LlmAnswerer(chat_model) if chat_model is not None else None
        return cls(settings.knowledge, embedder, llm=llm)

    def full_section(
        self, doc_ref: str, section_key: str, *, audience: Audience
    ) -> Citation | None:
        """The whole section behind a citation (`document_ref` and `section_key_of` of it), if
        the audience may read it."""
        # The chunks held for search, not a read of the whole collection per button press.
        self._retriever.ensure_fresh()
        for chunk in self._retriever.chunks():
            if (
                document_ref(chunk.doc_id) == doc_ref
                and section_key_of(chunk.section) == section_key
                and (audience == "staff" or chunk.audience == "client")
            ):
                return _citation(chunk, 1.0)  # asked for by reference, not ranked
        return None

    def is_empty(self) -> bool:
        """Whether nothing is indexed yet (or the index was dropped for a new model)."""
        # The count is cached; the check refreshes it when another process re-ingested.
        self._retriever.ensure_fresh()
        return self._store.count() == 0

    @property
    def retriever(self) -> HybridRetriever:
        """The retriever, for benchmarks and diagnostics."""
        return self._retriever

    def ingest(
        self,
        path: Path | None = None,
        *,
        progress: bool = False,
        stop: threading.Event | None = None,
    ) -> IngestSummary:
        """Sync the index with the documents at `path` (default: settings.docs_path).

        This guards against a second ingest in this process only; across processes use
        `knowledge.ingest_lock.ingest_exclusively`, which sets `stop` if its lock is lost.
        """
        with self._write_lock:
            try:
                return ingest_path(
                    self._store, path or self._settings.docs_path, progress=progress, stop=stop
                )
            finally:
                self._retriever.refresh()

    async def aingest(
        self,
        path: Path | None = None,
        *,
        progress: bool = False,
        stop: threading.Event | None = None,
    ) -> IngestSummary:
        """`ingest` off the event loop."""
        return await asyncio.to_thread(self.ingest, path, progress=progress, stop=stop)

    def warm_up(self) -> None:
        """Load the model and the lexical index now rather than on the first question."""
        self._retriever.refresh()
        self._embedder.embed_query("warm-up")

    def search(
        self, question: str, *, audience: Audience, limit: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        """Ranked chunks the audience may read."""
        return self._retriever.search(question, audience=audience, limit=limit, mode=mode)

    def answer(
        self,
        question: str,
        *,
        audience: Audience,
        language: AnswerLanguage | None = None,
        names: Sequence[str] = (),
    ) -> Answer:
        """A short answer with citations; `names` are masked before any LLM call."""
        lang: AnswerLanguage = language or detect_language(question)
        manager_requested = asks_for_manager(question)
        hits = self._retriever.search(question, audience=audience, limit=_CANDIDATES)
        if not hits:
            return Answer(
                text=_MANAGER[lang] if manager_requested else _NO_ANSWER[lang],
                citations=[],
                confidence=0.0,
                needs_manager=True,
                manager_requested=manager_requested,
                language=lang,
                mode="none",
                interest_family=interest_family(question),
            )
        primary = _prefer_language(hits, lang, self._retriever, audience)
        supporting = _supporting(hits, primary, lang)
        scores = self._scores(question, primary)
        confidence = scores["confidence"]
        needs_manager = manager_requested or confidence < self._settings.min_confidence
        family = interest_family(question, fallback_family=primary.chunk.family or None)

        cited = [primary, *supporting]
        mode: AnswerMode = "extractive"
        if manager_requested:
            # The client asked for a person: say so plainly, the manager takes it from here.
            text, mode = _MANAGER[lang], "none"
        elif confidence < self._settings.min_confidence:
            text, mode = _NO_ANSWER[lang], "none"
        else:
            text = condense(primary.chunk.text, question)
            generated = (
                self._llm.answer(question, cited, language=lang, names=names)
                if (self._llm is not None)
                else None
            )
            if generated is not None:
                text, used = generated
                cited = [cited[i] for i in used]
                mode = "llm"
        return Answer(
            text=text,
            # Citations back a text only when it was taken from the documents.
            citations=[_citation(hit.chunk, hit.score) for hit in cited] if mode != "none" else [],
            confidence=confidence,
            needs_manager=needs_manager,
            manager_requested=manager_requested,
            language=lang,
            mode=mode,
            interest_family=family,
            interest_topic=primary.chunk.group if family else None,
            scores=scores,
        )

    async def aanswer(
        self,
        question: str,
        *,
        audience: Audience,
        language: AnswerLanguage | None = None,
        names: Sequence[str] = (),
    ) -> Answer:
        """`answer` off the event loop."""
        return await asyncio.to_thread(
            self.answer, question, audience=audience, language=language, names=names
        )

    def _scores(self, question: str, hit: SearchHit) -> dict[str, float]:
        low, high = _SIMILARITY_RANGE.get(self._embedder.name, _DEFAULT_SIMILARITY_RANGE)
        similarity = hit.dense_similarity
        if similarity is None:
            # Found by BM25 alone: measure how close it is in embedding space after all.
            query_vec = self._embedder.embed_query(question)
            doc_vec = self._embedder.embed_documents([hit.chunk.embedding_text()])[0]
            similarity = sum(a * b for a, b in zip(query_vec, doc_vec, strict=True))
        dense = _clamp((similarity - low) / (high - low))
        wanted = set(terms(question))
        present = set(terms(f"{hit.chunk.title} {hit.chunk.section} {hit.chunk.text}"))
        coverage = len(wanted & present) / len(wanted) if wanted else 0.0
        agreement = 1.0 if (hit.bm25_rank or 99) <= 3 and (hit.dense_rank or 99) <= 3 else 0.0
        confidence = _clamp(0.5 * dense + 0.3 * coverage + 0.2 * agreement)
        return {
            "confidence": confidence,
            "dense_similarity": float(similarity),
            "lexical_coverage": coverage,
            "agreement": agreement,
            "fused": hit.score,
        }


def _prefer_language(
    hits: list[SearchHit], language: str, retriever: HybridRetriever, audience: Audience
) -> SearchHit:
    """The top hit, or the same section of its translation in the asker's language."""
    top = hits[0]
    if top.chunk.language == language:
        return top
    translations = retriever.translations(top.chunk, language, audience=audience)
    if not translations:
        return top
    # Translations keep the section order, so the same position is the same section.
    same = [c for c in translations if c.position == top.chunk.position]
    chosen = same[0] if same else translations[0]
    retrieved = {hit.chunk.chunk_id: hit for hit in hits}
    return retrieved.get(chosen.chunk_id) or replace(top, chunk=chosen)


def _supporting(hits: list[SearchHit], primary: SearchHit, language: str) -> list[SearchHit]:
    """Up to two more sources from other documents, close in score and in the same language."""
    chosen: list[SearchHit] = []
    groups = {primary.chunk.group}
    for hit in hits[:6]:
        if hit.chunk.group in groups or hit.chunk.language != language:
            continue
        if hit.score < 0.8 * hits[0].score:
            break
        chosen.append(hit)
        groups.add(hit.chunk.group)
        if len(chosen) == 2:
            break
    return chosen


def _citation(chunk: Chunk, score: float) -> Citation:
    return Citation(
        doc_id=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        section_text=chunk.section_text,
        language=chunk.language,
        score=score,
    )


_PLAIN_REF = re.compile(r"[A-Za-z0-9._-]{1,30}")


def document_ref(doc_id: str) -> str:
    """A document id short and plain enough for a button's callback data (64 bytes in all).

    Plain ids up to 30 characters stand for themselves, so buttons already sent stay valid;
    a longer one, or one with other characters (Cyrillic takes two bytes each, a colon is the
    separator), becomes a digest of it.
    """
    if _PLAIN_REF.fullmatch(doc_id):
        return doc_id
    return "~" + hashlib.sha1(doc_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def section_key_of(section: str) -> str:
    """A short stable key of a section heading, small enough for a button's callback data."""
    return hashlib.sha1(section.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
