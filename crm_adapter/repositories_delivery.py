"""SQLAlchemy repositories of proactive delivery (outbox, decisions, rule firings); no commits."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.sensitive import mask_text
from crm_adapter import models as m
from crm_adapter.dto import ContactDecisionRecord, OutboxMessage

# A message in these states still counts against the marketing cap: it went or it will go.
_LIVE_STATUSES = ("pending", "sending", "sent")


class SqlOutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        idempotency_key: str,
        chat_id: int,
        messenger: str = "telegram",
        client_id: int | None,
        staff_id: int | None,
        text: str,
        keyboard: dict[str, Any] | None,
        message_class: str,
        kind: str,
        occasion_key: str | None,
        now: datetime,
        not_before: datetime,
        priority: int = 100,
        document: tuple[str, bytes] | None = None,
    ) -> OutboxMessage | None:
        """Enqueues a message; None when the idempotency key is already in the outbox."""
        row = m.OutboxMessageRow(
            idempotency_key=idempotency_key,
            messenger=messenger,
            chat_id=chat_id,
            client_id=client_id,
            staff_id=staff_id,
            text=text,
            keyboard=keyboard,
            document_name=document[0] if document else None,
            document_content=document[1] if document else None,
            message_class=message_class,
            kind=kind,
            occasion_key=occasion_key,
            priority=priority,
            created_at=now,
            not_before=not_before,
            next_attempt_at=not_before,
            status="pending",
            attempts=0,
        )
        # The unique key is the durable dedupe; a savepoint keeps the caller's transaction.
        try:
            async with self._s.begin_nested():
                self._s.add(row)
        except IntegrityError:
            return None
        return OutboxMessage.model_validate(row)

    async def exists(self, idempotency_key: str) -> bool:
        found = await self._s.scalar(
            select(m.OutboxMessageRow.id).where(
                m.OutboxMessageRow.idempotency_key == idempotency_key
            )
        )
        return found is not None

    async def get(self, message_id: int) -> OutboxMessage | None:
        row = await self._s.get(m.OutboxMessageRow, message_id)
        return OutboxMessage.model_validate(row) if row else None

    async def document(self, message_id: int) -> tuple[str, bytes] | None:
        row = (
            await self._s.execute(
                select(
                    m.OutboxMessageRow.document_name, m.OutboxMessageRow.document_content
                ).where(m.OutboxMessageRow.id == message_id)
            )
        ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return str(row[0]), bytes(row[1])

    async def marketing_times(self, client_id: int, *, since: datetime) -> list[datetime]:
        """When the client's live marketing messages went or are due, from `since` on."""
        when = func.coalesce(m.OutboxMessageRow.sent_at, m.OutboxMessageRow.not_before)
        rows = await self._s.scalars(
            select(m.OutboxMessageRow)
            .where(
                m.OutboxMessageRow.client_id == client_id,
                m.OutboxMessageRow.message_class == "marketing",
                m.OutboxMessageRow.status.in_(_LIVE_STATUSES),
                when >= since,
            )
            .order_by(m.OutboxMessageRow.id)
        )
        return sorted(r.sent_at or r.not_before for r in rows)

    async def lease_due(
        self,
        *,
        now: datetime,
        worker_id: str,
        limit: int,
        lease: timedelta,
        messengers: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Leases up to `limit` due pending rows to a worker; status stays `pending`.

        The row only becomes `sending` right before its request, so a lease that dies with
        its worker never makes a message look possibly-sent. PostgreSQL: FOR UPDATE SKIP
        LOCKED lets several workers lease disjoint batches without waiting on each other.
        SQLite ignores the clause, but there the single UPDATE runs under the database's one
        writer, so two workers still never lease the same row. `messengers`: only rows for
        these (a worker leases only what it has a sender for).
        """
        row = m.OutboxMessageRow
        free = or_(row.claimed_by.is_(None), row.claimed_at < now - lease)
        wanted = [row.messenger.in_(list(messengers))] if messengers is not None else []
        due = (
            select(row.id)
            .where(row.status == "pending", row.next_attempt_at <= now, free, *wanted)
            .order_by(row.priority, row.next_attempt_at, row.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self._s.execute(
            update(row)
            .where(row.id.in_(due), row.status == "pending", free)
            .values(claimed_by=worker_id, claimed_at=now, attempts=row.attempts + 1)
            .returning(row)
            .execution_options(synchronize_session=False)
        )
        rows = sorted(result.scalars(), key=lambda r: (r.priority, r.next_attempt_at, r.id))
        return [OutboxMessage.model_validate(r) for r in rows]

    async def release_leases(self, *, worker_id: str) -> None:
        """Hands back rows a worker leased but never requested (its previous life's)."""
        await self._s.execute(
            update(m.OutboxMessageRow)
            .where(
                m.OutboxMessageRow.status == "pending",
                m.OutboxMessageRow.claimed_by == worker_id,
            )
            .values(claimed_by=None, claimed_at=None)
        )

    async def mark_sending(self, message_id: int, *, worker_id: str, now: datetime) -> bool:
        """`pending` -> `sending` for the lease holder; False when the lease was lost."""
        result = await self._s.execute(
            update(m.OutboxMessageRow)
            .where(
                m.OutboxMessageRow.id == message_id,
                m.OutboxMessageRow.status == "pending",
                m.OutboxMessageRow.claimed_by == worker_id,
            )
            .values(status="sending", claimed_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_sent(
        self, message_id: int, *, telegram_message_id: int, now: datetime, text: str
    ) -> None:
        """Done: `text`, what went out, is kept masked like every stored copy (a staff
        member's reply may give the client a phone number, which the outbox must carry in
        clear until it is sent, and no longer)."""
        # A sent document's bytes are not kept: the messenger has them, and a copy at rest
        # would be one more copy of personal data (a briefing, a data export).
        await self._s.execute(
            update(m.OutboxMessageRow)
            .where(m.OutboxMessageRow.id == message_id)
            .values(
                status="sent",
                telegram_message_id=telegram_message_id,
                sent_at=now,
                last_error=None,
                text=mask_text(text) or "",
                document_content=None,
            )
        )

    async def mark_retry(
        self, message_id: int, *, error: str, next_attempt_at: datetime, refund_attempt: bool
    ) -> None:
        """Back to `pending`; a flood-control wait is not the message's fault, so it refunds."""
        values: dict[str, Any] = {
            "status": "pending",
            "next_attempt_at": next_attempt_at,
            "last_error": error[:2000],
            "claimed_by": None,
        }
        if refund_attempt:
            values["attempts"] = m.OutboxMessageRow.attempts - 1
        await self._s.execute(
            update(m.OutboxMessageRow).where(m.OutboxMessageRow.id == message_id).values(**values)
        )

    async def mark_failed(self, message_id: int, *, error: str, status: str = "failed") -> None:
        """Given up for good (failed, suppressed at send time, not resent after a crash); a
        row another worker settled meanwhile (sent, blocked) keeps its state."""
        row = m.OutboxMessageRow
        await self._finish(
            and_(row.id == message_id, row.status.in_(("pending", "sending"))),
            status=status,
            error=error,
        )

    async def block_chat(self, chat_id: int, *, error: str, messenger: str = "telegram") -> int:
        """Stops everything still queued for a chat that blocked the bot; returns how many."""
        row = m.OutboxMessageRow
        return await self._finish(
            and_(
                row.messenger == messenger,
                row.chat_id == chat_id,
                row.status.in_(("pending", "sending")),
            ),
            status="blocked",
            error=error,
        )

    async def _finish(self, where: ColumnElement[bool], *, status: str, error: str) -> int:
        """Ends the rows `where` selects in a final state other than sent, their text kept
        masked from now on, as a sent one's is: it will never go out, and what it held in
        clear for its reader (a phone number a manager gave) should not wait for retention.
        Returns how many rows it ended."""
        row = m.OutboxMessageRow
        # mask_text is Python's, so each row is read and written back; `where` is asked
        # again on the write, so a row another worker settled meanwhile is left alone.
        found = (await self._s.execute(select(row.id, row.text).where(where))).all()
        ended = 0
        for key, text in found:
            result = await self._s.execute(
                update(row)
                .where(row.id == key, where)
                .values(status=status, last_error=error[:2000], text=mask_text(text) or "")
            )
            ended += int(result.rowcount)  # type: ignore[attr-defined]
        return ended

    async def stranded(self, *, worker_id: str, claimed_before: datetime) -> list[OutboxMessage]:
        """Messages left in `sending` by this worker's previous life or by a worker gone silent."""
        rows = await self._s.scalars(
            select(m.OutboxMessageRow)
            .where(
                m.OutboxMessageRow.status == "sending",
                or_(
                    m.OutboxMessageRow.claimed_by == worker_id,
                    m.OutboxMessageRow.claimed_at < claimed_before,
                ),
            )
            .order_by(m.OutboxMessageRow.id)
            .with_for_update(skip_locked=True)
        )
        return [OutboxMessage.model_validate(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        rows = await self._s.execute(
            select(m.OutboxMessageRow.status, func.count()).group_by(m.OutboxMessageRow.status)
        )
        return {str(status): int(n) for status, n in rows}

    async def by_status(self, status: str) -> list[OutboxMessage]:
        rows = await self._s.scalars(
            select(m.OutboxMessageRow)
            .where(m.OutboxMessageRow.status == status)
            .order_by(m.OutboxMessageRow.id)
        )
        return [OutboxMessage.model_validate(r) for r in rows]

    async def next_due_at(self) -> datetime | None:
        """When the earliest pending message becomes due (lets an idle worker sleep exactly)."""
        return await self._s.scalar(
            select(func.min(m.OutboxMessageRow.next_attempt_at)).where(
                m.OutboxMessageRow.status == "pending"
            )
        )


class SqlContactDecisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(
        self,
        *,
        now: datetime,
        client_id: int | None,
        staff_id: int | None,
        kind: str,
        message_class: str,
        occasion_key: str | None,
        outcome: str,
        reason: str,
        not_before: datetime | None,
        outbox_id: int | None,
    ) -> int:
        row = m.ContactDecisionRow(
            decided_at=now,
            client_id=client_id,
            staff_id=staff_id,
            kind=kind,
            message_class=message_class,
            occasion_key=occasion_key,
            outcome=outcome,
            reason=reason,
            not_before=not_before,
            outbox_id=outbox_id,
        )
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def for_client(self, client_id: int, *, limit: int = 50) -> list[ContactDecisionRecord]:
        rows = await self._s.scalars(
            select(m.ContactDecisionRow)
            .where(m.ContactDecisionRow.client_id == client_id)
            .order_by(m.ContactDecisionRow.id.desc())
            .limit(limit)
        )
        return [ContactDecisionRecord.model_validate(r) for r in rows]


class SqlRuleFiringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def claim(
        self, *, rule_id: str, client_id: int, occasion_key: str, now: datetime
    ) -> bool:
        """Records that a rule fired for an occasion; False when it already had."""
        try:
            async with self._s.begin_nested():
                self._s.add(
                    m.RuleFiringRow(
                        rule_id=rule_id,
                        client_id=client_id,
                        occasion_key=occasion_key,
                        fired_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def fired(self, occasion_keys: Iterable[str]) -> set[str]:
        keys = list(occasion_keys)
        if not keys:
            return set()
        rows = await self._s.scalars(
            select(m.RuleFiringRow.occasion_key).where(m.RuleFiringRow.occasion_key.in_(keys))
        )
        return set(rows)
