"""The SQL CRM adapter: engine set-up for SQLite and PostgreSQL, and the unit of work."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm_adapter.client_desk import (
    SqlFeedbackRepository,
    SqlRelayRepository,
    SqlServiceRequestRepository,
)
from crm_adapter.events_repository import SqlEventRepository
from crm_adapter.master.queue import SqlCrmWriteQueue
from crm_adapter.migrate import require_current_schema
from crm_adapter.personal_data_sql import SqlPersonalDataRepository
from crm_adapter.port import UpdateLedger
from crm_adapter.repositories_activity import SqlInteractionRepository, SqlProfileRepository
from crm_adapter.repositories_delivery import (
    SqlContactDecisionRepository,
    SqlOutboxRepository,
    SqlRuleFiringRepository,
)
from crm_adapter.repositories_people import (
    SqlAuditRepository,
    SqlClientRepository,
    SqlConsentRepository,
    SqlLinkCodeRepository,
    SqlLinkRepository,
    SqlStaffRepository,
)
from crm_adapter.sqlite_driver import INLINE_STATEMENTS, apply_pragmas, one_hop_dbapi
from crm_adapter.update_ledger import ledger_for
from crm_adapter.web_access_sql import SqlWebAccessRepository
from crm_adapter.workspace_sql import SqlWorkspaceRepository


def create_engine(url: str, *, echo: bool = False, secure_delete: bool = True) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys, its directory is created, and
    `secure_delete` (sqlite_driver.apply_pragmas).

    Bound values never reach a log line: a failed statement's error text (logged with its
    traceback) and `echo` would otherwise show them, and they hold what people typed.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # An update's statements may run on the event loop rather than the connection's
        # worker thread (sqlite_driver.INLINE_STATEMENTS); never both at once: the adapter's
        # per-connection mutex is held either way.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # Sessions and connections always end their transaction (commit, or rollback on
        # close) before a connection goes back to the pool, so the pool's own ROLLBACK on
        # return is redundant; on aiosqlite every statement is a hop to a worker thread and
        # this one was a sixth of the hops of an update.
        kwargs["pool_reset_on_return"] = None
        if parsed.get_driver_name() == "aiosqlite":
            dbapi = one_hop_dbapi()
            if dbapi is not None:
                kwargs["module"] = dbapi
    else:
        # No pool_pre_ping: see ping_when_idle.
        kwargs.update(pool_size=10, max_overflow=10)
        # `?search_path=schema` puts the CRM in its own PostgreSQL schema (banks share
        # clusters; the tests use one schema per test).
        schema = parsed.query.get("search_path")
        if isinstance(schema, str):
            parsed = parsed.difference_update_query(["search_path"])
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(
            engine.sync_engine,
            "connect",
            lambda dbapi, _record: apply_pragmas(dbapi, secure_delete=secure_delete),
        )
    else:
        ping_when_idle(engine.sync_engine, IDLE_PING_SECONDS)
    return engine


# A pooled server connection idle this long is pinged before use.
IDLE_PING_SECONDS = 5.0


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Pings a pooled connection at checkout only when it has sat idle `idle_seconds`.

    pool_pre_ping pinged at every checkout: a round trip before each of an update's two or
    three checkouts (bench.dispatch on PostgreSQL: 186-198/s with it, 238-239/s without). A
    connection checked in moments ago is as alive as a ping could show; one idle longer (a
    restarted server, a proxy's idle timeout) is pinged, and a dead one is replaced before
    anyone uses it, as pre-ping did. A server that dies under traffic fails the statements
    in flight; SQLAlchemy then invalidates the whole pool, and the update ledger reads who
    is writing once more on a fresh connection (CoreUpdateLedger).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("an idle connection failed its ping") from error


class SqlUnitOfWork:
    """Repositories over one session; feature code may reach `session` for its own queries.

    The session and each repository are made on first use: every update opens a unit of
    work, most handlers touch two or three repositories and many none, and building an
    AsyncSession with seventeen repositories up front cost more than some whole handlers.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, write_back: bool = False
    ) -> None:
        self._sessions = sessions
        # The bank's own CRM is the master: interactions, notes, requests and consent changes
        # are queued for it (crm_write) by their repositories, in this transaction.
        self.write_back = write_back

    @cached_property
    def session(self) -> AsyncSession:
        return self._sessions()

    @property
    def began(self) -> bool:
        """Whether anything has used the session yet (reading it does not create it)."""
        return "session" in self.__dict__

    @cached_property
    def staff(self) -> SqlStaffRepository:
        return SqlStaffRepository(self.session)

    @cached_property
    def clients(self) -> SqlClientRepository:
        return SqlClientRepository(self.session)

    @cached_property
    def links(self) -> SqlLinkRepository:
        return SqlLinkRepository(self.session)

    @cached_property
    def link_codes(self) -> SqlLinkCodeRepository:
        return SqlLinkCodeRepository(self.session)

    @cached_property
    def consents(self) -> SqlConsentRepository:
        return SqlConsentRepository(self.session, write_back=self.write_back)

    @cached_property
    def interactions(self) -> SqlInteractionRepository:
        return SqlInteractionRepository(self.session, write_back=self.write_back)

    @cached_property
    def profiles(self) -> SqlProfileRepository:
        return SqlProfileRepository(self.session, write_back=self.write_back)

    @cached_property
    def audit(self) -> SqlAuditRepository:
        return SqlAuditRepository(self.session)

    @cached_property
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self.session)

    @cached_property
    def contact_decisions(self) -> SqlContactDecisionRepository:
        return SqlContactDecisionRepository(self.session)

    @cached_property
    def rule_firings(self) -> SqlRuleFiringRepository:
        return SqlRuleFiringRepository(self.session)

    @cached_property
    def requests(self) -> SqlServiceRequestRepository:
        return SqlServiceRequestRepository(self.session, write_back=self.write_back)

    @cached_property
    def relay(self) -> SqlRelayRepository:
        return SqlRelayRepository(self.session)

    @cached_property
    def feedback(self) -> SqlFeedbackRepository:
        return SqlFeedbackRepository(self.session)

    @cached_property
    def workspace(self) -> SqlWorkspaceRepository:
        return SqlWorkspaceRepository(self.session)

    @cached_property
    def events(self) -> SqlEventRepository:
        return SqlEventRepository(self.session)

    @cached_property
    def web_access(self) -> SqlWebAccessRepository:
        return SqlWebAccessRepository(self.session)

    @cached_property
    def crm_writes(self) -> SqlCrmWriteQueue:
        return SqlCrmWriteQueue(self.session)

    @cached_property
    def personal_data(self) -> SqlPersonalDataRepository:
        return SqlPersonalDataRepository(self.session)

    @property
    def relinked(self) -> bool:
        """Whether an account was (re)bound here, so the update's chat may have a new owner."""
        links = self.__dict__.get("links")
        return links is not None and links.bound

    # Both skip the session when nothing began: many updates never touch the database in
    # their handler, and each call is a trip through SQLAlchemy's greenlet bridge.
    async def commit(self) -> None:
        if self.began and self.session.in_transaction():
            await self.session.commit()

    async def rollback(self) -> None:
        if self.began and self.session.in_transaction():
            await self.session.rollback()


