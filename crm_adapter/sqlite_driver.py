"""SQLite through aiosqlite with one thread hop per statement.

aiosqlite runs every call on the connection's worker thread and SQLAlchemy's adapter makes
four such calls per statement (open a cursor, execute, fetch, close). Each hop wakes the
worker and then the event loop; for the few small statements of an update the hops cost more
than the SQL. This adapter runs a whole statement (cursor, execute, fetch, close) as one job
on the same worker thread, so an update's bookkeeping costs a third of the hops. Everything
else (connections, transactions, pooling, errors) stays SQLAlchemy's aiosqlite dialect.

It also keeps the writers of one process in line. SQLite has one write lock per file, and a
connection that wants it while another holds it sleeps on its worker thread (busy_timeout) or,
having read first, fails with "database is locked". When the dispatcher runs updates
concurrently (polling and webhooks both do) a dozen transactions could sleep in threads while
the holder waited for its turn on the event loop: seconds of stalls, then errors. Here a write
transaction first takes an asyncio lock per database file, so the others wait on the event
loop, in order, and never inside SQLite. Other processes (a CLI command, the scheduler) still
meet busy_timeout, which is short work for them.

Two kinds of work skip the worker thread altogether, because the hop cost more than they do
and they never wait inside SQLite: the update ledger's jobs (`LoopConnection`, which waits
for another process's lock on the loop), and the statements of an update's own unit of work
that are SELECTs or come after the transaction's first write
(`OneHopConnection.may_run_inline`).

It leans on two internals of aiosqlite (`Connection._execute` queues a function on the worker
thread, `Connection._conn` is the sqlite3 connection); `one_hop_dbapi` returns None when they
are missing so the engine falls back to the stock adapter instead of breaking.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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

T = TypeVar("T")

# (description, rowcount, lastrowid, rows) of a finished statement.
_Outcome = tuple[Any, int, int | None, list[Any]]

# Set for the unit of work of an update's handler (`SqlCrm.unit_of_work(interactive=True)`):
# its statements that cannot wait may run on the loop (`OneHopConnection.may_run_inline`).
INLINE_STATEMENTS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_inline_statements", default=False
)

# sqlite3 (in its default, legacy transaction mode) opens a transaction right before these
# statements and only these; everything else runs on its own, outside a write transaction.
_OPENS_TRANSACTION = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# As long as the busy_timeout the engine sets: the same patience, then the same error.
GATE_TIMEOUT_SECONDS = 30.0


def opens_transaction(operation: str) -> bool:
    return operation.lstrip()[:7].upper().startswith(_OPENS_TRANSACTION)


def is_plain_read(operation: str) -> bool:
    """A SELECT: in sqlite3's legacy mode it runs outside any transaction of the connection."""
    return operation.lstrip()[:6].upper() == "SELECT"


class WriterGate:
    """One write transaction at a time per database file within this process."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; a CLI may run several loops in turn.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    async def enter(self) -> asyncio.Lock:
        """Takes the file's write turn and returns the lock to release; raises sqlite3's own
        "database is locked" after GATE_TIMEOUT_SECONDS, as busy_timeout would."""
        lock = self.lock()
        if not lock.locked():
            # The usual case, and a free lock is taken at once: no timer to arm and cancel.
            await lock.acquire()
            return lock
        try:
            async with asyncio.timeout(GATE_TIMEOUT_SECONDS):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        return lock


_GATES: dict[str, WriterGate] = {}


def gate_for(database: object) -> WriterGate | None:
    """The file's gate; None for private in-memory databases, which nothing else shares."""
    name = os.fspath(database) if isinstance(database, (str, os.PathLike)) else ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return _GATES.setdefault(os.path.abspath(name), WriterGate())


# Every connection to a database file runs these first (the engine's and dedicated ones).
PRAGMAS = (
    # WAL lets the console, the scheduler and a CLI command read while the bot writes;
    # NORMAL sync is durable across application crashes, which is what WAL needs.
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={int(GATE_TIMEOUT_SECONDS * 1000)}",
)


