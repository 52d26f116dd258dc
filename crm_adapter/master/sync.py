"""Sync in: the bank's CRM (the master) into the local store, which serves from it.

Master data (names, birthday, segments, the personal manager, roles, holdings, life events)
is taken as the CRM has it, over whatever the store held: conflicts go the CRM's way. What the
assistant owns stays: consent records, the client's own preferences (language, time zone,
quiet hours, marketing opt-out), interactions, requests, notes. A client the CRM no longer
has is marked `crm_removed_at` and loses the manager, so access rules change with the sync
that sees it; a reassignment likewise moves the client card to the new manager at once.

A record the store cannot take (a missing field, a manager the CRM does not have among the
VIP staff, a holding of an unknown client) is skipped with a log line of ids and a reason
code, never values, and the sync goes on.

Each chunk of a stream is applied in its own transaction; cursors move only when the whole
run succeeded, so an interrupted sync is simply run again (applying a record twice changes
nothing).
"""

from __future__ import annotations

import time

from common.clock import Clock
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.state import read_state, write_state
from crm_adapter.master.sync_base import CURSORS, Progress, SyncReport, log
from crm_adapter.master.sync_items import ItemsSync
from crm_adapter.master.sync_people import PeopleSync
from crm_adapter.sql import SqlCrm

__all__ = ["Progress", "SyncReport", "sync_from_master"]


class Sync(PeopleSync, ItemsSync):
    """One run; `sync_from_master` is the entry point."""

    async def run(self) -> SyncReport:
        started = time.perf_counter()
        async with self.crm.unit_of_work() as uow:
            self.cursors = dict(await read_state(uow.session, CURSORS) or {})
        await self._staff()
        present = await self._clients()
        await self._removals(present)
        await self._holdings()
        await self._life_events()
        async with self.crm.unit_of_work() as uow:
            cursors = {**self.cursors, **{k: v.isoformat() for k, v in self.moved.items()}}
            await write_state(uow.session, CURSORS, cursors, now=self.clock.now())
            await uow.commit()
        self.report.seconds = time.perf_counter() - started
        log.info("crm sync done", extra={"crm_sync": self.report.as_dict()})
        return self.report


async def sync_from_master(
    crm: SqlCrm,
    master: MasterCrm,
    clock: Clock,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Reads what the CRM changed (all of it with `full`) into the store; see the module."""
    return await Sync(crm, master, clock, full=full, progress=progress or _quiet).run()


def _quiet(_stream: str, _count: int, _total: int | None) -> None:
    return None
