"""The queue of writes owed to the bank's CRM (`crm_write`): enqueued with the local change,
drained by the writer in per-client order, with retries, uncertainty and dead letters.

Enqueueing is one INSERT in the transaction that stores the local record, so a change is
never stored without its write, nor a write queued for a change that was rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Insert,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_adapter import models as m
from crm_adapter.master.records import DeadLetter, QueueStatus, WriteKind

CRM_WRITE = cast(Table, m.CrmWriteRow.__table__)
_INTERACTION = cast(Table, m.InteractionRow.__table__)
# Still owed: a later write of the same client waits while one of these is ahead of it.
OWED = ("pending", "sending")
# Bot API calls that, without a text, put nothing in front of a person: the answer that
# stops a pressed button's spinner, a keyboard changed or taken away. The interaction log
# keeps them (every outgoing call is logged there); the bank's CRM gets the press itself (the
# inbound callback, shown by the button's label), not this protocol noise.
SILENT_METHODS = ("answerCallbackQuery", "editMessageReplyMarkup")


def for_the_crm(*, direction: str, text: str | None, payload: Mapping[str, Any] | None) -> bool:
    """Whether an interaction of a client is one the bank's CRM keeps (see SILENT_METHODS);
    `kept_by_the_crm` is the same rule in SQL."""
    if direction != "out" or text is not None:
        return True
    return (payload or {}).get("method") not in SILENT_METHODS


def owed_to_the_crm(rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any of these interaction rows is queued (the ledger skips the queue's
    statement when none is)."""
    return any(
        r["client_id"] is not None
        and for_the_crm(direction=r["direction"], text=r["text"], payload=r["payload"])
        for r in rows
    )


def kept_by_the_crm(rows: FromClause) -> ColumnElement[bool]:
    """`for_the_crm` over interaction rows (the table, or what a CTE inserted)."""
    c = rows.c
    method = c.payload["method"].as_string()
    return or_(
        c.direction != "out",
        c.text.is_not(None),
        method.is_(None),
        # Not NOT IN: the ledger runs this compiled once, without expanding parameters.
        and_(*(method != name for name in SILENT_METHODS)),
    )


def write_key(kind: WriteKind, entity_id: int, *, repeatable: bool = False) -> str:
    """The idempotency key of a write. A record written once (an interaction, a note, an
    opened request) is keyed by its id; one that may be written many times (a request that
    changes, a consent) gets a fresh suffix each time."""
    key = f"{kind.value}:{entity_id}"
    return f"{key}:{uuid.uuid4().hex[:12]}" if repeatable else key


def write_row(
    kind: WriteKind, entity_id: int, client_id: int, now: datetime, *, repeatable: bool = False
) -> dict[str, Any]:
    return {
        "idempotency_key": write_key(kind, entity_id, repeatable=repeatable),
        "client_id": client_id,
        "kind": kind.value,
        "entity_id": entity_id,
        "created_at": now,
        "status": "pending",
        "uncertain": False,
        "attempts": 0,
        "next_attempt_at": now,
    }


async def enqueue(
    session: AsyncSession,
    kind: WriteKind,
    *,
    entity_id: int,
    client_id: int,
    now: datetime,
    repeatable: bool = False,
) -> None:
    """Queues one write in the session's transaction (the caller's unit of work commits)."""
    await session.execute(
        insert(CRM_WRITE), write_row(kind, entity_id, client_id, now, repeatable=repeatable)
    )


QUEUE_COLUMNS = (
    "idempotency_key",
    "client_id",
    "kind",
    "entity_id",
    "created_at",
    "status",
    "uncertain",
    "attempts",
    "next_attempt_at",
)


def queue_interactions_from(rows: FromClause, *where: ColumnElement[bool]) -> Insert:
    """INSERT INTO crm_write … SELECT from interaction rows (the table, or what a CTE
    inserted, returning at least id, client_id, occurred_at, direction, text and payload):
    those that belong to a client and are for the CRM, in id order."""
    c = rows.c
    return insert(CRM_WRITE).from_select(
        list(QUEUE_COLUMNS),
        select(
            literal(f"{WriteKind.INTERACTION.value}:") + c.id.cast(String),
            c.client_id,
            literal(WriteKind.INTERACTION.value),
            c.id,
            c.occurred_at,
            literal("pending"),
            literal(False),
            literal(0),
            c.occurred_at,
        )
        .where(c.client_id.is_not(None), kept_by_the_crm(rows), *where)
        .order_by(c.id),
    )


def enqueue_interactions_between() -> Insert:
    """Queues the interactions with ids in [:first, :last] that belong to a client and are
    for the CRM: the update ledger's form on SQLite, one statement after its own inserts."""
    return queue_interactions_from(
        _INTERACTION, _INTERACTION.c.id.between(bindparam("first"), bindparam("last"))
    )


@dataclass(frozen=True)
class QueuedWrite:
    id: int
    idempotency_key: str
    client_id: int
    kind: WriteKind
    entity_id: int
    created_at: datetime
    attempts: int
    uncertain: bool


def _queued(row: Any) -> QueuedWrite:
    return QueuedWrite(
        id=row.id,
        idempotency_key=row.idempotency_key,
        client_id=row.client_id,
        kind=WriteKind(row.kind),
        entity_id=row.entity_id,
        created_at=row.created_at,
        attempts=row.attempts,
        uncertain=row.uncertain,
    )


