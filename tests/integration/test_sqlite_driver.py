"""The one-hop SQLite adapter behaves like the stock aiosqlite one, with fewer thread hops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_adapter import sqlite_driver
from crm_adapter.sql import create_engine
from crm_adapter.sqlite_driver import OneHopConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The store's engine (the one-hop adapter) on a file of this test's own."""
    created = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    yield created
    await created.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of the functions sent to aiosqlite's worker thread."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


async def test_statements_rows_and_errors_through_the_adapter(
    engine: AsyncEngine, hops: list[str]
) -> None:
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneHopConnection)
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1 and inserted.rowcount == 1
        many = await conn.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}]
        )
        assert many.rowcount == 2
    hops.clear()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
        assert (await conn.execute(text("SELECT name FROM t WHERE id = 9"))).first() is None
    # Each statement is one job on the worker thread (plus the transaction's end).
    assert hops.count("_run_statement") == 2
    assert "cursor" not in hops and "fetchall" not in hops and "close" not in hops

    async with engine.begin() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    async with engine.connect() as conn:
        with pytest.raises(OperationalError):
            await conn.execute(text("SELECT nope FROM t"))
        # The connection stays usable after an error.
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3


async def test_a_rolled_back_transaction_leaves_nothing(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_writers_of_one_process_take_turns_on_the_event_loop(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    first_wrote, release_first = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
            first_wrote.set()
            await release_first.wait()  # the handler awaits something mid-transaction

    async def second() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (who) VALUES ('second')"))

    holder = asyncio.create_task(first())
    await first_wrote.wait()
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0.2)
    # The second writer waits for its turn without a thread asleep in SQLite; readers go on.
    assert not waiter.done()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    release_first.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 5)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT who FROM t ORDER BY id"))).scalars().all()
    assert rows == ["first", "second"]

    # A turn that never comes ends like SQLite's own busy timeout: "database is locked".
    monkeypatch.setattr(sqlite_driver, "GATE_TIMEOUT_SECONDS", 0.2)
    first_wrote.clear()
    release_first.clear()
    holder = asyncio.create_task(first())
    await first_wrote.wait()
    with pytest.raises(OperationalError, match="database is locked"):
        await second()
    release_first.set()
    await holder
    async with engine.begin() as conn:  # the turn is free again
        await conn.execute(text("INSERT INTO t (who) VALUES ('third')"))


def test_statements_that_open_a_write_transaction() -> None:
    assert sqlite_driver.opens_transaction("  insert into t values (1)")
    assert sqlite_driver.opens_transaction("UPDATE t SET a = 1")
    assert sqlite_driver.opens_transaction("DELETE FROM t")
    assert sqlite_driver.opens_transaction("REPLACE INTO t VALUES (1)")
    assert not sqlite_driver.opens_transaction("SELECT 1")
    assert not sqlite_driver.opens_transaction("CREATE TABLE x (a)")
    assert sqlite_driver.gate_for(":memory:") is None
    assert sqlite_driver.gate_for("a.db") is sqlite_driver.gate_for(Path("a.db").resolve())


async def test_a_read_only_transaction_ends_without_a_hop(
    engine: AsyncEngine, hops: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
    hops.clear()
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    # Only SELECTs: sqlite3 opened no transaction, so there is no COMMIT to send.
    assert hops == ["_run_statement"]

    hops.clear()
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
    assert hops == ["_run_statement", "commit"]


async def test_a_transaction_a_savepoint_opened_is_still_committed(engine: AsyncEngine) -> None:
    # SAVEPOINT outside a transaction starts one in SQLite without sqlite3 noticing; its end
    # must reach SQLite, or the connection would go back to the pool mid-transaction.
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    async with engine.connect() as conn:
        await conn.execute(text("SAVEPOINT s"))
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        await conn.commit()
        raw = await conn.get_raw_connection()
        sqlite3_connection = raw.dbapi_connection._connection._conn  # type: ignore[union-attr]
        in_transaction = await raw.dbapi_connection._connection._execute(  # type: ignore[union-attr]
            lambda: sqlite3_connection.in_transaction
        )
        assert not in_transaction


async def test_an_updates_statements_that_cannot_wait_run_on_the_loop(
    engine: AsyncEngine, hops: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        raw = await conn.get_raw_connection()
        # Readers never wait for writers only in WAL mode; without it nothing runs inline.
        assert isinstance(raw.dbapi_connection, OneHopConnection)
        assert raw.dbapi_connection.wal
    hops.clear()
    token = sqlite_driver.INLINE_STATEMENTS.set(True)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            # The first write may wait for another process's lock: on the worker thread.
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            # The transaction holds the write lock now: nothing left to wait for.
            await conn.execute(text("UPDATE t SET name = 'b'"))
            assert (await conn.execute(text("SELECT name FROM t"))).scalar() == "b"
        # COMMIT may checkpoint the log (fsyncs): on the worker thread too.
        assert hops == ["_run_statement", "commit"]
    finally:
        sqlite_driver.INLINE_STATEMENTS.reset(token)
    hops.clear()
    async with engine.connect() as conn:  # outside an update: every statement hops
        assert (await conn.execute(text("SELECT name FROM t"))).scalar() == "b"
    assert hops == ["_run_statement"]
