"""Loads documents (Markdown, text, PDF, DOCX, HTML), chunks them by headings, syncs an index."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter
from tqdm import tqdm

from knowledge.models import Audience, Chunk, IngestSummary
from knowledge.store import ChunkStore
from knowledge.text import detect_language

# Bump when chunking changes so every document is re-chunked on the next ingest.
CHUNKER_VERSION = "2"
SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm"})
MAX_CHUNK_CHARS = 1200
CHUNK_OVERLAP = 120

_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


class DocumentError(ValueError):
    """A document cannot be indexed as it stands (bad front matter, duplicate id)."""


class IngestionInterrupted(RuntimeError):
    """Stopped between two documents (the ingestion lock was lost); a re-run completes it."""


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One document with its front matter, body as Markdown, ready to chunk."""

    doc_id: str
    title: str
    audience: Audience
    language: str
    body: str
    source: str
    family: str = ""
    group: str = ""
    tags: tuple[str, ...] = ()
    version: str = ""
    effective_date: str = ""


@dataclass(frozen=True, slots=True)
class _SourceFile:
    path: Path
    doc_id: str
    digest: str
    meta: dict[str, Any] = field(default_factory=dict)


def discover(root: Path) -> list[Path]:
    """Supported files under `root` (or `root` itself), in a stable order."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not p.name.startswith((".", "_"))
        and not p.name.endswith(".meta.yaml")
    )


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    meta = yaml.safe_load(match.group(1)) or {}
    if not isinstance(meta, dict):
        raise DocumentError("front matter must be a mapping")
    return meta, text[match.end() :]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".meta.yaml")


def _slug(stem: str) -> str:
    return re.sub(r"[^0-9a-zA-Z_-]+", "-", stem).strip("-").lower() or "document"


def _read_source(path: Path) -> _SourceFile:
    raw = path.read_bytes()
    digest = hashlib.sha256(CHUNKER_VERSION.encode())
    digest.update(raw)
    meta: dict[str, Any] = {}
    if path.suffix.lower() in {".md", ".markdown"}:
        meta, _ = _split_front_matter(raw.decode("utf-8"))
    sidecar = _sidecar(path)
    if sidecar.exists():
        side_raw = sidecar.read_bytes()
        digest.update(side_raw)
        meta = {**meta, **(yaml.safe_load(side_raw) or {})}
    doc_id = str(meta.get("id") or _slug(path.stem))
    return _SourceFile(path=path, doc_id=doc_id, digest=digest.hexdigest(), meta=meta)


def _pdf_body(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _docx_body(path: Path) -> str:
    import docx

    lines = []
    for para in docx.Document(str(path)).paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "") if para.style is not None else ""
        # Word heading styles become Markdown headings so chunks follow the same structure.
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(int(level.group(1)) + 1, 3)} {text}")
        else:
            lines.append(text)
    return "\n\n".join(lines)


def _html_body(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    lines = []
    for el in soup.find_all(["h1", "h2", "h3", "p", "li", "td"]):
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name in {"h1", "h2", "h3"}:
            lines.append(f"{'#' * int(el.name[1])} {text}")
        else:
            lines.append(f"- {text}" if el.name == "li" else text)
    return "\n\n".join(lines)


_BODY_READERS: dict[str, Callable[[Path], str]] = {
    ".pdf": _pdf_body,
    ".docx": _docx_body,
    ".html": _html_body,
    ".htm": _html_body,
}


def load_document(path: Path) -> SourceDocument:
    """Read one file of any supported format into a `SourceDocument`."""
    return _load(_read_source(path))


def _load(src: _SourceFile) -> SourceDocument:
    suffix = src.path.suffix.lower()
    if suffix in _BODY_READERS:
        body = _BODY_READERS[suffix](src.path)
    else:
        _, body = _split_front_matter(src.path.read_text(encoding="utf-8"))
    meta = src.meta
    audience = meta.get("audience", "staff")
    # Without metadata a file is treated as internal: leaking staff text to clients is worse
    # than a client document that needs a sidecar to become visible.
    if audience not in {"client", "staff"}:
        raise DocumentError(f"{src.path}: audience must be client or staff, not {audience!r}")
    language = str(meta.get("language") or detect_language(body))
    if language not in {"ru", "en"}:
        raise DocumentError(f"{src.path}: language must be ru or en, not {language!r}")
    title = str(meta.get("title") or _first_heading(body) or src.path.stem)
    tags = meta.get("tags") or []
    return SourceDocument(
        doc_id=src.doc_id,
        title=title,
        audience=audience,
        language=language,
        body=body,
        source=src.path.name,
        family=str(meta.get("family") or ""),
        group=str(meta.get("translation_of") or src.doc_id),
        tags=tuple(str(t) for t in tags),
        version=str(meta.get("version") or ""),
        effective_date=str(meta.get("effective_date") or ""),
    )


def _first_heading(body: str) -> str | None:
    match = re.search(r"^#{1,3}\s+(.+)$", body, re.MULTILINE)
    return match.group(1).strip() if match else None


def chunk_document(doc: SourceDocument, digest: str = "") -> list[Chunk]:
    """Split a document along its headings, capping each piece at `MAX_CHUNK_CHARS`."""
    header_splitter = MarkdownHeaderTextSplitter(headers_to_split_on=_HEADERS, strip_headers=True)
    size_splitter = RecursiveCharacterTextSplitter(
        chunk_size=MAX_CHUNK_CHARS,
        chunk_overlap=CHUNK_OVERLAP,
        separators=["\n\n", "\n", ". ", " ", ""],
    )
    chunks: list[Chunk] = []
    for section_doc in header_splitter.split_text(doc.body):
        section_text = section_doc.page_content.strip()
        if not section_text:
            continue
        headings = section_doc.metadata
        section = " / ".join(
            str(headings[key]) for key in ("h2", "h3") if headings.get(key)
        ) or str(headings.get("h1") or doc.title)
        for piece in size_splitter.split_text(section_text):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}::{len(chunks):03d}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=section,
                    text=piece.strip(),
                    section_text=section_text,
                    audience=doc.audience,
                    language=doc.language,
                    family=doc.family,
                    group=doc.group or doc.doc_id,
                    source=doc.source,
                    version=doc.version,
                    effective_date=doc.effective_date,
                    doc_hash=digest,
                    position=len(chunks),
                )
            )
    return chunks


def ingest_path(
    store: ChunkStore,
    root: Path,
    *,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> IngestSummary:
    """Bring the index in line with the files under `root`: add, update, skip, delete.

    `root` may be one file: that document is added or updated and no other is removed.

    `stop` is checked between documents: each document is replaced as a whole, so stopping
    leaves every document either old or new, and the next run picks up where this one ended.
    """
    started = time.perf_counter()
    summary = IngestSummary(rebuilt=store.rebuild_for_model() or store.rebuilt)
    sources = [_read_source(p) for p in discover(root)]
    seen: dict[str, Path] = {}
    for src in sources:
        if src.doc_id in seen:
            raise DocumentError(
                f"duplicate document id {src.doc_id!r}: {seen[src.doc_id]} and {src.path}"
            )
        seen[src.doc_id] = src.path
    indexed = store.document_hashes()
    touched = False
    try:
        for src in tqdm(sources, desc="Indexing documents", unit="doc", disable=not progress):
            previous = indexed.get(src.doc_id)
            if previous == src.digest:
                summary.unchanged.append(src.doc_id)
                continue
            _check(stop)
            chunks = chunk_document(_load(src), src.digest)
            touched = True
            store.replace_document(src.doc_id, chunks)
            summary.chunks_written += len(chunks)
            (summary.added if previous is None else summary.updated).append(src.doc_id)
        # A folder is the whole document set, so what it no longer holds goes; one file
        # updates that document and leaves the rest of the index alone.
        gone = sorted(set(indexed) - set(seen)) if root.is_dir() else []
        for doc_id in gone:
            _check(stop)
            touched = True
            store.delete_document(doc_id)
            summary.removed.append(doc_id)
    finally:
        # Also after a failure half-way: what was written must reach the other processes.
        if touched or summary.rebuilt:
            store.stamp()
    summary.chunks_total = store.count()
    summary.seconds = time.perf_counter() - started
    return summary


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise IngestionInterrupted(
            "ingestion stopped: the ingestion lock was lost; run ingest again"
        )
