"""SQLite through aiosqlite with one thread hop per statement.

aiosqlite runs every call on the connection's worker thread and SQLAlchemy's adapter makes
four such calls per statement (open a cursor, execute, fetch, close). Each hop wakes the
worker and then the event loop; for the few small statements of an update the hops cost more
than the SQL. This adapter runs a whole statement (cursor, execute, fetch, close) as one job
on the same worker thread, so an update's bookkeeping costs a third of the hops. Everything
else (connections, transactions, pooling, errors) stays SQLAlchemy's aiosqlite dialect.

It leans on two internals of aiosqlite (`Connection._execute` queues a function on the worker
thread, `Connection._conn` is the sqlite3 connection); `one_hop_dbapi` returns None when they
are missing so the engine falls back to the stock adapter instead of breaking.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

log = logging.getLogger(__name__)

# (description, rowcount, lastrowid, rows) of a finished statement.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """Runs on aiosqlite's worker thread: the whole statement in one go."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor: results are fetched with the statement, nothing stays open."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")
    # There is no aiosqlite cursor to close asynchronously.
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Deliberately not the parent's __init__: it would open an aiosqlite cursor (a hop).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # rows are always fetched whole

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await self._connection._execute(
                _run_statement, self._connection._conn, operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*arg, **kw)
        return OneHopConnection(self, stock._connection)


def one_hop_dbapi() -> OneHopDbapi | None:
    """The adapter for `create_async_engine(module=...)`, or None on an unknown aiosqlite."""
    connection = aiosqlite.Connection
    if not (hasattr(connection, "_execute") and hasattr(connection, "_conn")):
        log.warning(
            "aiosqlite %s lacks the internals we use; stock adapter", aiosqlite.__version__
        )
        return None
    return OneHopDbapi(aiosqlite, sqlite3)
