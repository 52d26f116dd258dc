"""The CRM writer: drains the `crm_write` queue into the bank's own CRM, on the leader only.

Each round claims up to one batch of due writes, at most one per client (each client's writes
go in the order they were queued), marks them `sending` and commits, reads the records they
name, sends them in one request, and commits the outcome. A crash between the send and that
last commit leaves rows `sending`: on start they become *uncertain*, and an uncertain write
is looked up in the CRM by its idempotency key before anything is sent again, so it lands
once. While the CRM is unreachable the writer backs off (doubling up to a cap) and nothing is
lost: writes wait in the table, the bot keeps serving from the store. A write the CRM refuses
for good, or one still undelivered after `give_up`, becomes a dead letter for admins
(`concierge.crm_queue`), and later writes of that client go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from common.clock import Clock
from common.settings import CrmSettings
from crm_adapter import models as m
from crm_adapter.master.outgoing import load_events
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.queue import QueuedWrite
from crm_adapter.master.records import (
    CrmEvent,
    CrmUnavailable,
    Deferred,
    Delivered,
    Outcome,
    Rejected,
    WriteKind,
)
from crm_adapter.sql import SqlCrm, SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class WriterTally:
    """What the writer did since it started (the benchmark and the tests read it)."""

    delivered: int = 0
    found_delivered: int = 0
    retried: int = 0
    dead: int = 0
    unavailable: int = 0
    requests: int = 0


class CrmWriter:
    """`run` until cancelled (the leader starts it), or `drain` what is due (tests, CLI)."""

    def __init__(
        self,
        crm: SqlCrm,
        master: MasterCrm,
        clock: Clock,
        *,
        worker_id: str | None = None,
        batch_size: int = 50,
        retry_base: float = 2.0,
        retry_cap: float = 300.0,
        give_up: timedelta = timedelta(hours=72),
        poll_interval: float = 0.5,
        stale_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._crm = crm
        self._master = master
        self._clock = clock
        # One id per writer, not per host: two replicas on one machine are two writers, and a
        # new leader must not take the rows the old one is still sending for its own stranded
        # ones (it would send them again). A writer that crashed leaves rows another settles
        # once they are `stale_after` old.
        self.worker_id = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}:crm-writer"
        )
        self._batch = min(batch_size, master.max_batch)
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._give_up = give_up
        self._poll = poll_interval
        self._stale_after = stale_after
        self._failures = 0
        self._paused_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Task[int] | None = None
        self.tally = WriterTally()

    @classmethod
    def from_settings(
        cls, settings: CrmSettings, crm: SqlCrm, master: MasterCrm, clock: Clock
    ) -> CrmWriter:
        return cls(
            crm,
            master,
            clock,
            batch_size=settings.write_batch_size,
            retry_base=settings.write_retry_base_seconds,
            retry_cap=settings.write_retry_cap_seconds,
            give_up=timedelta(hours=settings.write_give_up_hours),
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"crm-writer:{self.worker_id}")
        return self._task

    async def stop(self, *, flush_for: float = 0.0) -> None:
        """Stops writing. A round cut short leaves its writes `sending`: the next writer
        looks them up. `flush_for`: first write what is due, for at most that many seconds
        (a process shutting down; not a leader that lost its lock to another)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._round is not None:
            # A round already sending is let finish, so its answer is recorded.
            with contextlib.suppress(Exception):
                await self._round
        if flush_for > 0:
            try:
                await asyncio.wait_for(self.drain(), timeout=flush_for)
            except TimeoutError:
                log.warning("crm writer stopped with writes still queued (they wait in the store)")

    async def run(self, *, until_idle: bool = False) -> None:
        """Settles what a previous writer left, then writes until cancelled (or idle)."""
        await self.reconcile()
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time() + self._stale_after.total_seconds()
        while True:
            if loop.time() >= next_reconcile:
                # Another writer (a leader that died) may have left writes `sending`.
                await self.reconcile()
                next_reconcile = loop.time() + self._stale_after.total_seconds()
            wait = self._paused_until - loop.time()
            if wait > 0:
                if until_idle:
                    return
                await asyncio.sleep(wait)
                continue
            try:
                # Shielded: cancelling the writer must not cut a round between its send and
                # the record of the answer (that would make its writes uncertain for nothing).
                self._round = asyncio.create_task(self.step())
                handled = await asyncio.shield(self._round)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the writer; next round
                log.exception("crm writer round failed")
                handled = 0
                self._pause(self._retry_base)
            if handled:
                continue
            if until_idle:
                return
            await asyncio.sleep(self._poll)

    async def drain(self) -> WriterTally:
        """Writes everything due now; returns on the first pause (the CRM down) or when idle."""
        self._paused_until = 0.0
        await self.run(until_idle=True)
        return self.tally

    async def reconcile(self) -> int:
        """Writes left `sending` by a writer that died before it recorded the answer (ours of
        a previous life, given the same `worker_id`, at once; another's once stale) become
        uncertain: they will be looked
        up in the CRM before any new send."""
        async with self._crm.unit_of_work() as uow:
            stranded = await uow.crm_writes.stranded(
                worker_id=self.worker_id,
                claimed_before=self._clock.now() - self._stale_after,
            )
            ids = [w.id for w in stranded]
            await uow.crm_writes.mark_uncertain(
                ids, now=self._clock.now(), error="uncertain: the writer stopped before the answer"
            )
            await uow.commit()
        if ids:
            log.warning("crm writer: %d writes of uncertain fate will be looked up", len(ids))
        return len(ids)

    # -- one round -------------------------------------------------------------------------

    async def step(self) -> int:
        """One claim, lookup and send; returns how many writes it settled or deferred."""
        async with self._crm.unit_of_work() as uow:
            writes = await uow.crm_writes.claim(
                now=self._clock.now(), worker_id=self.worker_id, limit=self._batch
            )
            await uow.commit()
        if not writes:
            return 0
        by_id = {w.id: w for w in writes}
        async with self._crm.unit_of_work() as uow:
            events, gone = await load_events(uow.session, writes)
        found: dict[str, str | None] = {}
        outcomes: list[tuple[CrmEvent, Outcome]] = []
        try:
            uncertain = [e for e in events if by_id[e.write_id].uncertain]
            if uncertain:
                self.tally.requests += 1
                found = await self._master.find_delivered(uncertain)
            to_send = [e for e in events if e.key not in found]
            if to_send:
                self.tally.requests += 1
                outcomes = list(zip(to_send, await self._master.write(to_send), strict=True))
        except CrmUnavailable as down:
            waiting = [by_id[e.write_id] for e in events if e.key not in found]
            await self._unavailable(down, waiting)
            outcomes = []
            events = [e for e in events if e.key in found]
        else:
            self._failures = 0
        await self._record(by_id, events, found, outcomes, gone)
        return len(writes)

    async def _record(
        self,
        by_id: dict[int, QueuedWrite],
        events: list[CrmEvent],
        found: dict[str, str | None],
        outcomes: list[tuple[CrmEvent, Outcome]],
        gone: dict[int, str],
    ) -> None:
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            for write_id, reason in gone.items():
                await uow.crm_writes.mark_dead(write_id, error=reason)
                self.tally.dead += 1
            for event in events:
                if event.key in found:
                    await self._delivered(uow, event, found[event.key], now)
                    self.tally.found_delivered += 1
            for event, outcome in outcomes:
                write = by_id[event.write_id]
                if isinstance(outcome, Delivered):
                    await self._delivered(uow, event, outcome.remote_id, now)
                    self.tally.delivered += 1
                elif isinstance(outcome, Rejected):
                    log.warning(
                        "crm write %s refused: %s",
                        write.id,
                        outcome.code,
                        extra={"crm_write": write.id, "kind": write.kind.value},
                    )
                    await uow.crm_writes.mark_dead(write.id, error=f"refused: {outcome.code}")
                    self.tally.dead += 1
                else:
                    await self._retry(uow, [write], outcome, now)
            await uow.commit()

    async def _delivered(
        self, uow: SqlUnitOfWork, event: CrmEvent, remote_id: str | None, now: datetime
    ) -> None:
        await uow.crm_writes.mark_done(event.write_id, remote_id=remote_id, now=now)
        request_id = event.data.get("request_id")
        if (
            event.kind in (WriteKind.REQUEST, WriteKind.REQUEST_CHANGE)
            and remote_id
            and isinstance(request_id, int)
        ):
            known = await uow.session.scalar(
                select(m.CrmRefRow.id).where(
                    m.CrmRefRow.kind == "request", m.CrmRefRow.local_id == request_id
                )
            )
            if known is None:
                ref = m.CrmRefRow(kind="request", local_id=request_id, remote_id=remote_id)
                uow.session.add(ref)
                await uow.session.flush()

    def _delay(self, attempts: int) -> float:
        backoff = min(self._retry_cap, self._retry_base * 2.0 ** max(0, attempts - 1))
        return backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto

    async def _retry(
        self, uow: SqlUnitOfWork, writes: list[QueuedWrite], outcome: Deferred, now: datetime
    ) -> None:
        for write in writes:
            if outcome.not_tried:
                await uow.crm_writes.mark_retry(
                    [write.id],
                    error=outcome.code,
                    next_attempt_at=now,
                    uncertain=False,
                    refund_attempt=True,
                )
                continue
            if now - write.created_at > self._give_up:
                await uow.crm_writes.mark_dead(write.id, error=f"gave up: {outcome.code}")
                self.tally.dead += 1
                continue
            await uow.crm_writes.mark_retry(
                [write.id],
                error=outcome.code,
                next_attempt_at=now + timedelta(seconds=self._delay(write.attempts)),
                uncertain=outcome.uncertain,
                refund_attempt=False,
            )
            self.tally.retried += 1

    async def _unavailable(self, down: CrmUnavailable, writes: list[QueuedWrite]) -> None:
        """The whole request failed: every write of the round waits, and so does the writer."""
        self.tally.unavailable += 1
        self._failures += 1
        pause = down.retry_after or self._delay(self._failures)
        log.warning(
            "crm unavailable (%s); %d writes wait, next try in %.0f s",
            down.code,
            len(writes),
            pause,
        )
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            live = [w for w in writes if now - w.created_at <= self._give_up]
            for write in writes:
                if write not in live:
                    await uow.crm_writes.mark_dead(write.id, error=f"gave up: {down.code}")
                    self.tally.dead += 1
            await uow.crm_writes.mark_retry(
                [w.id for w in live],
                error=down.code,
                next_attempt_at=now + timedelta(seconds=pause),
                uncertain=down.uncertain,
                refund_attempt=not down.counts,
            )
            await uow.commit()
        self.tally.retried += len(writes)
        self._pause(pause)

    def _pause(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + seconds)
