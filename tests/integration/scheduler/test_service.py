"""Scheduler service: persisted jobs survive a restart, and only one replica leads."""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from common.clock import ManualClock
from common.settings import SchedulerSettings
from crm_adapter.sql import SqlCrm
from scheduler import service as service_module
from scheduler.leader import LOCK_NAME, LeaseRowLock, PostgresAdvisoryLock, leader_lock_for
from scheduler.service import SchedulerService, sync_url


class CountingRules:
    """Stands in for the rule engine: counts evaluations."""

    def __init__(self) -> None:
        self.runs = 0

    async def evaluate(self) -> None:
        self.runs += 1


def make_service(crm: SqlCrm, url: str, lock: object, rules: CountingRules) -> SchedulerService:
    return SchedulerService(
        settings=SchedulerSettings(),
        database_url=url,
        crm=crm,
        lock=lock,  # type: ignore[arg-type]
        rules=rules,  # type: ignore[arg-type]
        heartbeat=timedelta(seconds=0.05),
    )


def test_sync_url_for_the_job_store() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert sync_url("postgresql+asyncpg://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    # The CRM's schema reaches psycopg as a session setting (it has no search_path option).
    assert (
        sync_url("postgresql+asyncpg://u@h/db?search_path=crm")
        == "postgresql+psycopg://u@h/db?options=-csearch_path%3Dcrm"
    )


async def test_lease_outlives_a_few_heartbeats(crm: SqlCrm, clock: ManualClock) -> None:
    default = leader_lock_for(crm, "a", clock)
    slow = leader_lock_for(crm, "a", clock, heartbeat=timedelta(seconds=60))
    assert isinstance(default, LeaseRowLock) and isinstance(slow, LeaseRowLock)
    assert default._ttl == timedelta(seconds=30)
    assert slow._ttl == timedelta(minutes=3)


async def test_jobs_survive_a_scheduler_restart(
    crm: SqlCrm, tmp_path: Path, clock: ManualClock
) -> None:
    url = str(crm.engine.url)
    rules = CountingRules()
    first = make_service(crm, url, LeaseRowLock(crm, "one", clock, name=LOCK_NAME), rules)
    await first.start()
    await asyncio.wait_for(first.became_leader.wait(), 5)
    assert first.job_ids() == ["rules.evaluate"]
    async with crm.engine.connect() as conn:
        (next_run,) = (
            await conn.execute(text("SELECT next_run_time FROM apscheduler_jobs"))
        ).one()
    await first.stop()

    second = make_service(crm, url, LeaseRowLock(crm, "two", clock, name=LOCK_NAME), rules)
    await second.start()
    await asyncio.wait_for(second.became_leader.wait(), 5)
    async with crm.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))).all()
    # The stored job was kept (same id, same next run), not duplicated or rescheduled.
    assert rows == [("rules.evaluate", next_run)]
    await service_module.run_job("default", "rules.evaluate")  # what APScheduler calls
    assert rules.runs == 1
    await second.stop()


async def test_two_schedulers_one_leader_on_sqlite(crm: SqlCrm, clock: ManualClock) -> None:
    url = str(crm.engine.url)
    a = make_service(
        crm,
        url,
        LeaseRowLock(crm, "a", clock, name=LOCK_NAME, ttl=timedelta(seconds=30)),
        CountingRules(),
    )
    b = make_service(
        crm,
        url,
        LeaseRowLock(crm, "b", clock, name=LOCK_NAME, ttl=timedelta(seconds=30)),
        CountingRules(),
    )
    await a.start()
    await asyncio.wait_for(a.became_leader.wait(), 5)
    await b.start()
    await asyncio.sleep(0.3)
    assert a.is_leader and not b.is_leader
    # The leader dies without releasing: the passive replica takes over after expiry.
    task = a._task
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.2)
    assert not b.is_leader  # lease still valid
    clock.advance(timedelta(seconds=31))
    await asyncio.wait_for(b.became_leader.wait(), 5)
    assert b.is_leader
    await b.stop()
    a._task = None
    await a.stop()


async def test_lease_row_lock_renews_and_refuses_others(crm: SqlCrm, clock: ManualClock) -> None:
    a = LeaseRowLock(crm, "a", clock, name=LOCK_NAME, ttl=timedelta(seconds=10))
    b = LeaseRowLock(crm, "b", clock, name=LOCK_NAME, ttl=timedelta(seconds=10))
    assert await a.acquire()
    assert not await b.acquire()
    clock.advance(timedelta(seconds=8))
    assert await a.still_held()  # renewed to +10 s from now
    clock.advance(timedelta(seconds=8))
    assert not await b.acquire()
    await a.release()
    assert await b.acquire()


@pytest.mark.postgres
async def test_two_schedulers_one_leader_on_postgres_advisory_lock(pg_crm: SqlCrm) -> None:
    name = f"test-lock-{uuid.uuid4().hex}"  # unique: other developers share this database
    a, b = PostgresAdvisoryLock(pg_crm, name), PostgresAdvisoryLock(pg_crm, name)
    assert await a.acquire()
    assert not await b.acquire()
    assert await a.still_held()
    await a.release()
    assert await b.acquire()
    await b.release()


@pytest.mark.postgres
async def test_advisory_lock_release_survives_an_invalidated_connection(pg_crm: SqlCrm) -> None:
    # A shutdown that cancels the heartbeat in the middle of its query leaves the connection
    # invalidated; stopping must still complete (the server frees the lock as it closes).
    name = f"test-lock-{uuid.uuid4().hex}"
    a, b = PostgresAdvisoryLock(pg_crm, name), PostgresAdvisoryLock(pg_crm, name)
    assert await a.acquire()
    conn = a._conn
    assert conn is not None
    await conn.invalidate()
    await a.release()
    assert await b.acquire()
    await b.release()


@pytest.mark.postgres
async def test_each_schema_elects_its_own_leader(pg_crm: SqlCrm) -> None:
    # pg_crm lives in a schema of its own: its lock must not be the one of the public schema,
    # which keeps the key of earlier versions (crc32 of the name).
    lock = PostgresAdvisoryLock(pg_crm, LOCK_NAME)
    assert await lock.acquire()
    try:
        assert lock.key is not None and lock.key != zlib.crc32(LOCK_NAME.encode())
    finally:
        await lock.release()


async def test_a_job_running_when_the_scheduler_stops_is_no_error(
    crm: SqlCrm, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by hand: every short console session with CRM_BACKEND=bitrix24 ended with an
    ERROR and a CancelledError traceback, the start-up CRM sync (paced by the portal) being
    cancelled by the shutdown."""
    url = str(crm.engine.url)
    service = make_service(
        crm, url, LeaseRowLock(crm, "one", clock, name=LOCK_NAME), CountingRules()
    )
    started, never = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await never.wait()

    service.add_periodic("crm.sync", slow, every=timedelta(minutes=5))
    await service.start()
    await asyncio.wait_for(service.became_leader.wait(), 5)
    assert service._scheduler is not None
    service._scheduler.modify_job("crm.sync", next_run_time=datetime.now(UTC))
    await asyncio.wait_for(started.wait(), 5)
    with caplog.at_level(logging.INFO):
        await service.stop()
        await asyncio.sleep(0.05)  # the cancelled job ends
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "job crm.sync interrupted" in caplog.text
