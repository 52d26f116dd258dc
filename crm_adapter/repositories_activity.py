"""SQLAlchemy repositories of the CRM port's activity part (`port/activity.py`): interactions
and the client profile (holdings, life events, notes). They flush but never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.dto import (
    Interaction,
    LifeEvent,
    Messenger,
    Note,
    ProductHolding,
)
from crm_adapter.master.queue import enqueue, for_the_crm
from crm_adapter.master.records import WriteKind
from crm_adapter.port import DuplicateUpdate

# Inbound interactions claim their update_id with ON CONFLICT DO NOTHING, built once because
# it runs for every update. SQLite reports the new id through lastrowid, which spares the
# fetch (a thread hop on aiosqlite); PostgreSQL returns it.
_INTERACTION_TABLE = cast(Table, m.InteractionRow.__table__)
_SQLITE_CLAIM = sqlite_insert(_INTERACTION_TABLE).on_conflict_do_nothing(
    index_elements=["messenger", "update_id"]
)
_POSTGRESQL_CLAIM = (
    postgresql_insert(_INTERACTION_TABLE)
    .on_conflict_do_nothing(index_elements=["messenger", "update_id"])
    .returning(_INTERACTION_TABLE.c.id)
)


class SqlInteractionRepository:
    def __init__(self, session: AsyncSession, *, write_back: bool = False) -> None:
        self._s = session
        self._write_back = write_back

    async def record(
        self,
        *,
        occurred_at: datetime,
        channel: str,
        direction: str,
        kind: str,
        actor: str,
        client_id: int | None = None,
        staff_id: int | None = None,
        chat_id: int | None = None,
        text: str | None = None,
        payload: dict[str, Any] | None = None,
        update_id: int | None = None,
        messenger: str | None = None,
    ) -> int:
        if update_id is not None and messenger is None:
            # The claim is unique per messenger; without one it would never conflict.
            messenger = Messenger.TELEGRAM.value
        values: dict[str, Any] = {
            "occurred_at": occurred_at,
            "channel": channel,
            "direction": direction,
            "kind": kind,
            "actor": actor,
            "client_id": client_id,
            "staff_id": staff_id,
            "chat_id": chat_id,
            "text": text,
            "payload": payload,
            "update_id": update_id,
            "messenger": messenger,
        }
        new_id = await self._insert(values)
        # A note is written back as a note; its mirror in this log is not sent twice.
        mirrors_note = channel == "crm" and kind == WriteKind.NOTE.value
        kept = for_the_crm(direction=direction, text=text, payload=payload)
        if self._write_back and client_id is not None and not mirrors_note and kept:
            await enqueue(
                self._s,
                WriteKind.INTERACTION,
                entity_id=new_id,
                client_id=client_id,
                now=occurred_at,
            )
        return new_id

    async def _insert(self, values: dict[str, Any]) -> int:
        update_id = values["update_id"]
        if update_id is None:
            row = m.InteractionRow(**values)
            self._s.add(row)
            await self._s.flush()
            return row.id
        # The unique update_id is the durable dedupe claim. ON CONFLICT DO NOTHING makes the
        # claim one statement (no savepoint) and leaves the transaction usable.
        dialect = self._s.get_bind().dialect.name
        if dialect == "sqlite":
            inserted = await self._s.execute(_SQLITE_CLAIM, values)
            if not inserted.rowcount:  # type: ignore[attr-defined]
                raise DuplicateUpdate(update_id)
            return int(inserted.lastrowid)  # type: ignore[attr-defined]
        if dialect == "postgresql":
            claimed = await self._s.scalar(_POSTGRESQL_CLAIM, values)
            if claimed is None:
                raise DuplicateUpdate(update_id)
            return int(claimed)
        # Other databases: a savepoint keeps the outer transaction usable when the claim loses.
        row = m.InteractionRow(**values)
        try:
            async with self._s.begin_nested():
                self._s.add(row)
        except IntegrityError as exc:
            raise DuplicateUpdate(update_id) from exc
        return row.id

    async def for_client(self, client_id: int, *, limit: int = 50) -> list[Interaction]:
        rows = await self._s.scalars(
            select(m.InteractionRow)
            .where(m.InteractionRow.client_id == client_id)
            .order_by(m.InteractionRow.occurred_at.desc(), m.InteractionRow.id.desc())
            .limit(limit)
        )
        return [Interaction.model_validate(r) for r in rows]

    async def last_messenger(self, client_id: int) -> str | None:
        """The messenger the client last wrote from (their latest inbound update), if any."""
        found = await self._s.scalar(
            select(m.InteractionRow.messenger)
            .where(
                m.InteractionRow.client_id == client_id,
                m.InteractionRow.direction == "in",
                m.InteractionRow.messenger.is_not(None),
            )
            .order_by(m.InteractionRow.occurred_at.desc(), m.InteractionRow.id.desc())
            .limit(1)
        )
        return str(found) if found is not None else None

    async def count(self) -> int:
        return int(await self._s.scalar(select(func.count(m.InteractionRow.id))) or 0)

    async def purge_before(self, moment: datetime) -> int:
        result = await self._s.execute(
            delete(m.InteractionRow).where(m.InteractionRow.occurred_at < moment)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class SqlProfileRepository:
    def __init__(self, session: AsyncSession, *, write_back: bool = False) -> None:
        self._s = session
        self._write_back = write_back

    async def holdings(self, client_id: int) -> list[ProductHolding]:
        rows = await self._s.scalars(
            select(m.ProductHoldingRow)
            .where(m.ProductHoldingRow.client_id == client_id)
            .order_by(m.ProductHoldingRow.id)
        )
        return [ProductHolding.model_validate(r) for r in rows]

    async def life_events(self, client_id: int) -> list[LifeEvent]:
        rows = await self._s.scalars(
            select(m.LifeEventRow)
            .where(m.LifeEventRow.client_id == client_id)
            .order_by(m.LifeEventRow.happened_on.desc())
        )
        return [LifeEvent.model_validate(r) for r in rows]

    async def notes(self, client_id: int, *, limit: int = 20) -> list[Note]:
        rows = await self._s.scalars(
            select(m.NoteRow)
            .where(m.NoteRow.client_id == client_id)
            # Notes written within one second still come newest first.
            .order_by(m.NoteRow.created_at.desc(), m.NoteRow.id.desc())
            .limit(limit)
        )
        return [Note.model_validate(r) for r in rows]

    async def add_note(
        self, *, client_id: int, author_id: int | None, text: str, kind: str, now: datetime
    ) -> Note:
        row = m.NoteRow(
            client_id=client_id, author_id=author_id, text=text, kind=kind, created_at=now
        )
        self._s.add(row)
        await self._s.flush()
        if self._write_back:
            await enqueue(self._s, WriteKind.NOTE, entity_id=row.id, client_id=client_id, now=now)
        return Note.model_validate(row)