class SqlCrm:
    """The CRM store on a SQL database."""

    def __init__(
        self, engine: AsyncEngine, *, write_back: bool = False, secure_delete: bool = True
    ) -> None:
        """`secure_delete`: for the ledger's own SQLite connection, as the engine's."""
        self.engine = engine
        # See SqlUnitOfWork.write_back; set from CRM_BACKEND (CrmSettings.writes_back).
        self.write_back = write_back
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._ledger = ledger_for(engine, write_back=write_back, secure_delete=secure_delete)

    @property
    def ledger(self) -> UpdateLedger:
        """Every update's own bookkeeping, outside any unit of work."""
        return self._ledger

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        echo: bool = False,
        write_back: bool = False,
        secure_delete: bool = True,
    ) -> SqlCrm:
        """`secure_delete` (DATABASE_SQLITE_SECURE_DELETE): SQLite zeroes what it frees."""
        engine = create_engine(url, echo=echo, secure_delete=secure_delete)
        return cls(engine, write_back=write_back, secure_delete=secure_delete)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        echo: bool = False,
        write_back: bool = False,
        secure_delete: bool = True,
    ) -> SqlCrm:
        """The store at `url`, once its schema is known to be current (else SchemaNotReady).

        Commands and processes open the store this way; tests and benchmarks that migrate
        the database themselves may use `from_url`.
        """
        crm = cls.from_url(url, echo=echo, write_back=write_back, secure_delete=secure_delete)
        try:
            await require_current_schema(crm.engine)
        except BaseException:
            await crm.close()
            raise
        return crm

    @classmethod
    @asynccontextmanager
    async def opened(
        cls, url: str, *, echo: bool = False, write_back: bool = False
    ) -> AsyncIterator[SqlCrm]:
        """`open` for the length of a block (a command's run): closed however it ends."""
        crm = await cls.open(url, echo=echo, write_back=write_back)
        try:
            yield crm
        finally:
            await crm.close()

    @asynccontextmanager
    async def unit_of_work(self, *, interactive: bool = False) -> AsyncIterator[SqlUnitOfWork]:
        """A transaction that is rolled back unless the caller commits it.

        `interactive`: an update's own unit of work, whose statements are a few indexed
        look-ups; on SQLite those that cannot wait for a lock then run on the event loop
        (sqlite_driver.INLINE_STATEMENTS).
        """
        uow = SqlUnitOfWork(self._sessions, write_back=self.write_back)
        token = INLINE_STATEMENTS.set(True) if interactive else None
        try:
            yield uow
        finally:
            if token is not None:
                INLINE_STATEMENTS.reset(token)
            # A session holds a connection only inside a transaction; ending that one is all
            # a close would do.
            await uow.rollback()

    async def close(self) -> None:
        await self._ledger.close()
        await self.engine.dispose()
