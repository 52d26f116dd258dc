"""The SQL side of a data subject's rights: every table read, erased and purged by rule."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Column
from sqlalchemy.types import TypeDecorator

from crm_adapter import models as m
from crm_adapter.models.base import Base
from crm_adapter.personal_data import ERASED, Chat, ErasureReport, Holdings

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


def _table(model: type[Base]) -> Table:
    return typing.cast(Table, model.__table__)


def _count(result: Any) -> int:
    return int(result.rowcount)


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


def _exported(table: Table) -> list[Column[Any]]:
    # Secrets (code hashes) and file bytes are not "data about the client" to hand out.
    return [
        c
        for c in table.columns
        if not c.name.endswith("_hash") and not isinstance(c.type, LargeBinary)
    ]


def _escaped_forms(needle: str) -> list[str]:
    # JSON columns hold the serialiser's text: non-ASCII as \\uXXXX unless told otherwise.
    forms = [needle, json.dumps(needle)[1:-1]]
    return list(dict.fromkeys(forms))


def _scrub(value: Any, needles: Sequence[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, ERASED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles) for v in value]
    return value


def _mentions(value: Any, needles: Sequence[str]) -> bool:
    return bool(_scrub(value, needles) != value)


def _batches(items: Sequence[str], size: int = BATCH) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlPersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    # -- finding ------------------------------------------------------------------------------

    async def _chats(self, client_id: int) -> tuple[Chat, ...]:
        rows = await self._s.execute(
            select(
                m.MessengerLinkRow.messenger,
                m.MessengerLinkRow.user_id,
                m.MessengerLinkRow.chat_id,
            ).where(m.MessengerLinkRow.client_id == client_id)
        )
        return tuple(Chat(messenger, user, chat) for messenger, user, chat in rows)

    def _where(self, table: Table, client_id: int, chats: tuple[Chat, ...]) -> ColumnElement[bool]:
        if table.name == "client":
            return table.c.id == client_id
        condition: ColumnElement[bool] = or_(*(c == client_id for c in client_columns(table)))
        if table.name == "interaction" and chats:
            # Updates from the chat before it was linked (the /start with the code) too.
            condition = or_(condition, table.c.chat_id.in_([c.chat_id for c in chats]))
        return condition

    async def _request_ids(self, client_id: int) -> list[int]:
        return list(
            await self._s.scalars(
                select(m.ServiceRequestRow.id).where(m.ServiceRequestRow.client_id == client_id)
            )
        )

    async def collect(self, client_id: int) -> Holdings:
        chats = await self._chats(client_id)
        tables: dict[str, list[dict[str, Any]]] = {}
        for table in Base.metadata.sorted_tables:
            if table.name != "client" and not client_columns(table):
                continue
            primary = list(table.primary_key.columns)
            rows = await self._s.execute(
                select(*_exported(table))
                .where(self._where(table, client_id, chats))
                .order_by(*primary)
            )
            tables[table.name] = [dict(r._mapping) for r in rows]
        comments = _table(m.RequestCommentRow)
        request_ids = await self._request_ids(client_id)
        rows = await self._s.execute(
            select(*_exported(comments))
            .where(comments.c.request_id.in_(request_ids))
            .order_by(comments.c.id)
        )
        tables["request_comment"] = [dict(r._mapping) for r in rows]
        events = _table(m.EventRow)
        event_ids = sorted({i["event_id"] for i in tables.get("invitation", [])})
        rows = await self._s.execute(
            select(events.c.id, events.c.title, events.c.starts_at, events.c.venue, events.c.city)
            .where(events.c.id.in_(event_ids))
            .order_by(events.c.id)
        )
        tables["event"] = [dict(r._mapping) for r in rows]
        return Holdings(client_id=client_id, tables=tables, chats=chats)

    # -- erasing ------------------------------------------------------------------------------

    async def erase(
        self, client_id: int, *, mentions: list[str], fragments: list[str], now: datetime
    ) -> ErasureReport:
        report = ErasureReport()
        chats = await self._chats(client_id)
        external_id = await self._s.scalar(
            select(m.ClientRow.external_id).where(m.ClientRow.id == client_id)
        )
        if external_id is None:
            raise LookupError(client_id)
        await self._erase_own_rows(client_id, chats, report)
        await self._erase_client_row(client_id, external_id, now, report)
        await self._scrub_mentions(client_id, mentions, fragments, report)
        await self._s.flush()
        return report

    async def _erase_own_rows(
        self, client_id: int, chats: tuple[Chat, ...], report: ErasureReport
    ) -> None:
        unknown = [
            t.name
            for t in Base.metadata.sorted_tables
            if t.name != "client" and client_columns(t) and t.name not in ERASURE
        ]
        if unknown:
            raise RuntimeError(f"no erasure rule for tables {unknown}: nothing was erased")
        # Request comments hang on the requests, not on the client.
        comments = _table(m.RequestCommentRow)
        changed = await self._s.execute(
            update(comments)
            .where(comments.c.request_id.in_(await self._request_ids(client_id)))
            .values(text=None, file_id=None)
        )
        report.anonymised["request_comment"] = _count(changed)
        outbox = _table(m.OutboxMessageRow)
        # Nothing still waiting may go out to an erased client.
        await self._s.execute(
            update(outbox)
            .where(outbox.c.client_id == client_id, outbox.c.status.in_(("pending", "sending")))
            .values(status="failed")
        )
        for table in reversed(Base.metadata.sorted_tables):
            rule = ERASURE.get(table.name)
            if rule is None or rule == "keep" or not client_columns(table):
                continue
            where = self._where(table, client_id, chats)
            if rule == "delete":
                deleted = await self._s.execute(delete(table).where(where))
                report.deleted[table.name] = _count(deleted)
                continue
            assert isinstance(rule, dict)
            values = dict(rule)
            if table.name == "holding_member":
                values["name"] = literal(f"{ERASED} #") + cast(table.c.id, String)
            changed = await self._s.execute(update(table).where(where).values(**values))
            report.anonymised[table.name] = _count(changed)

    async def _erase_client_row(
        self, client_id: int, external_id: str, now: datetime, report: ErasureReport
    ) -> None:
        # The row stays (requests, holdings and consents point at it) with nothing personal:
        # the bank's own id, the manager and the dates the accounting needs.
        await self._s.execute(
            update(m.ClientRow)
            .where(m.ClientRow.id == client_id)
            .values(
                first_name=ERASED,
                middle_name=None,
                last_name=external_id,
                birthday=None,
                gender=None,
                city=None,
                occupation=None,
                decision_influencer=None,
                what_matters=None,
                financial_segment=None,
                values_segment=None,
                media_mentions_90d=None,
                search_queries_90d=None,
                is_public_person=False,
                opinion_leader=False,
                do_not_disturb=True,
                marketing_opt_out=True,
                erased_at=now,
            )
        )
        report.anonymised["client"] = 1

    async def _scrub_mentions(
        self, client_id: int, mentions: list[str], fragments: list[str], report: ErasureReport
    ) -> None:
        names = sorted({n for n in mentions if n}, key=len, reverse=True)
        pieces = sorted({n for n in fragments if n}, key=len, reverse=True)
        if not names and not pieces:
            return
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_SCANNED:
                continue
            whole = MESSAGE_COLUMNS.get(table.name)
            for column in free_text_columns(table):
                # A name identifies the client wherever it stands. Fragments of their texts
                # are looked for only in messages that belong to no client (staff chats,
                # the staff's outbox): another client may well have written the same words.
                touched = await self._scrub_column(table, column, names, wipe=whole)
                if whole and column.name in whole:
                    touched |= await self._scrub_column(
                        table, column, pieces, wipe=whole, unowned_only=True
                    )
                if touched:
                    report.scrubbed[table.name] = report.scrubbed.get(table.name, 0) + len(touched)
        await self._scrub_audit_queries(client_id)
        await self._scrub_documents(client_id, [*names, *pieces], report)

    async def _scrub_column(
        self,
        table: Table,
        column: Column[Any],
        needles: Sequence[str],
        *,
        wipe: tuple[str, ...] | None,
        unowned_only: bool = False,
    ) -> set[Any]:
        """Rows of `table` whose `column` holds a needle: the needles replaced, or with
        `wipe`, a message that belongs to no client emptied whole (another client's own
        message only loses the words). Returns the keys of the rows changed."""
        changed: set[Any] = set()
        if not needles:
            return changed
        primary = list(table.primary_key.columns)[0]
        owner = table.c.client_id if "client_id" in table.c else None
        is_json = isinstance(stored_type(column), JSON)
        searched = cast(column, Text) if is_json else column
        for batch in _batches(needles):
            forms = [f for n in batch for f in (_escaped_forms(n) if is_json else [n])]
            condition = or_(*(searched.contains(f, autoescape=True) for f in forms))
            if unowned_only and owner is not None:
                condition = and_(condition, owner.is_(None))
            owner_column = owner if owner is not None else literal(None)
            rows = await self._s.execute(select(primary, column, owner_column).where(condition))
            for key, value, owned_by in rows.all():
                if key in changed or not _mentions(value, needles):
                    continue
                if wipe is not None and owned_by is None:
                    values = {name: (ERASED if name == "text" else None) for name in wipe}
                else:
                    values = {column.name: _scrub(value, needles)}
                await self._s.execute(update(table).where(primary == key).values(**values))
                changed.add(key)
        return changed

    async def _scrub_audit_queries(self, client_id: int) -> None:
        """Searches that named or found the client keep no query text: a partial surname
        typed by a manager is not among the needles."""
        audit = _table(m.AuditEntryRow)
        rows = await self._s.execute(
            select(
                audit.c.id, audit.c.details, audit.c.subject_client_id, audit.c.actor_client_id
            ).where(cast(audit.c.details, Text).contains('"query"', autoescape=True))
        )
        for key, details, subject, actor in rows.all():
            if not isinstance(details, dict) or "query" not in details:
                continue
            found = details.get("client_ids")
            if client_id in (subject, actor) or (isinstance(found, list) and client_id in found):
                cleaned = {k: v for k, v in details.items() if k != "query"}
                await self._s.execute(
                    update(audit).where(audit.c.id == key).values(details=cleaned)
                )

    async def _scrub_documents(
        self, client_id: int, needles: Sequence[str], report: ErasureReport
    ) -> None:
        """Documents queued for staff (a briefing before a meeting) that name the client."""
        outbox = _table(m.OutboxMessageRow)
        rows = await self._s.execute(
            select(outbox.c.id, outbox.c.document_content).where(
                outbox.c.document_content.is_not(None),
                or_(outbox.c.client_id.is_(None), outbox.c.client_id != client_id),
            )
        )
        for key, content in rows:
            text = bytes(content).decode("utf-8", errors="ignore")
            if any(n in text for n in needles):
                await self._s.execute(
                    update(outbox)
                    .where(outbox.c.id == key)
                    .values(text=ERASED, document_content=None, document_name=None)
                )
                report.scrubbed["outbox_message"] = report.scrubbed.get("outbox_message", 0) + 1

    # -- retention ----------------------------------------------------------------------------

    async def purge_before(
        self, moment: datetime, *, relay_before: datetime | None = None
    ) -> dict[str, int]:
        done: dict[str, int] = {}
        for name, purge in RETENTION.items():
            cutoff = moment
            if name == "relayed_message" and relay_before is not None:
                cutoff = max(moment, relay_before)
            done[name] = int(await purge(self._s, cutoff))
        return done


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    return _count(await session.execute(statement))


def _closed_requests(moment: datetime) -> Any:
    requests = m.ServiceRequestRow.__table__
    return select(requests.c.id).where(
        requests.c.closed_at.is_not(None), requests.c.closed_at < moment
    )


# The logs and working records that hold personal data, and what their purge does once a row
# is older than the retention period. The client's profile (the client row, life events,
# holdings, transactions, consents, links) lives as long as the relationship and goes with
# an erasure; interactions have their own purge (concierge.retention.purge_interactions).
Purge = Callable[[AsyncSession, datetime], Any]
RETENTION: dict[str, Purge] = {
    "note": lambda s, t: _rowcount(s, delete(m.NoteRow).where(m.NoteRow.created_at < t)),
    "service_request": lambda s, t: _rowcount(
        s,
        update(m.ServiceRequestRow)
        .where(m.ServiceRequestRow.id.in_(_closed_requests(t)))
        .where(m.ServiceRequestRow.summary != ERASED)
        .values(summary=ERASED, details=None),
    ),
    "request_comment": lambda s, t: _rowcount(
        s,
        update(m.RequestCommentRow)
        .where(m.RequestCommentRow.request_id.in_(_closed_requests(t)))
        .where(
            or_(m.RequestCommentRow.text.is_not(None), m.RequestCommentRow.file_id.is_not(None))
        )
        .values(text=None, file_id=None),
    ),
    "relayed_message": lambda s, t: _rowcount(
        s, delete(m.RelayedMessageRow).where(m.RelayedMessageRow.created_at < t)
    ),
    # Who looked at what stays provable; what the entry said about it (names typed into a
    # search, request numbers) goes.
    "audit_entry": lambda s, t: _rowcount(
        s,
        update(m.AuditEntryRow)
        .where(m.AuditEntryRow.occurred_at < t, m.AuditEntryRow.details.is_not(None))
        .values(details=None),
    ),
    # Finished messages keep their delivery record (contact decisions point at them).
    "outbox_message": lambda s, t: _rowcount(
        s,
        update(m.OutboxMessageRow)
        .where(
            m.OutboxMessageRow.created_at < t,
            m.OutboxMessageRow.status.in_(("sent", "failed", "blocked")),
            m.OutboxMessageRow.text != ERASED,
        )
        .values(
            text=ERASED, keyboard=None, document_name=None, document_content=None, last_error=None
        ),
    ),
    "feedback": lambda s, t: _rowcount(
        s,
        update(m.FeedbackRow)
        .where(m.FeedbackRow.created_at < t, m.FeedbackRow.comment.is_not(None))
        .values(comment=None),
    ),
    "meeting": lambda s, t: _rowcount(
        s,
        update(m.MeetingRow)
        .where(
            m.MeetingRow.starts_at < t,
            or_(m.MeetingRow.topic.is_not(None), m.MeetingRow.place.is_not(None)),
        )
        .values(topic=None, place=None),
    ),
    "invitation": lambda s, t: _rowcount(
        s,
        update(m.InvitationRow)
        .where(
            m.InvitationRow.event_id.in_(select(m.EventRow.id).where(m.EventRow.ends_at < t)),
            or_(m.InvitationRow.note.is_not(None), m.InvitationRow.checkin_code_hash.is_not(None)),
        )
        .values(note=None, checkin_code_hash=None),
    ),
    # The web desk's sign-ins: who signed in when is in the audit log; the rows go.
    "web_login_code": lambda s, t: _rowcount(
        s, delete(m.WebLoginCodeRow).where(m.WebLoginCodeRow.expires_at < t)
    ),
    "web_session": lambda s, t: _rowcount(
        s, delete(m.WebSessionRow).where(m.WebSessionRow.expires_at < t)
    ),
}
# Tables with text that the purge leaves, and why (a test keeps this list complete).
RETAINED = {
    "interaction": "purged by concierge.retention.purge_interactions",
    "client": "the profile: kept while the client is served, removed by erasure",
    "life_event": "the profile: kept while the client is served, removed by erasure",
    "product_holding": "accounting",
    "account_transaction": "accounting; descriptions removed by erasure",
    "holding_group": "companies of a holding group, not persons",
    "holding_member": "the group's structure; a member who is a client is erased with them",
    "consent": "proof of consent and withdrawal (152-FZ)",
    "messenger_link": "the live link; removed by erasure",
    "link_code": "hashes of one-time codes, no personal data",
    "staff": "the bank's employees",
    "event": "the bank's events, no client data",
    "event_audience_override": "ids only",
    "survey": "ids and periods only",
    "contact_decision": "ids, kinds and reasons only",
    "rule_firing": "occasion keys of ids and dates only",
    "scheduler_lease": "the scheduler's own bookkeeping",
    "apscheduler_jobs": "the scheduler's own bookkeeping",
    "crm_write": "ids, keys and error codes only; delivered ones purged after 30 days",
    "crm_ref": "ids in the store and in the bank's CRM only",
    "crm_sync_state": "sync cursors and the CRM app's rotating token, no client data",
}
