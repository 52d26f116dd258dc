"""One ingestion at a time across processes: a named lock in the CRM database.

Two `concierge ingest` runs against one Chroma collection would interleave deletes and
upserts of the same documents; the lock makes the second one wait or refuse. The database is
the one the deployment already has: an advisory lock on PostgreSQL, a lease row on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import timedelta
from pathlib import Path

from common.clock import Clock, SystemClock
from crm_adapter.locks import NamedLock, named_lock_for, owner_id
from crm_adapter.sql import SqlCrm
from knowledge.answers import KnowledgeBase
from knowledge.models import IngestSummary

log = logging.getLogger(__name__)

INGEST_LOCK_NAME = "vip-concierge:knowledge-ingest"
# A lease outlives a crashed ingestion by at most this long (SQLite); renewed every third.
LEASE_TTL = timedelta(seconds=60)


class IngestionBusy(RuntimeError):
    """Another process is ingesting right now."""


class IngestionLockUnavailable(RuntimeError):
    """The lock could not be taken at all (database unreachable or not migrated)."""


def ingest_lock_for(crm: SqlCrm, *, clock: Clock | None = None) -> NamedLock:
    """The ingestion lock in the deployment's database."""
    return named_lock_for(
        crm, INGEST_LOCK_NAME, owner=owner_id(), clock=clock or SystemClock(), ttl=LEASE_TTL
    )


async def ingest_exclusively(
    knowledge: KnowledgeBase,
    lock: NamedLock,
    *,
    path: Path | None = None,
    progress: bool = False,
    wait: float = 0.0,
    poll: float = 1.0,
    heartbeat: float = LEASE_TTL.total_seconds() / 3,
) -> IngestSummary:
    """Runs `knowledge.ingest` while holding `lock`; `wait` seconds for a busy lock.

    Raises `IngestionBusy` when another ingestion still holds the lock after `wait`, and
    `IngestionInterrupted` when the lock is lost half-way (the run stops between documents).
    """
    await _acquire(lock, wait=wait, poll=poll)
    lost = threading.Event()
    keeper = asyncio.create_task(_keep(lock, lost, heartbeat), name="ingest-lock-heartbeat")
    try:
        return await knowledge.aingest(path, progress=progress, stop=lost)
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        try:
            await lock.release()
        except Exception:
            # A lease left behind expires on its own; the ingest result matters more.
            log.warning("could not release the ingestion lock", exc_info=True)


async def _acquire(lock: NamedLock, *, wait: float, poll: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            got = await lock.acquire()
        except Exception as exc:
            # The message names the error type only: its text may carry the database URL.
            raise IngestionLockUnavailable(
                f"cannot take the ingestion lock in the database ({type(exc).__name__}); "
                "is DATABASE_URL reachable and migrated (`concierge migrate`)?"
            ) from exc
        if got:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise IngestionBusy(
                "another ingestion is running (lock "
                f"{INGEST_LOCK_NAME!r}); try again when it has finished"
                + (f" (waited {wait:.0f} s)" if wait > 0 else " or pass --wait SECONDS")
            )
        await asyncio.sleep(min(poll, remaining))


async def _keep(lock: NamedLock, lost: threading.Event, every: float) -> None:
    """Renews the lock while the ingestion runs; tells it to stop once the lock is gone."""
    loop = asyncio.get_running_loop()
    renewed = loop.time()
    while True:
        await asyncio.sleep(every)
        try:
            held = await lock.still_held()
        except Exception:
            # A lease survives a failed renewal until it expires (three heartbeats): one
            # database hiccup is no reason to stop, a second in a row is.
            log.warning("ingestion lock heartbeat failed", exc_info=True)
            held = loop.time() - renewed < 2 * every
        else:
            if held:
                renewed = loop.time()
        if not held:
            # Another ingestion may start now: stop before writing anything more.
            log.error("ingestion lock lost; stopping the ingestion")
            lost.set()
            return
