"""The bank's own CRM on the scheduler: the writer beside the jobs, the syncs as jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from common.clock import Clock
from common.settings import CrmSettings
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.records import CrmUnavailable
from crm_adapter.master.sync import sync_from_master
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter
from scheduler.service import SchedulerService

log = logging.getLogger(__name__)

# Delivered writes are kept this long for the admins' view, then forgotten (the interaction
# log keeps its own retention).
DONE_WRITES_KEPT = timedelta(days=30)

Job = Callable[[], Awaitable[object]]


@dataclass
class CrmMaster:
    master: MasterCrm
    writer: CrmWriter
    jobs: dict[str, Job] = field(default_factory=dict)


def schedule_crm(
    service: SchedulerService,
    settings: CrmSettings,
    *,
    crm: SqlCrm,
    master: MasterCrm,
    clock: Clock,
) -> CrmMaster:
    """Adds the writer and the CRM jobs to `service`; every process that may lead calls it."""
    writer = CrmWriter.from_settings(settings, crm, master, clock)
    service.add_background(writer)

    async def sync(*, full: bool = False) -> object:
        try:
            return (await sync_from_master(crm, master, clock, full=full)).as_dict()
        except CrmUnavailable as down:
            # The next run catches up (cursors only move after a whole run).
            log.warning("crm sync skipped: the CRM is unavailable (%s)", down.code)
            return None

    async def full_sync() -> object:
        return await sync(full=True)

    async def purge() -> object:
        async with crm.unit_of_work() as uow:
            purged = await uow.crm_writes.purge_done(before=clock.now() - DONE_WRITES_KEPT)
            await uow.commit()
        return purged

    jobs: dict[str, Job] = {"crm.queue_purge": purge}
    service.add_daily("crm.queue_purge", purge, hour=4, minute=30)
    if master.reads_master_data:
        jobs["crm.sync"] = sync
        jobs["crm.sync_full"] = full_sync
        every = timedelta(minutes=settings.sync_every_minutes)
        service.add_periodic("crm.sync", sync, every=every)
        service.add_daily("crm.sync_full", full_sync, hour=settings.full_sync_hour)
    return CrmMaster(master=master, writer=writer, jobs=jobs)