def apply_pragmas(connection: Any, *, secure_delete: bool = True) -> None:
    """On a DBAPI connection (sqlite3's, or SQLAlchemy's adapter of aiosqlite).

    `secure_delete` (DATABASE_SQLITE_SECURE_DELETE): deleted and overwritten content is
    zeroed rather than left in free pages until they are reused (a text before it was
    masked, an erased client's rows, 152-FZ); off, the build's default is overridden too.
    """
    cursor = connection.cursor()
    try:
        for pragma in (*PRAGMAS, f"PRAGMA secure_delete={'ON' if secure_delete else 'OFF'}"):
            cursor.execute(pragma)
            if pragma == "PRAGMA journal_mode=WAL":
                mode = cursor.fetchone()
                wal = mode is not None and str(mode[0]).lower() == "wal"
                if isinstance(connection, OneHopConnection):
                    connection.wal = wal
                if not wal:
                    log.warning("SQLite refused WAL mode (%s): readers may wait for writers", mode)
    finally:
        cursor.close()


def _run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """The whole statement in one go: on aiosqlite's worker thread, or inline."""
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
        connection = self._adapt_connection
        inline = False
        if isinstance(connection, OneHopConnection):
            inline = connection.may_run_inline(operation)
            if opens_transaction(operation):
                await connection.enter_write()
            elif not is_plain_read(operation):
                connection.touched = True
        async with connection._execute_mutex:
            if inline:
                outcome = _run_statement(self._connection._conn, operation, parameters, many)
            else:
                outcome = await self._connection._execute(
                    _run_statement, self._connection._conn, operation, parameters, many
                )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_gate", "_held", "touched", "wal")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any, gate: WriterGate | None) -> None:
        super().__init__(dbapi, connection)
        self._gate = gate
        self._held: asyncio.Lock | None = None
        # Set by a statement that may have opened a transaction without taking the write
        # turn (SAVEPOINT, BEGIN, a CTE...): its commit or rollback must reach SQLite.
        self.touched = False
        # Whether SQLite accepted WAL mode (apply_pragmas): without it a reader can wait for
        # a writer, so nothing runs on the loop.
        self.wal = False

    def may_run_inline(self, operation: str) -> bool:
        """Whether `operation` can run on the event loop instead of the worker thread.

        Only a statement that cannot wait for a lock, and only for an update's own unit of
        work (INLINE_STATEMENTS): a SELECT (in WAL mode readers never wait for writers), or
        any statement of a transaction that already holds the file's write turn and SQLite's
        write lock with it. The first write of a transaction (it may wait for another
        process's lock) and COMMIT (it may checkpoint the log, with fsyncs) keep the hop.
        An update's statements are a handful of indexed look-ups, each far cheaper than the
        two thread wake-ups of a hop; scheduler jobs and commands keep the worker thread,
        so a long report never holds up the loop.
        """
        if self._gate is None or not self.wal or not INLINE_STATEMENTS.get():
            return False
        return self._held is not None or is_plain_read(operation)

    async def enter_write(self) -> None:
        """Waits for the file's write turn unless this connection's transaction has it."""
        if self._gate is None or self._held is not None:
            return
        self._held = await self._gate.enter()

    async def run_job(self, job: Callable[..., T], *args: Any, write: bool = False) -> T:
        """`job(sqlite3_connection, *args)` on the worker thread as one hop.

        A job that writes waits for the file's write turn first and must end its own
        transaction (commit or roll back) before it returns.
        """
        if write:
            await self.enter_write()
        try:
            async with self._execute_mutex:
                result: T = await self._connection._execute(job, self._connection._conn, *args)
                return result
        finally:
            if write:
                self._leave_write()

    def _leave_write(self) -> None:
        held, self._held = self._held, None
        self.touched = False
        if held is not None and held.locked():
            held.release()

    def _nothing_to_end(self) -> bool:
        """Only SELECTs since the last commit: sqlite3 has no transaction open, and ending
        one would be a hop to the worker thread for nothing (a read-only unit of work)."""
        return self._gate is not None and self._held is None and not self.touched

    def _end_transaction(self, end: Callable[[], None]) -> None:
        """However the transaction ends (commit, rollback, close, terminate), and whether or
        not ending it fails, the file's write turn is given back."""
        try:
            end()
        finally:
            self._leave_write()

    def commit(self) -> None:
        if not self._nothing_to_end():
            self._end_transaction(super().commit)

    def rollback(self) -> None:
        if not self._nothing_to_end():
            self._end_transaction(super().rollback)

    def close(self) -> None:
        self._end_transaction(super().close)

    def terminate(self) -> None:
        self._end_transaction(super().terminate)