class SqlCrmWriteQueue:
    """Repository over `crm_write`; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def claim(self, *, now: datetime, worker_id: str, limit: int) -> list[QueuedWrite]:
        """Marks up to `limit` due writes `sending` and returns them in queue order.

        A client's write is taken only when every earlier write of that client is settled or
        taken with it: one waiting for a retry, or in flight elsewhere, holds back those behind
        it. The lowest ids go first, so a client's writes in a claim are consecutive and in
        order, and the CRM adapter keeps that order within its request.
        """
        row = m.CrmWriteRow
        ahead = aliased(m.CrmWriteRow)
        blocked = exists().where(
            ahead.client_id == row.client_id,
            ahead.id < row.id,
            or_(
                ahead.status == "sending",
                and_(ahead.status == "pending", ahead.next_attempt_at > now),
            ),
        )
        due = (
            select(row.id)
            .where(row.status == "pending", row.next_attempt_at <= now, ~blocked)
            .order_by(row.id)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._s.execute(
            update(row)
            .where(row.id.in_(due), row.status == "pending")
            .values(
                status="sending",
                claimed_by=worker_id,
                claimed_at=now,
                attempts=row.attempts + 1,
            )
            .returning(row)
            .execution_options(synchronize_session=False)
        )
        return sorted((_queued(r) for r in result.scalars()), key=lambda w: w.id)

    async def stranded(self, *, worker_id: str, claimed_before: datetime) -> list[QueuedWrite]:
        """Writes left `sending` by a writer that stopped without recording the answer: this
        worker's (it restarted) and anyone's claimed before `claimed_before`."""
        row = m.CrmWriteRow
        rows = await self._s.scalars(
            select(row).where(
                row.status == "sending",
                or_(row.claimed_by == worker_id, row.claimed_at < claimed_before),
            )
        )
        return [_queued(r) for r in rows]

    async def mark_uncertain(self, ids: list[int], *, now: datetime, error: str) -> None:
        """Back to pending, to be looked up in the CRM before any new send."""
        if ids:
            await self._set(
                ids, status="pending", uncertain=True, next_attempt_at=now, last_error=error
            )

    async def mark_done(self, write_id: int, *, remote_id: str | None, now: datetime) -> None:
        await self._set(
            [write_id],
            status="done",
            uncertain=False,
            remote_id=remote_id,
            done_at=now,
            claimed_by=None,
            last_error=None,
        )

    async def mark_retry(
        self,
        ids: list[int],
        *,
        error: str,
        next_attempt_at: datetime,
        uncertain: bool,
        refund_attempt: bool,
    ) -> None:
        if not ids:
            return
        row = m.CrmWriteRow
        values: dict[str, Any] = {
            "status": "pending",
            "next_attempt_at": next_attempt_at,
            "last_error": error,
            "claimed_by": None,
        }
        if uncertain:
            values["uncertain"] = True
        if refund_attempt:
            values["attempts"] = case((row.attempts > 0, row.attempts - 1), else_=0)
        await self._set(ids, **values)

    async def mark_dead(self, write_id: int, *, error: str) -> None:
        await self._set([write_id], status="dead", last_error=error, claimed_by=None)

    async def requeue_dead(self, *, now: datetime, ids: list[int] | None = None) -> int:
        """Dead letters back to the queue (after the cause was fixed); returns how many."""
        row = m.CrmWriteRow
        where: list[ColumnElement[bool]] = [row.status == "dead"]
        if ids is not None:
            where.append(row.id.in_(ids))
        result = await self._s.execute(
            update(row)
            .where(*where)
            .values(status="pending", next_attempt_at=now, attempts=0, created_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def status(self, *, dead_letters: int = 10) -> QueueStatus:
        row = m.CrmWriteRow
        grouped = await self._s.execute(select(row.status, func.count()).group_by(row.status))
        # Not dict(result): a Result has keys() (its columns), so dict() would index it.
        counts = {str(status): int(n) for status, n in grouped}
        oldest = await self._s.scalar(select(func.min(row.created_at)).where(row.status.in_(OWED)))
        last = await self._s.scalar(select(func.max(row.done_at)).where(row.status == "done"))
        dead = (
            await self._s.execute(
                select(
                    row.id,
                    row.kind,
                    m.ClientRow.external_id,
                    row.attempts,
                    row.created_at,
                    row.last_error,
                )
                .join(m.ClientRow, m.ClientRow.id == row.client_id)
                .where(row.status == "dead")
                .order_by(row.id)
                .limit(dead_letters)
            )
        ).all()
        return QueueStatus(
            pending=int(counts.get("pending", 0)),
            sending=int(counts.get("sending", 0)),
            done=int(counts.get("done", 0)),
            dead=int(counts.get("dead", 0)),
            oldest_owed_at=oldest,
            last_delivered_at=last,
            dead_letters=tuple(DeadLetter(*d) for d in dead),
        )

    async def purge_done(self, *, before: datetime) -> int:
        """Forgets delivered writes older than `before` (the interaction log keeps its own)."""
        result = await self._s.execute(
            delete(m.CrmWriteRow).where(
                and_(m.CrmWriteRow.status == "done", m.CrmWriteRow.done_at < before)
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _set(self, ids: list[int], **values: Any) -> None:
        await self._s.execute(
            update(m.CrmWriteRow)
            .where(m.CrmWriteRow.id.in_(ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
