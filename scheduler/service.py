"""The scheduler service: leader election, APScheduler with a persistent job store, the jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from common.settings import SchedulerSettings
from crm_adapter.sql import SqlCrm
from scheduler.delivery import DeliveryWorker
from scheduler.leader import LeaderLock
from scheduler.rules import RuleEngine

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"

# APScheduler's persistent store records a job's callable by import path, so jobs cannot be
# bound methods of a live service. They call this module-level function with the service's
# key; running services register here while they lead. It holds references to live
# services only, never connections of its own.
_RUNNING: dict[str, SchedulerService] = {}


async def run_job(service_key: str, job_name: str) -> None:
    """Entry point of every persisted job: dispatches to the leading service's job."""
    service = _RUNNING.get(service_key)
    if service is None:
        log.warning("job %s fired with no leading service %s", job_name, service_key)
        return
    await service.run_job(job_name)


class Background(Protocol):
    """A long-running worker the leader runs beside the jobs (the CRM writer)."""

    def start(self) -> asyncio.Task[None]: ...
    async def stop(self) -> None: ...


def sync_url(async_url: str) -> str:
    """The synchronous driver URL of the same database, for APScheduler's job store."""
    url = make_url(async_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite")
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
        # `?search_path=schema` (see crm_adapter.sql.create_engine) is no libpq option:
        # psycopg would refuse to connect. libpq passes it on as a session setting instead,
        # so the job table is found in the CRM's schema.
        schema = url.query.get("search_path")
        if isinstance(schema, str):
            url = url.difference_update_query(["search_path"]).update_query_dict(
                {"options": f"-csearch_path={schema}"}
            )
    return url.render_as_string(hide_password=False)


class SchedulerService:
    """Runs the scheduled jobs (and optionally the delivery worker) on the leader only.

    Every replica calls `start`; they compete for the leader lock every `heartbeat` and the
    ones that lose stay passive, retrying. The leader starts APScheduler on the persistent
    job store and the delivery worker (one sender keeps the global Telegram rate honest);
    losing the lock stops both.
    """

    def __init__(
        self,
        *,
        settings: SchedulerSettings,
        database_url: str,
        crm: SqlCrm,
        lock: LeaderLock,
        rules: RuleEngine | None = None,
        delivery: DeliveryWorker | None = None,
        heartbeat: timedelta = timedelta(seconds=10),
        rules_every: timedelta = timedelta(hours=1),
        jobstore_engine_options: dict[str, Any] | None = None,
        service_key: str = "default",
        background: Sequence[Background] = (),
    ) -> None:
        self._settings = settings
        self._crm = crm
        self._lock = lock
        self._rules = rules
        self._delivery = delivery
        self._heartbeat = heartbeat.total_seconds()
        self._rules_every = rules_every
        self._jobstore_url = sync_url(database_url)
        # The job store is a synchronous engine used from the event-loop thread: on SQLite a
        # long wait for the write lock would freeze the bot that holds it. Fail fast (the
        # leadership loop retries next beat) rather than wait.
        default_options: dict[str, Any] = (
            {"connect_args": {"timeout": 2}} if self._jobstore_url.startswith("sqlite") else {}
        )
        # A failed statement's error would otherwise carry its bound values into the log.
        self._jobstore_options = {
            **(jobstore_engine_options or default_options),
            "hide_parameters": True,
        }
        self.service_key = service_key
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._jobs: dict[str, Callable[[], Awaitable[object]]] = {}
        self._periodic: dict[str, timedelta] = {}
        self._daily: dict[str, tuple[int, int]] = {}
        self._background = list(background)
        self.became_leader = asyncio.Event()
        if rules is not None:
            self._jobs["rules.evaluate"] = rules.evaluate
        if delivery is not None:
            self._jobs["outbox.reconcile"] = delivery.reconcile

    def add_periodic(
        self, name: str, job: Callable[[], Awaitable[object]], *, every: timedelta
    ) -> None:
        """Registers a feature's job (escalations, briefings, reminders) to run on the leader.

        Call before `start`. Every job is idempotent by design (each use case records what it
        did), so missed runs are coalesced into one and may run up to one period late.
        """
        self._jobs[name] = job
        self._periodic[name] = every

    def add_daily(
        self, name: str, job: Callable[[], Awaitable[object]], *, hour: int, minute: int = 0
    ) -> None:
        """Registers a job that runs once a day at `hour:minute` in the scheduler's zone."""
        self._jobs[name] = job
        self._daily[name] = (hour, minute)

    def add_background(self, worker: Background) -> None:
        """Registers a worker that runs while this service leads (call before `start`)."""
        self._background.append(worker)

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._lead(), name="scheduler-leadership")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._step_down()
        await self._lock.release()

    async def run_job(self, name: str) -> None:
        job = self._jobs.get(name)
        if job is None:
            log.warning("unknown job %s (left in the job store by an older version?)", name)
            return
        log.info("job %s started", name)
        try:
            await job()
        except asyncio.CancelledError:
            if self._scheduler is not None:
                raise
            # Stepping down (or shutting down) cancels a job still running, e.g. a CRM sync
            # paced by the portal. Every job is idempotent and runs again at its next time:
            # no error, which APScheduler would log with a traceback.
            log.info("job %s interrupted: this scheduler stopped leading", name)

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()] if self._scheduler else []

    async def _lead(self) -> None:
        while True:
            try:
                if not self.is_leader:
                    if await self._lock.acquire():
                        log.info("scheduler %s is the leader", self.instance_id)
                        await self._step_up()
                elif not await self._lock.still_held():
                    log.warning("scheduler %s lost leadership", self.instance_id)
                    await self._step_down()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not kill the replica; retry next beat
                log.exception("leadership check failed")
            await asyncio.sleep(self._heartbeat)

    async def _step_up(self) -> None:
        scheduler = AsyncIOScheduler(
            timezone=self._settings.timezone,
            jobstores={
                "default": SQLAlchemyJobStore(
                    url=self._jobstore_url,
                    tablename=JOBS_TABLE,
                    engine_options=self._jobstore_options,
                )
            },
        )
        _RUNNING[self.service_key] = self
        scheduler.start()
        self._scheduler = scheduler
        self._add_jobs(scheduler)
        if self._delivery is not None:
            self._delivery.start()
        for worker in self._background:
            worker.start()
        self.became_leader.set()

    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        # Anchored start: runs land at the same minutes whoever leads and whenever it started.
        anchor = datetime(2026, 1, 1, 0, 5, tzinfo=ZoneInfo(self._settings.timezone))
        if self._rules is not None:
            self._ensure_job(
                scheduler,
                "rules.evaluate",
                name="Evaluate trigger rules",
                trigger=IntervalTrigger(
                    seconds=int(self._rules_every.total_seconds()),
                    start_date=anchor,
                    timezone=self._settings.timezone,
                ),
                # Evaluation reads the current state of the CRM, so runs missed while down
                # are worth exactly one run: coalesce them. A run up to an hour late is still
                # useful (occasions are keyed, none fires twice); older ones are skipped
                # because the next regular run comes sooner anyway.
                coalesce=True,
                misfire_grace_time=3600,
            )
        if self._delivery is not None:
            self._ensure_job(
                scheduler,
                "outbox.reconcile",
                name="Reconcile outbox rows stranded by dead workers",
                trigger=CronTrigger(minute="*/5", timezone=self._settings.timezone),
                # Idempotent housekeeping: one late run replaces any number of missed ones.
                coalesce=True,
                misfire_grace_time=300,
            )

        for name, every in self._periodic.items():
            self._ensure_job(
                scheduler,
                name,
                name=name,
                trigger=IntervalTrigger(
                    seconds=int(every.total_seconds()),
                    start_date=anchor,
                    timezone=self._settings.timezone,
                ),
                coalesce=True,
                misfire_grace_time=int(every.total_seconds()),
            )
        for name, (hour, minute) in self._daily.items():
            self._ensure_job(
                scheduler,
                name,
                name=name,
                trigger=CronTrigger(hour=hour, minute=minute, timezone=self._settings.timezone),
                # A day's run missed while no leader was up is worth one late run.
                coalesce=True,
                misfire_grace_time=12 * 3600,
            )

    def _ensure_job(
        self, scheduler: AsyncIOScheduler, job_id: str, *, trigger: Any, **options: Any
    ) -> None:
        """Adds a job under a stable id; an unchanged stored job keeps its next run time.

        `replace_existing=True` alone would recompute the next run from "now" on every
        restart, so a run missed while the service was down would never happen. The stored
        job is therefore kept when its definition is unchanged (APScheduler then applies the
        misfire grace and coalescing to it) and replaced only when the definition changed.
        """
        args = [self.service_key, job_id]
        stored = scheduler.get_job(job_id)
        if (
            stored is not None
            and str(stored.trigger) == str(trigger)
            and list(stored.args) == args
        ):
            return
        scheduler.add_job(
            run_job,
            trigger=trigger,
            args=args,
            id=job_id,
            replace_existing=True,
            max_instances=1,
            **options,
        )

    async def _step_down(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if _RUNNING.get(self.service_key) is self:
            del _RUNNING[self.service_key]
        if self._delivery is not None:
            await self._delivery.stop()
        for worker in self._background:
            await worker.stop()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self.became_leader.clear()
