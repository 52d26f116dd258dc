"""The update ledger on any engine but our SQLite adapter (PostgreSQL): Core statements on a
pooled connection, no ORM session; see crm_adapter.update_ledger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable

from crm_adapter.dto import LinkedAccount
from crm_adapter.master.queue import (
    enqueue_interactions_between,
    owed_to_the_crm,
    queue_interactions_from,
)
from crm_adapter.port import ChatKey, DuplicateUpdate, Owner
from crm_adapter.update_ledger_statements import (
    ACCOUNT_QUERY,
    CLAIM_KEY,
    INTERACTION,
    INTERACTION_COLUMNS,
    MESSENGER,
    OWNER_QUERY,
    QUEUED_FROM,
    Compiled,
    linked_account,
    reply_row,
    unknown_chats,
)

log = logging.getLogger(__name__)


def _postgresql_claim_and_queue() -> Executable:
    """The claim with the client's write queued in the same statement; returns the new id."""
    claimed = (
        postgresql_insert(INTERACTION)
        .values({name: bindparam(name) for name in INTERACTION_COLUMNS})
        .on_conflict_do_nothing(index_elements=CLAIM_KEY)
        .returning(*QUEUED_FROM)
        .cte("claimed")
    )
    # A data-modifying CTE runs whether or not the main query reads it.
    queued = queue_interactions_from(claimed).cte("queued")
    return select(claimed.c.id).add_cte(queued)


def _reply_param(index: int, column: str) -> str:
    """The bind name of one reply's column. Not `<column>_<n>`: that is how SQLAlchemy names
    the anonymous binds of the queue's filter (`direction_1`), and the names would clash."""
    return f"r{index}_{column}"


def _postgresql_replies_and_queue(count: int) -> Executable:
    """`count` replies and their queued writes in one statement (a data-modifying CTE)."""
    values = [
        {
            name: bindparam(_reply_param(i, name), type_=INTERACTION.c[name].type)
            for name in INTERACTION_COLUMNS
        }
        for i in range(count)
    ]
    inserted = insert(INTERACTION).values(values).returning(*QUEUED_FROM).cte("inserted")
    return queue_interactions_from(inserted)


