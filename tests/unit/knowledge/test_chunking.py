"""Chunking follows headings, keeps metadata and caps size; other formats load too."""

from pathlib import Path

import docx
import pytest

from knowledge.ingest import MAX_CHUNK_CHARS, DocumentError, chunk_document, load_document

DOC = """---
id: sample
title: Пример
audience: client
language: ru
family: deposits
version: "1"
effective_date: 2026-01-01
---
## Ставки

Ставка 15 % годовых.

## Сроки

Срок 91 день.

### Продление

Продлевается автоматически.
"""


def test_chunks_follow_headings_and_keep_metadata(tmp_path: Path) -> None:
    path = tmp_path / "sample.md"
    path.write_text(DOC, encoding="utf-8")
    chunks = chunk_document(load_document(path), "hash")
    assert [c.section for c in chunks] == ["Ставки", "Сроки", "Сроки / Продление"]
    first = chunks[0]
    assert (first.doc_id, first.title, first.audience, first.language, first.family) == (
        "sample",
        "Пример",
        "client",
        "ru",
        "deposits",
    )
    assert first.text == "Ставка 15 % годовых."
    assert first.doc_hash == "hash"
    assert len({c.chunk_id for c in chunks}) == 3


def test_long_sections_are_capped_but_keep_the_full_section(tmp_path: Path) -> None:
    body = " ".join(f"Предложение номер {i} о вкладах." for i in range(200))
    path = tmp_path / "long.md"
    path.write_text(DOC.replace("Ставка 15 % годовых.", body), encoding="utf-8")
    chunks = [c for c in chunk_document(load_document(path)) if c.section == "Ставки"]
    assert len(chunks) > 1
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert all(c.section_text == body for c in chunks)


def test_bad_audience_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text(DOC.replace("audience: client", "audience: everyone"), encoding="utf-8")
    with pytest.raises(DocumentError):
        load_document(path)


def test_html_and_docx_headings_become_sections(tmp_path: Path) -> None:
    html = tmp_path / "fees.html"
    html.write_text(
        "<html><body><h1>Fees</h1><h2>Transfers</h2><p>Free within the bank.</p>"
        "<script>x()</script></body></html>",
        encoding="utf-8",
    )
    doc = load_document(html)
    # Files without metadata are internal until a sidecar says otherwise.
    assert (doc.doc_id, doc.title, doc.audience, doc.language) == ("fees", "Fees", "staff", "en")
    assert [c.section for c in chunk_document(doc)] == ["Transfers"]

    word = docx.Document()
    word.add_heading("Ячейки", level=1)
    word.add_paragraph("Малая ячейка стоит 3000 рублей.")
    path = tmp_path / "boxes.docx"
    word.save(str(path))
    (tmp_path / "boxes.docx.meta.yaml").write_text("id: boxes\naudience: client\n")
    doc = load_document(path)
    assert (doc.doc_id, doc.audience, doc.language) == ("boxes", "client", "ru")
    chunk = chunk_document(doc)[0]
    assert (chunk.section, chunk.text) == ("Ячейки", "Малая ячейка стоит 3000 рублей.")


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with one line of text, built by hand so no PDF writer is needed."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_pdf_text_is_loaded_with_sidecar_metadata(tmp_path: Path) -> None:
    path = tmp_path / "boxes.pdf"
    path.write_bytes(_tiny_pdf("Safe deposit boxes cost 3000 roubles a month."))
    (tmp_path / "boxes.pdf.meta.yaml").write_text(
        "id: boxes-en\ntitle: Safe boxes\naudience: client\nfamily: safe_box\n"
    )
    doc = load_document(path)
    assert (doc.doc_id, doc.title, doc.language, doc.family) == (
        "boxes-en",
        "Safe boxes",
        "en",
        "safe_box",
    )
    chunks = chunk_document(doc)
    assert chunks[0].text == "Safe deposit boxes cost 3000 roubles a month."
    assert chunks[0].section == "Safe boxes"
