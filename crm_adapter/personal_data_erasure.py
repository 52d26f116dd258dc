"""What erasure does to each table, which columns hold a client or free text, and how a
mention of the client is found and scrubbed out of text (SqlPersonalDataRepository applies it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, String, Table, Text
from sqlalchemy.sql.schema import Column
from sqlalchemy.types import TypeDecorator

from crm_adapter.personal_data import ERASED

# What erasure does to a table that points at the client, row by row. "delete": nothing of the
# row is needed; "keep": no personal data beyond the id, and the row is needed (proof of
# consent, accounting, delivery statistics); a dict: the columns set to the value (None or
# ERASED), the row kept as an anonymised stub so foreign keys and accounting hold.
Rule = str | dict[str, Any]
ERASURE: dict[str, Rule] = {
    "messenger_link": "delete",  # the messenger ids are personal identifiers
    "link_code": "delete",
    "relayed_message": "delete",
    "life_event": "delete",
    "note": "delete",
    # 152-FZ: the operator must be able to prove consent and its withdrawal.
    "consent": "keep",
    "product_holding": "keep",  # accounting
    "survey": "keep",
    "event_audience_override": "keep",
    "contact_decision": "keep",
    "rule_firing": "keep",  # occasion keys name ids and dates, never people
    "audit_entry": "keep",  # who looked at what stays provable; details are scrubbed below
    "interaction": {"text": None, "payload": None, "chat_id": None},
    "account_transaction": {"description": None},
    "feedback": {"comment": None},
    "service_request": {"summary": ERASED, "details": None},
    "meeting": {"place": None, "topic": None},
    "invitation": {"note": None, "checkin_code_hash": None},
    "outbox_message": {
        "text": ERASED,
        "keyboard": None,
        "document_name": None,
        "document_content": None,
        "last_error": None,
        "chat_id": 0,
    },
    "holding_member": {"relation": None},  # the name is made unique per row below
    # Writes owed to the bank's own CRM name the records by id only; those still owed would
    # carry the erased texts, so the client's go (the CRM erases by its own process).
    "crm_write": "delete",
}
# Tables whose rows are messages: a row that mentions the client loses its whole text (a
# relayed message or a request card in a staff chat is about the client from end to end).
MESSAGE_COLUMNS = {"interaction": ("text", "payload"), "outbox_message": ("text", "keyboard")}
# Never scanned for mentions: the client row itself (stubbed), staff records, secrets and
# the scheduler's own bookkeeping.
NOT_SCANNED = frozenset(
    {"client", "staff", "link_code", "messenger_link", "scheduler_lease", "apscheduler_jobs"}
)
# Needles per query: one LIKE per needle, a few dozen keep each statement small.
BATCH = 40


def client_columns(table: Table) -> list[Column[Any]]:
    """Columns of `table` that reference a client."""
    return [
        column
        for column in table.columns
        if any(fk.column.table.name == "client" for fk in column.foreign_keys)
    ]


def stored_type(column: Column[Any]) -> Any:
    """The column's SQL type, under a decorator such as MaskedText (masked on the way in)."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def text_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(stored_type(c), String | Text | JSON)]


# Shorter strings are codes, statuses and kinds: no room for a name or a sentence.
FREE_TEXT_LENGTH = 100


def free_text_columns(table: Table) -> list[Column[Any]]:
    """Columns that can hold a name or a sentence."""
    return [
        c
        for c in text_columns(table)
        if not isinstance(stored_type(c), String)
        or isinstance(stored_type(c), Text)
        or stored_type(c).length is None
        or stored_type(c).length >= FREE_TEXT_LENGTH
    ]


def escaped_forms(needle: str) -> list[str]:
    # JSON columns hold the serialiser's text: non-ASCII as \\uXXXX unless told otherwise.
    forms = [needle, json.dumps(needle)[1:-1]]
    return list(dict.fromkeys(forms))


def scrub(value: Any, needles: Sequence[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, ERASED)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    return value


def mentions(value: Any, needles: Sequence[str]) -> bool:
    return bool(scrub(value, needles) != value)


def batches(items: Sequence[str], size: int = BATCH) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