class CoreUpdateLedger:
    """Core statements on a pooled connection: any engine, no ORM session."""

    def __init__(self, engine: AsyncEngine, *, write_back: bool = False) -> None:
        self._write_back = write_back
        self._dialect = engine.dialect.name
        # Each write here is a single statement, atomic on its own: the claim is one
        # INSERT … ON CONFLICT, the reply log one multi-row INSERT (owner look-ups before it
        # only read). Autocommit spares the BEGIN and COMMIT round trips around them, four of
        # the nine an update made on PostgreSQL. Other engines keep explicit transactions.
        self._engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._dialect == "postgresql"
            else engine
        )
        claim: Executable
        if self._dialect == "postgresql" and write_back:
            claim = _postgresql_claim_and_queue()
        elif self._dialect == "postgresql":
            claim = (
                postgresql_insert(INTERACTION)
                .on_conflict_do_nothing(index_elements=CLAIM_KEY)
                .returning(INTERACTION.c.id)
            )
        elif self._dialect == "sqlite":
            claim = sqlite_insert(INTERACTION).on_conflict_do_nothing(index_elements=CLAIM_KEY)
        else:
            claim = insert(INTERACTION)
        self._claim = claim
        self._engine_dialect = engine.dialect
        self._replies: dict[int, Compiled] = {}

    def _replies_compiled(self, count: int) -> Compiled:
        """The PostgreSQL replies-and-queue statement for `count` rows, compiled once: a
        multi-row INSERT is one SQLAlchemy never caches, and compiling it on every update
        cost more CPU than the rest of the reply log."""
        found = self._replies.get(count)
        if found is None:
            found = Compiled(_postgresql_replies_and_queue(count), self._engine_dialect)
            self._replies[count] = found
        return found

    async def close(self) -> None:
        """Nothing of its own: its connections are the engine's."""

    async def account(self, user_id: int, *, messenger: str = MESSENGER) -> LinkedAccount | None:
        async with self._engine.connect() as conn:
            return await self._account_again_if_dropped(conn, user_id, messenger)

    async def open_update(
        self,
        user_id: int,
        inbound: Callable[[LinkedAccount | None], Mapping[str, Any]],
        *,
        messenger: str = MESSENGER,
    ) -> LinkedAccount | None:
        # One checkout for both.
        async with self._engine.connect() as conn:
            found = await self._account_again_if_dropped(conn, user_id, messenger)
            await self._claim_committed(conn, {**inbound(found), "messenger": messenger})
        return found

    async def _account_again_if_dropped(
        self, conn: AsyncConnection, user_id: int, messenger: str
    ) -> LinkedAccount | None:
        """The account read; once more on a fresh connection if the server had dropped this one.

        It is every update's first statement, so after a database restart under traffic it
        is the one that meets the dead pooled connections (only idle ones are pinged: see
        `crm_adapter.sql.ping_when_idle`). Nothing was written yet, so reading again is safe,
        and the update goes on instead of failing.
        """
        try:
            return await self._account(conn, user_id, messenger)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        log.warning("database connection dropped; reading the account on a fresh one")
        await conn.invalidate()
        await conn.rollback()
        return await self._account(conn, user_id, messenger)

    async def _account(
        self, conn: AsyncConnection, user_id: int, messenger: str
    ) -> LinkedAccount | None:
        found = await conn.execute(ACCOUNT_QUERY, {"user_id": user_id, "messenger": messenger})
        row = found.first()
        return linked_account(row._mapping) if row is not None else None

    async def _claim_committed(
        self, conn: AsyncConnection, interaction: Mapping[str, Any]
    ) -> None:
        values = dict(interaction)
        try:
            result = await conn.execute(self._claim, values)
            if self._dialect == "postgresql":
                claimed = result.scalar() is not None
            else:
                claimed = result.rowcount == 1
        except IntegrityError as exc:  # engines without ON CONFLICT: the unique index says it
            await conn.rollback()
            raise DuplicateUpdate(values["update_id"]) from exc
        if not claimed:
            await conn.rollback()
            raise DuplicateUpdate(values["update_id"])
        if self._write_back and self._dialect != "postgresql" and owed_to_the_crm([values]):
            new_id = result.lastrowid
            await conn.execute(enqueue_interactions_between(), {"first": new_id, "last": new_id})
        await conn.commit()

    async def log_replies(
        self, records: Sequence[Mapping[str, Any]], *, known_owners: Mapping[ChatKey, Owner]
    ) -> None:
        if not records:
            return
        owners = dict(known_owners)
        async with self._engine.begin() as conn:
            for messenger, chat_id in unknown_chats(records, owners):
                found = await conn.execute(
                    OWNER_QUERY, {"chat_id": chat_id, "messenger": messenger}
                )
                row = found.first()
                owners[messenger, chat_id] = (row[0], row[1]) if row is not None else (None, None)
            rows = [reply_row(r, owners) for r in records]
            if not self._write_back or not owed_to_the_crm(rows):
                await conn.execute(insert(INTERACTION), rows)
            elif self._dialect == "postgresql":
                # Autocommit: the replies and their queued writes must be one statement.
                compiled = self._replies_compiled(len(rows))
                values = {
                    _reply_param(i, name): row[name] for i, row in enumerate(rows) for name in row
                }
                await conn.exec_driver_sql(compiled.sql, compiled.parameters(values))
            else:
                new = await conn.execute(
                    insert(INTERACTION).returning(INTERACTION.c.id, sort_by_parameter_order=True),
                    rows,
                )
                ids = [r[0] for r in new]
                await conn.execute(
                    enqueue_interactions_between(), {"first": min(ids), "last": max(ids)}
                )
