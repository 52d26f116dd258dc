"""The update ledger on a SQLite file under our one-hop adapter: a connection of its own,
used on the event loop, one job per step; see crm_adapter.update_ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_adapter.dto import LinkedAccount
from crm_adapter.master.queue import enqueue_interactions_between, owed_to_the_crm
from crm_adapter.port import ChatKey, DuplicateUpdate, Owner
from crm_adapter.sqlite_driver import LoopConnection, WriterGate
from crm_adapter.update_ledger_statements import (
    ACCOUNT_QUERY,
    CLAIM_KEY,
    INTERACTION,
    INTERACTION_COLUMNS,
    MESSENGER,
    OWNER_QUERY,
    Compiled,
    linked_account,
    reply_row,
    unknown_chats,
)


class SqliteUpdateLedger:
    """One job on a connection of the ledger's own per step; see crm_adapter.update_ledger."""

    def __init__(
        self,
        engine: AsyncEngine,
        gate: WriterGate,
        *,
        write_back: bool = False,
        secure_delete: bool = True,
    ) -> None:
        dialect = engine.dialect
        self._write_back = write_back
        self._queue = Compiled(enqueue_interactions_between(), dialect)
        self._account = Compiled(ACCOUNT_QUERY, dialect)
        self._owner = Compiled(OWNER_QUERY, dialect)
        self._claim = Compiled(
            sqlite_insert(INTERACTION).on_conflict_do_nothing(index_elements=CLAIM_KEY),
            dialect,
            columns=INTERACTION_COLUMNS,
        )
        self._insert = Compiled(insert(INTERACTION), dialect, columns=INTERACTION_COLUMNS)
        database = engine.url.database
        assert database, "ledger_for gives file databases only"
        self._connection = LoopConnection(database, gate, secure_delete=secure_delete)

    async def close(self) -> None:
        await self._connection.close()

    async def account(self, user_id: int, *, messenger: str = MESSENGER) -> LinkedAccount | None:
        return await self._connection.run_job(self._read_account, user_id, messenger)

    async def open_update(
        self,
        user_id: int,
        inbound: Callable[[LinkedAccount | None], Mapping[str, Any]],
        *,
        messenger: str = MESSENGER,
    ) -> LinkedAccount | None:
        # Read, claim and commit in one job; `inbound` only computes the row.
        return await self._connection.run_job(
            self._open_update, user_id, inbound, messenger, write=True
        )

    async def log_replies(
        self, records: Sequence[Mapping[str, Any]], *, known_owners: Mapping[ChatKey, Owner]
    ) -> None:
        if records:
            await self._connection.run_job(
                self._log_replies, records, dict(known_owners), write=True
            )

    # The jobs: each a whole transaction, so one that met a lock can be run again.

    def _read_account(
        self, connection: sqlite3.Connection, user_id: int, messenger: str
    ) -> LinkedAccount | None:
        params = self._account.parameters({"user_id": user_id, "messenger": messenger})
        raw = _fetch_one(connection, self._account.sql, params)
        return linked_account(self._account.row(raw)) if raw is not None else None

    def _open_update(
        self,
        connection: sqlite3.Connection,
        user_id: int,
        inbound: Callable[[LinkedAccount | None], Mapping[str, Any]],
        messenger: str,
    ) -> LinkedAccount | None:
        found = self._read_account(connection, user_id, messenger)
        # The claim is unique per messenger: the row is always stamped with the one read.
        interaction = {**inbound(found), "messenger": messenger}
        queue = self._queue if self._write_back and owed_to_the_crm([interaction]) else None
        if not _insert_committed(
            connection, self._claim.sql, self._claim.parameters(interaction), queue=queue
        ):
            raise DuplicateUpdate(interaction["update_id"])
        return found

    def _log_replies(
        self,
        connection: sqlite3.Connection,
        records: Sequence[Mapping[str, Any]],
        owners: dict[ChatKey, Owner],
    ) -> None:
        # The owner look-ups, the insert and the commit in one job.
        try:
            for messenger, chat_id in unknown_chats(records, owners):
                params = self._owner.parameters({"chat_id": chat_id, "messenger": messenger})
                row = _fetch_one(connection, self._owner.sql, params)
                owners[messenger, chat_id] = (row[0], row[1]) if row is not None else (None, None)
            rows = [reply_row(r, owners) for r in records]
            connection.executemany(self._insert.sql, [self._insert.parameters(r) for r in rows])
            if self._write_back and owed_to_the_crm(rows):
                # This job holds the write lock: the rows just inserted took consecutive
                # rowids ending at the connection's last one.
                last = int(_fetch_one(connection, "SELECT last_insert_rowid()", ())[0])
                span = {"first": last - len(rows) + 1, "last": last}
                _execute(connection, self._queue.sql, self._queue.parameters(span))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise


def _fetch_one(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    cursor = connection.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def _execute(connection: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> None:
    connection.execute(sql, params).close()


def _insert_committed(
    connection: sqlite3.Connection,
    sql: str,
    params: tuple[Any, ...],
    *,
    queue: Compiled | None = None,
) -> bool:
    """Whether the row went in (ON CONFLICT DO NOTHING leaves rowcount 0); committed either way.

    With `queue`, the new row is queued for the bank's CRM in the same transaction.
    """
    try:
        cursor = connection.execute(sql, params)
        inserted = cursor.rowcount == 1
        new_id = cursor.lastrowid
        cursor.close()
        if inserted and queue is not None:
            _execute(connection, queue.sql, queue.parameters({"first": new_id, "last": new_id}))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return inserted
