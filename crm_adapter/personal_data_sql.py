"""The SQL side of a data subject's rights: every table read, erased and purged by rule (the
rules: personal_data_erasure.py and personal_data_retention.py)."""

from __future__ import annotations

import typing
from collections.abc import Sequence
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

from crm_adapter import models as m
from crm_adapter.models.base import Base
from crm_adapter.personal_data import ERASED, Chat, ErasureReport, Holdings
from crm_adapter.personal_data_erasure import (
    ERASURE,
    MESSAGE_COLUMNS,
    NOT_SCANNED,
    batches,
    client_columns,
    escaped_forms,
    free_text_columns,
    mentions,
    scrub,
    stored_type,
)
from crm_adapter.personal_data_retention import RETENTION


def _table(model: type[Base]) -> Table:
    return typing.cast(Table, model.__table__)


def _count(result: Any) -> int:
    return int(result.rowcount)


def _exported(table: Table) -> list[Column[Any]]:
    # Secrets (code hashes) and file bytes are not "data about the client" to hand out.
    return [
        c
        for c in table.columns
        if not c.name.endswith("_hash") and not isinstance(c.type, LargeBinary)
    ]


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
        for batch in batches(needles):
            forms = [f for n in batch for f in (escaped_forms(n) if is_json else [n])]
            condition = or_(*(searched.contains(f, autoescape=True) for f in forms))
            if unowned_only and owner is not None:
                condition = and_(condition, owner.is_(None))
            owner_column = owner if owner is not None else literal(None)
            rows = await self._s.execute(select(primary, column, owner_column).where(condition))
            for key, value, owned_by in rows.all():
                if key in changed or not mentions(value, needles):
                    continue
                if wipe is not None and owned_by is None:
                    values = {name: (ERASED if name == "text" else None) for name in wipe}
                else:
                    values = {column.name: scrub(value, needles)}
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
