"""Named cross-process locks in the CRM database: an advisory lock or a lease row.

The scheduler's leader election and the knowledge base's "one ingestion at a time" both use
them, so they live next to the store rather than in either feature.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
import zlib
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from common.clock import Clock
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm

log = logging.getLogger(__name__)


class NamedLock(Protocol):
    async def acquire(self) -> bool:
        """Tries once, without waiting; True when this process now holds the lock."""
        ...

    async def still_held(self) -> bool:
        """Heartbeat: renews the lock where needed; False when it was lost."""
        ...

    async def release(self) -> None: ...


def owner_id() -> str:
    """Unique per process: two replicas on one host must not share a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PostgresAdvisoryLock:
    """`pg_try_advisory_lock` held on a dedicated connection for as long as we hold it.

    The lock belongs to the database session, so it vanishes with the connection: a crashed
    or killed holder frees it as soon as the server sees its connection close, without any
    expiry timer to tune. (A host that vanishes without closing its TCP connections is noticed
    only through the server's TCP keepalive settings.)
    """

    def __init__(self, crm: SqlCrm, name: str) -> None:
        self._crm = crm
        self._name = name
        self.key: int | None = None  # known after the first attempt: it depends on the schema
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return await self.still_held()
        conn = await self._crm.engine.connect()
        # Autocommit: holding a transaction open for hours would block vacuum.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            key = await self._key(conn)
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        except BaseException:
            # Back to the pool rather than leaked: this runs every heartbeat on every standby.
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def _key(self, conn: AsyncConnection) -> int:
        """The lock's bigint: a stable hash of the name, and of the CRM's schema.

        Advisory locks are per database while a CRM may live in a schema of a shared one
        (`?search_path=`), so each schema gets its own lock. The public schema keeps the key
        of the name alone, which earlier versions used: during a rolling upgrade old and new
        replicas still compete for one lock.
        """
        if self.key is None:
            schema = await conn.scalar(text("SELECT current_schema()"))
            label = self._name if schema in (None, "public") else f"{self._name}:{schema}"
            self.key = zlib.crc32(label.encode())
        return self.key

    async def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            # Not only driver errors: a connection invalidated under us (a cancelled query)
            # raises SQLAlchemy's own. Either way the lock may be gone: never keep holding.
            log.warning("lock connection lost; the advisory lock is gone")
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        # Best effort: on a broken or invalidated connection the unlock fails, and closing the
        # connection frees the lock anyway.
        with contextlib.suppress(SQLAlchemyError):
            await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class LeaseRowLock:
    """A lease row with owner and expiry, for SQLite (no advisory locks).

    The holder renews the lease on every heartbeat; another process may take it only after
    it expired, so `ttl` must exceed the heartbeat interval by a comfortable margin.
    """

    def __init__(
        self,
        crm: SqlCrm,
        owner_id: str,
        clock: Clock,
        *,
        name: str,
        ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        self._crm = crm
        self.owner_id = owner_id
        self._clock = clock
        self._ttl = ttl
        self._name = name

    async def acquire(self) -> bool:
        now = self._clock.now()
        lease = m.SchedulerLeaseRow
        async with self._crm.unit_of_work() as uow:
            # One conditional UPDATE: renew our own lease or take over an expired one.
            result = await uow.session.execute(
                update(lease)
                .where(
                    lease.name == self._name,
                    (lease.owner_id == self.owner_id) | (lease.expires_at < now),
                )
                .values(owner_id=self.owner_id, heartbeat_at=now, expires_at=now + self._ttl)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                await uow.commit()
                return True
            try:
                async with uow.session.begin_nested():
                    uow.session.add(
                        lease(
                            name=self._name,
                            owner_id=self.owner_id,
                            acquired_at=now,
                            heartbeat_at=now,
                            expires_at=now + self._ttl,
                        )
                    )
            except IntegrityError:
                return False  # somebody else holds a live lease
            await uow.commit()
            return True

    async def still_held(self) -> bool:
        return await self.acquire()

    async def release(self) -> None:
        lease = m.SchedulerLeaseRow
        async with self._crm.unit_of_work() as uow:
            await uow.session.execute(
                delete(lease).where(lease.name == self._name, lease.owner_id == self.owner_id)
            )
            await uow.commit()


def named_lock_for(
    crm: SqlCrm,
    name: str,
    *,
    owner: str,
    clock: Clock,
    ttl: timedelta = timedelta(seconds=30),
) -> NamedLock:
    """The advisory lock on PostgreSQL, the lease row elsewhere."""
    if crm.engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(crm, name)
    return LeaseRowLock(crm, owner, clock, name=name, ttl=ttl)