class LoopConnection:
    """A connection of its own, used on the event loop itself, for one component's short jobs.

    The update ledger runs two tiny jobs per update (read who is writing and claim the
    update; log the replies), each a few indexed statements and a commit: tens of
    microseconds of SQLite. On a worker thread each job also paid a wake-up of that thread and
    one of the loop, which cost more than the SQL. So the jobs run inline, and what could
    stall the loop is kept away from it:

    - Locks: the connection's busy timeout is zero. Writers of this process take the file's
      turn from the same `WriterGate` as the engine's connections first, so only another
      process (a CLI command, a standalone scheduler) can hold SQLite's lock; then the job,
      rolled back, is tried again after an `asyncio.sleep` (backing off up to 50 ms) while
      the loop serves other updates, until GATE_TIMEOUT_SECONDS, and then fails with
      "database is locked" as a busy timeout would. A job is a whole transaction, so trying
      it again is safe.
    - Checkpoints: SQLite copies the write-ahead log into the database (with fsyncs) on the
      commit that finds the log long. This connection never does (wal_autocheckpoint=0);
      every CHECKPOINT_EVERY writing jobs a PASSIVE checkpoint runs on a worker thread of a
      second connection, which waits for no one.
    """

    CHECKPOINT_EVERY = 200

    def __init__(self, database: str, gate: WriterGate, *, secure_delete: bool = True) -> None:
        self._database = database
        self._gate = gate
        self._secure_delete = secure_delete
        self._connection: sqlite3.Connection | None = None
        self._writes = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self.checkpoints = 0

    def _ready(self) -> sqlite3.Connection:
        if self._connection is None:
            # No busy wait at any point, opening included: a lock is waited for on the loop.
            connection = sqlite3.connect(self._database, timeout=0)
            try:
                apply_pragmas(connection, secure_delete=self._secure_delete)
                connection.execute("PRAGMA busy_timeout=0")
                connection.execute("PRAGMA wal_autocheckpoint=0")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    async def run_job(self, job: Callable[..., T], *args: Any, write: bool = False) -> T:
        """`job(sqlite3_connection, *args)` on the loop; it must end its own transaction.

        A job that writes takes the file's write turn first.
        """
        lock = await self._gate.enter() if write else None
        try:
            result = await self._attempts(job, args)
        finally:
            if lock is not None:
                lock.release()
        if write:
            self._count_write()
        return result

    async def _attempts(self, job: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GATE_TIMEOUT_SECONDS
        pause = 0.001
        while True:
            connection: sqlite3.Connection | None = None
            try:
                connection = self._ready()
                return job(connection, *args)
            except BaseException as error:
                if connection is not None and connection.in_transaction:
                    connection.rollback()
                if not _is_busy(error) or loop.time() + pause > deadline:
                    raise
            log.debug("database locked by another process; trying again in %.3f s", pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _count_write(self) -> None:
        self._writes += 1
        if self._writes % self.CHECKPOINT_EVERY == 0 and (
            self._checkpoint is None or self._checkpoint.done()
        ):
            self._checkpoint = asyncio.ensure_future(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            async with aiosqlite.connect(self._database) as connection:
                await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.checkpoints += 1
        except Exception:
            # The next one catches up; the log only grows meanwhile.
            log.warning("checkpoint of the write-ahead log failed", exc_info=True)

    async def close(self) -> None:
        checkpoint, self._checkpoint = self._checkpoint, None
        if checkpoint is not None:
            await checkpoint
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" (another connection holds the lock we need)."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*arg, **kw)
        database = arg[0] if arg else kw.get("database")
        return OneHopConnection(self, stock._connection, gate_for(database))


def one_hop_dbapi() -> OneHopDbapi | None:
    """The adapter for `create_async_engine(module=...)`, or None on an unknown aiosqlite."""
    connection = aiosqlite.Connection
    if not (hasattr(connection, "_execute") and hasattr(connection, "_conn")):
        log.warning(
            "aiosqlite %s lacks the internals we use; stock adapter", aiosqlite.__version__
        )
        return None
    return OneHopDbapi(aiosqlite, sqlite3)
