"""Every update's own bookkeeping, in as few round trips as the engine allows.

Each update reads who is writing, claims its update id by logging the inbound interaction,
and after the handler logs the replies it caused. Run through an ORM session these three
were the largest share of a menu press in profiles of `bench.dispatch`, nearly all of it
per-statement machinery (session, connection checkout, greenlet hops, result objects), not
SQL. So here:

- On a SQLite file (our one-hop aiosqlite adapter) the ledger has a connection of its own,
  outside the pool, used on the event loop itself (`LoopConnection`: no thread hops, and
  neither a lock held by another process nor a checkpoint can stall the loop), and opening
  an update (read, claim, commit) is one job, as is logging the replies: SQL that
  SQLAlchemy compiled once from the same tables, with SQLAlchemy's own type conversions (UTC
  timestamps, JSON) applied on both sides, so the schema stays in `models/` and nothing is
  hand-written twice.
- On other engines (PostgreSQL) the same Core statements run on a pooled connection, without
  an ORM session.

None of them joins the handler's unit of work: the claim is committed before the handler
runs (a failing handler never erases what the person sent) and the replies after it (a lost
log line never undoes what the handler committed).

When the bank's own CRM is the master (`write_back`), each interaction of a client is also
queued for it (`crm_write`, see crm_adapter.master.queue) in the same transaction: on SQLite
one more INSERT … SELECT by primary key in the same job; on PostgreSQL the queue insert rides
in the same statement as a data-modifying CTE, so the claim stays one round trip.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable

from crm_adapter import models as m
from crm_adapter.dto import Client, LinkedAccount, MessengerLink, Staff
from crm_adapter.master.queue import enqueue_interactions_between, queue_interactions_from
from crm_adapter.port import ChatKey, DuplicateUpdate, Owner, UpdateLedger
from crm_adapter.sqlite_driver import LoopConnection, OneHopDbapi, WriterGate, gate_for

log = logging.getLogger(__name__)

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
_OWNER_QUERY = (
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


def reply_row(
    record: Mapping[str, Any], owners: Mapping[ChatKey, Owner]
) -> dict[str, Any]:
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


def ledger_for(engine: AsyncEngine, *, write_back: bool = False) -> UpdateLedger:
    """The SQLite ledger for a database file under our adapter, else the Core one.

    `write_back`: clients' interactions are also queued for the bank's own CRM.
    """
    gate = gate_for(engine.url.database)
    if isinstance(engine.dialect.loaded_dbapi, OneHopDbapi) and gate is not None:
        return SqliteUpdateLedger(engine, gate, write_back=write_back)
    return CoreUpdateLedger(engine, write_back=write_back)


def _postgresql_claim_and_queue() -> Executable:
    """The claim with the client's write queued in the same statement; returns the new id."""
    claimed = (
        postgresql_insert(INTERACTION)
        .values({name: bindparam(name) for name in INTERACTION_COLUMNS})
        .on_conflict_do_nothing(index_elements=CLAIM_KEY)
        .returning(INTERACTION.c.id, INTERACTION.c.client_id, INTERACTION.c.occurred_at)
        .cte("claimed")
    )
    # A data-modifying CTE runs whether or not the main query reads it.
    queued = queue_interactions_from(claimed).cte("queued")
    return select(claimed.c.id).add_cte(queued)


def _postgresql_replies_and_queue(count: int) -> Executable:
    """`count` replies and their queued writes in one statement (a data-modifying CTE)."""
    values = [
        {
            name: bindparam(f"{name}_{i}", type_=INTERACTION.c[name].type)
            for name in INTERACTION_COLUMNS
        }
        for i in range(count)
    ]
    inserted = (
        insert(INTERACTION)
        .values(values)
        .returning(INTERACTION.c.id, INTERACTION.c.client_id, INTERACTION.c.occurred_at)
        .cte("inserted")
    )
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
        self._replies: dict[int, _Compiled] = {}

    def _replies_compiled(self, count: int) -> _Compiled:
        """The PostgreSQL replies-and-queue statement for `count` rows, compiled once: a
        multi-row INSERT is one SQLAlchemy never caches, and compiling it on every update
        cost more CPU than the rest of the reply log."""
        found = self._replies.get(count)
        if found is None:
            found = _Compiled(_postgresql_replies_and_queue(count), self._engine_dialect)
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
        if self._write_back and self._dialect != "postgresql" and values["client_id"] is not None:
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
            for messenger, chat_id in _unknown_chats(records, owners):
                found = await conn.execute(
                    _OWNER_QUERY, {"chat_id": chat_id, "messenger": messenger}
                )
                row = found.first()
                owners[messenger, chat_id] = (row[0], row[1]) if row is not None else (None, None)
            rows = [reply_row(r, owners) for r in records]
            if not self._write_back or all(r["client_id"] is None for r in rows):
                await conn.execute(insert(INTERACTION), rows)
            elif self._dialect == "postgresql":
                # Autocommit: the replies and their queued writes must be one statement.
                compiled = self._replies_compiled(len(rows))
                values = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in row}
                await conn.exec_driver_sql(compiled.sql, compiled.parameters(values))
            else:
                new = await conn.execute(
                    insert(INTERACTION).returning(
                        INTERACTION.c.id, sort_by_parameter_order=True
                    ),
                    rows,
                )
                ids = [r[0] for r in new]
                await conn.execute(
                    enqueue_interactions_between(), {"first": min(ids), "last": max(ids)}
                )


def _unknown_chats(
    records: Sequence[Mapping[str, Any]], owners: Mapping[ChatKey, Owner]
) -> list[ChatKey]:
    chats = {
        (r.get("messenger") or MESSENGER, r["chat_id"])
        for r in records
        if r["chat_id"] is not None
    }
    return sorted(chats - owners.keys())


class _Compiled:
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


class SqliteUpdateLedger:
    """One job on a connection of the ledger's own per step; see the module docstring."""

    def __init__(self, engine: AsyncEngine, gate: WriterGate, *, write_back: bool = False) -> None:
        dialect = engine.dialect
        self._write_back = write_back
        self._queue = _Compiled(enqueue_interactions_between(), dialect)
        self._account = _Compiled(ACCOUNT_QUERY, dialect)
        self._owner = _Compiled(_OWNER_QUERY, dialect)
        self._claim = _Compiled(
            sqlite_insert(INTERACTION).on_conflict_do_nothing(index_elements=CLAIM_KEY),
            dialect,
            columns=INTERACTION_COLUMNS,
        )
        self._insert = _Compiled(insert(INTERACTION), dialect, columns=INTERACTION_COLUMNS)
        database = engine.url.database
        assert database, "ledger_for gives file databases only"
        self._connection = LoopConnection(database, gate)

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
        queue = self._queue if self._write_back and interaction["client_id"] is not None else None
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
            for messenger, chat_id in _unknown_chats(records, owners):
                params = self._owner.parameters({"chat_id": chat_id, "messenger": messenger})
                row = _fetch_one(connection, self._owner.sql, params)
                owners[messenger, chat_id] = (row[0], row[1]) if row is not None else (None, None)
            rows = [reply_row(r, owners) for r in records]
            connection.executemany(self._insert.sql, [self._insert.parameters(r) for r in rows])
            if self._write_back and any(r["client_id"] is not None for r in rows):
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
    queue: _Compiled | None = None,
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
