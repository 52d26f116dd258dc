"""What both update ledgers share (crm_adapter.update_ledger): the tables' statements for
reading an account, finding a chat's owner and logging interactions, the rows they map to,
and statements compiled once for a dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.engine import Dialect

from crm_adapter import models as m
from crm_adapter.dto import Client, LinkedAccount, MessengerLink, Staff
from crm_adapter.port import ChatKey, Owner

# The messenger of an update when the caller names none (the ledger predates MAX).
MESSENGER = "telegram"
# The unique key an inbound interaction claims: a messenger's update ids are its own.
CLAIM_KEY = ["messenger", "update_id"]

INTERACTION = cast(Table, m.InteractionRow.__table__)
_LINK = cast(Table, m.MessengerLinkRow.__table__)
_CLIENT = cast(Table, m.ClientRow.__table__)
_STAFF = cast(Table, m.StaffRow.__table__)
_CONSENT = cast(Table, m.ConsentRow.__table__)

# Every statement below is compiled for these columns, in this order.
INTERACTION_COLUMNS = (
    "occurred_at",
    "channel",
    "direction",
    "kind",
    "actor",
    "client_id",
    "staff_id",
    "chat_id",
    "text",
    "payload",
    "update_id",
    "messenger",
)
# What an insert returns for its rows to be queued for the bank's CRM in the same
# statement (crm_adapter.master.queue.queue_interactions_from reads these).
QUEUED_FROM = tuple(
    INTERACTION.c[name]
    for name in ("id", "client_id", "occurred_at", "direction", "text", "payload")
)
_PARTS = (("link", _LINK), ("client", _CLIENT), ("staff", _STAFF))


def _account_query() -> Select[Any]:
    latest_consent = (
        select(_CONSENT.c.granted & _CONSENT.c.withdrawn_at.is_(None))
        .where(_CONSENT.c.client_id == _LINK.c.client_id, _CONSENT.c.purpose == "personal_data")
        .order_by(_CONSENT.c.recorded_at.desc(), _CONSENT.c.id.desc())
        .limit(1)
        .correlate(_LINK)
        .scalar_subquery()
    )
    # Plain labelled columns, not ORM entities: a row maps straight onto the three DTOs.
    columns = [c.label(f"{part}__{c.name}") for part, table in _PARTS for c in table.c]
    return (
        select(*columns, latest_consent.label("consent_active"))
        .select_from(
            _LINK.outerjoin(_CLIENT, _CLIENT.c.id == _LINK.c.client_id).outerjoin(
                _STAFF, _STAFF.c.id == _LINK.c.staff_id
            )
        )
        .where(
            _LINK.c.messenger == bindparam("messenger"), _LINK.c.user_id == bindparam("user_id")
        )
    )


# The messenger account with its owner and current consent: one query for every update.
ACCOUNT_QUERY = _account_query()
OWNER_QUERY = (
    select(_LINK.c.client_id, _LINK.c.staff_id)
    .where(_LINK.c.messenger == bindparam("messenger"), _LINK.c.chat_id == bindparam("chat_id"))
    .limit(1)
)
_KEYS = {part: [(f"{part}__{c.name}", c.name) for c in table.c] for part, table in _PARTS}


def linked_account(row: Mapping[str, Any]) -> LinkedAccount:
    """The DTOs of one row of `ACCOUNT_QUERY` (client and staff are empty in an outer join)."""
    link, client, staff = (
        {name: row[label] for label, name in _KEYS[part]} for part in ("link", "client", "staff")
    )
    return LinkedAccount(
        link=MessengerLink.model_validate(link),
        client=Client.model_validate(client) if client["id"] is not None else None,
        staff=Staff.model_validate(staff) if staff["id"] is not None else None,
        consent_active=bool(row["consent_active"]),
    )


def reply_row(record: Mapping[str, Any], owners: Mapping[ChatKey, Owner]) -> dict[str, Any]:
    """An outgoing call (occurred_at, kind, chat_id, text, payload, messenger) as an
    interaction row."""
    messenger = record.get("messenger") or MESSENGER
    client_id, staff_id = owners.get((messenger, record["chat_id"]), (None, None))
    return {
        "occurred_at": record["occurred_at"],
        "channel": "messenger",
        "direction": "out",
        "kind": record["kind"],
        "actor": "bot",
        "client_id": client_id,
        "staff_id": staff_id,
        "chat_id": record["chat_id"],
        "text": record["text"],
        "payload": record["payload"],
        "update_id": None,
        "messenger": messenger,
    }


def unknown_chats(
    records: Sequence[Mapping[str, Any]], owners: Mapping[ChatKey, Owner]
) -> list[ChatKey]:
    chats = {
        (r.get("messenger") or MESSENGER, r["chat_id"])
        for r in records
        if r["chat_id"] is not None
    }
    return sorted(chats - owners.keys())


class Compiled:
    """A statement compiled once for a dialect, converting values the way SQLAlchemy does."""

    def __init__(
        self, statement: Any, dialect: Dialect, *, columns: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        self.sql = str(compiled)
        names = compiled.positiontup or []
        self._names = names
        self._defaults = compiled.params
        self._bind = [
            compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
        ]
        selected = list(getattr(statement, "selected_columns", []))
        self.keys = [c.key for c in selected]
        self._result = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, convert in zip(self._names, self._bind, strict=True):
            value = values[name] if name in values else self._defaults[name]
            out.append(convert(value) if convert is not None and value is not None else value)
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            key: convert(value) if convert is not None else value
            for key, convert, value in zip(self.keys, self._result, raw, strict=True)
        }
