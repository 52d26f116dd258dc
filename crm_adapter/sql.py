"""The SQL CRM adapter: engine set-up for SQLite and PostgreSQL, and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
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
from crm_adapter.port import UpdateLedger
from crm_adapter.repositories import (
    SqlAuditRepository,
    SqlClientRepository,
    SqlConsentRepository,
    SqlInteractionRepository,
    SqlLinkCodeRepository,
    SqlLinkRepository,
    SqlProfileRepository,
    SqlStaffRepository,
)
from crm_adapter.repositories_delivery import (
    SqlContactDecisionRepository,
    SqlOutboxRepository,
    SqlRuleFiringRepository,
)
from crm_adapter.sqlite_driver import apply_pragmas, one_hop_dbapi
from crm_adapter.update_ledger import ledger_for
from crm_adapter.workspace_sql import SqlWorkspaceRepository


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys, its directory is created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
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
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        # `?search_path=schema` puts the CRM in its own PostgreSQL schema (banks share
        # clusters; the tests use one schema per test).
        schema = parsed.query.get("search_path")
        if isinstance(schema, str):
            parsed = parsed.difference_update_query(["search_path"])
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", lambda dbapi, _record: apply_pragmas(dbapi))
    return engine


class SqlUnitOfWork:
    """Repositories over one session; feature code may reach `session` for its own queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.staff = SqlStaffRepository(session)
        self.clients = SqlClientRepository(session)
        self.links = SqlLinkRepository(session)
        self.link_codes = SqlLinkCodeRepository(session)
        self.consents = SqlConsentRepository(session)
        self.interactions = SqlInteractionRepository(session)
        self.profiles = SqlProfileRepository(session)
        self.audit = SqlAuditRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.contact_decisions = SqlContactDecisionRepository(session)
        self.rule_firings = SqlRuleFiringRepository(session)
        self.requests = SqlServiceRequestRepository(session)
        self.relay = SqlRelayRepository(session)
        self.feedback = SqlFeedbackRepository(session)
        self.workspace = SqlWorkspaceRepository(session)
        self.events = SqlEventRepository(session)

    # Both skip the session when nothing began: many updates never touch the database in
    # their handler, and each call is a trip through SQLAlchemy's greenlet bridge.
    async def commit(self) -> None:
        if self.session.in_transaction():
            await self.session.commit()

    async def rollback(self) -> None:
        if self.session.in_transaction():
            await self.session.rollback()


class SqlCrm:
    """The CRM store on a SQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._ledger = ledger_for(engine)

    @property
    def ledger(self) -> UpdateLedger:
        """Every update's own bookkeeping, outside any unit of work."""
        return self._ledger

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> SqlCrm:
        return cls(create_engine(url, echo=echo))

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        """A transaction that is rolled back unless the caller commits it."""
        session = self._sessions()
        uow = SqlUnitOfWork(session)
        try:
            yield uow
        finally:
            # A session holds a connection only inside a transaction; ending that one is all
            # a close would do.
            await uow.rollback()

    async def close(self) -> None:
        await self._ledger.close()
        await self.engine.dispose()
