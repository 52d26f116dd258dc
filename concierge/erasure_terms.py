"""What an erasure looks for outside the client's own rows: their names and their own words.

Copies of a client's data land where no foreign key points at them: a relayed message in the
manager's chat (a header with the name, then the client's text), a request card, a briefing,
a manager's search typed into the audit log. Those are found by content: the client's name
in the forms the bank writes it, and fragments of the texts the client wrote or that were
written about them. Short texts ("Да", "Спасибо") are no evidence of anyone and are skipped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from crm_adapter.dto import Client
from crm_adapter.personal_data import Holdings

# A line shorter than this identifies no one; shorter needles would wreck other rows.
MIN_FRAGMENT = 12
# Long lines are looked for in windows: a long relayed text split across several messages
# still has whole windows inside each part.
WINDOW = 48


def name_forms(client: Client, others: Iterable[Client] = ()) -> list[str]:
    """The client's name as the bank writes it: full, polite (name and patronymic), short,
    and the surname alone (what a manager types into a search) when no other client of the
    bank bears it, so erasing one client never blanks another's records."""
    first, middle, last = client.first_name, client.middle_name, client.last_name
    shared = any(o.id != client.id and o.last_name.casefold() == last.casefold() for o in others)
    forms = [
        client.full_name,
        " ".join(p for p in (first, middle, last) if p),
        f"{last} {first}",
        f"{first} {last}",
    ]
    if middle:
        forms.append(f"{first} {middle}")
    if not shared:
        forms.append(last)
    return sorted({f for f in forms if len(f) >= 5}, key=len, reverse=True)


def _lines(text: str) -> Iterable[str]:
    for raw in text.splitlines():
        line = raw.strip(" \t•-–—:")
        if len(line) >= MIN_FRAGMENT:
            yield line


def _windows(line: str) -> Iterable[str]:
    if len(line) <= WINDOW + WINDOW // 2:
        yield line
        return
    for start in range(0, len(line) - WINDOW + 1, WINDOW):
        yield line[start : start + WINDOW]


def _texts(holdings: Holdings) -> Iterable[str]:
    """Free texts the client wrote, or that were written about them."""
    for row in holdings.rows("interaction"):
        if row.get("actor") == "client" and isinstance(row.get("text"), str):
            yield row["text"]
    for table, column in (
        ("service_request", "summary"),
        ("note", "text"),
        ("life_event", "description"),
        ("feedback", "comment"),
        ("invitation", "note"),
        ("meeting", "topic"),
    ):
        for row in holdings.rows(table):
            value = row.get(column)
            if isinstance(value, str):
                yield value
    for row in holdings.rows("request_comment"):
        if row.get("author_kind") == "client" and isinstance(row.get("text"), str):
            yield row["text"]
    for row in holdings.rows("service_request"):
        yield from _strings(row.get("details"))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def text_fragments(holdings: Holdings) -> list[str]:
    """Needles for copies of the client's texts, raw and as HTML-escaped in staff chats."""
    found: set[str] = set()
    for text in _texts(holdings):
        for line in _lines(text):
            for piece in _windows(line):
                found.add(piece)
                found.add(html.escape(piece, quote=False))
    return sorted(found, key=len, reverse=True)
