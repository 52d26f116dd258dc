"""The delivery worker: sends outbox messages through a messenger channel within its limits.

Each message goes through three recorded steps: *claimed* (a lease on a pending row),
*sending* (committed immediately before the HTTP request) and *sent* (committed with the
Telegram message id right after the response). Telegram has no idempotent send, so the one
window that cannot be closed is a crash between the request and the confirm: such a row is
found in ``sending`` on restart and is *uncertain* -- the message may or may not have reached
the person. The worker then follows a per-class policy (`resend_uncertain`): service
messages are sent again (at-least-once: a possible duplicate beats a lost card-block notice),
marketing is given up and marked failed (at-most-once: a possible loss beats a duplicate
offer). The window is one HTTP round trip per in-flight message; cancelling the worker's
task is not a crash: in-flight requests are shielded and confirmed before it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.clock import Clock
from common.settings import Settings
from concierge.contact_policy import ContactDecision, Outcome
from concierge.data_rights import OWED_TO_SUBJECT
from concierge.notify import MessageClass
from crm_adapter.dto import Actor, Direction, OutboxMessage
from crm_adapter.sql import SqlCrm, SqlUnitOfWork
from scheduler.channel import (
    ChannelSender,
    Delivery,
    RecipientBlocked,
    Rejected,
    RetryLater,
    TransientFailure,
)
from scheduler.outbox import record_decision

log = logging.getLogger(__name__)


class RateLimiter:
    """Spaces sends evenly: global rate, a per-chat interval and flood-control pauses.

    Slots are reserved before waiting, so concurrent senders never compute the same slot.
    Limits are per process: several workers must split the global rate between them.
    """

    def __init__(
        self, *, rate_per_second: float, per_chat_interval: float, warm_up: float = 1.0
    ) -> None:
        self._spacing = 1.0 / rate_per_second
        self._per_chat = per_chat_interval
        self._warm_up = warm_up
        self._next_global: float | None = None
        self._next_by_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._last_request = 0.0

    def pause(self, seconds: float) -> None:
        """Telegram said "retry after": nobody sends until then."""
        loop_now = asyncio.get_running_loop().time()
        self._paused_until = max(self._paused_until, loop_now + seconds)

    async def wait_turn(self, chat_id: int) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        chat_slot = max(now, self._next_by_chat.get(chat_id, 0.0))
        self._next_by_chat[chat_id] = chat_slot + self._per_chat
        if chat_slot > now:
            await asyncio.sleep(chat_slot - now)
        while True:
            now = loop.time()
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                continue
            if self._next_global is None:
                # A restarted sender cannot know what its predecessor sent in the last second
                # of Telegram's window; starting at full speed would earn a 429 at once.
                self._next_global = now + self._warm_up
            slot = max(now, self._next_global)
            self._next_global = slot + self._spacing
            if slot > now:
                await asyncio.sleep(slot - now)
            if self._paused_until <= loop.time():
                return
        # A pause that began while we waited for our slot sends us round again.

    async def request_gate(self) -> None:
        """Keeps actual requests `spacing` apart.

        Between a reserved slot and the request lies a database commit whose latency varies;
        without this gate requests delayed by it would leave in bunches, and bunches are what
        Telegram's sliding window punishes with 429.
        """
        loop = asyncio.get_running_loop()
        while (gap := self._last_request + self._spacing - loop.time()) > 0:
            await asyncio.sleep(gap)
        self._last_request = loop.time()

    def forget_idle_chats(self) -> None:
        now = asyncio.get_running_loop().time()
        self._next_by_chat = {c: t for c, t in self._next_by_chat.items() if t > now}


@dataclass(frozen=True)
class ChannelLimits:
    """A messenger's own sending limits: each channel has its rate and its flood pauses."""

    rate_per_second: float = 25.0
    per_chat_interval: float = 1.0


class DeliveryWorker:
    """Claims due outbox messages and sends them; `run` until cancelled, or `drain` in tests.

    `senders` has one sender per messenger ("telegram", "max"); each messenger gets its own
    rate limiter (its `limits`, else `rate_per_second` and `per_chat_interval`), so a 429 from
    one pauses only that one. Only messages for messengers with a sender are claimed.
    """

    def __init__(
        self,
        crm: SqlCrm,
        senders: Mapping[str, ChannelSender],
        clock: Clock,
        *,
        worker_id: str | None = None,
        rate_per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        limits: Mapping[str, ChannelLimits] | None = None,
        max_in_flight: int = 50,
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        lease: timedelta = timedelta(seconds=60),
        stale_after: timedelta = timedelta(minutes=5),
        poll_interval: float = 0.5,
        warm_up: float = 1.0,
        resend_uncertain: Collection[MessageClass] = (MessageClass.SERVICE,),
    ) -> None:
        self._crm = crm
        self._senders = dict(senders)
        self._clock = clock
        # Stable per host by default, so a restarted worker recognises its own stranded rows.
        self.worker_id = worker_id or f"{socket.gethostname()}:delivery"
        default = ChannelLimits(rate_per_second, per_chat_interval)
        self.limiters = {
            messenger: RateLimiter(
                rate_per_second=(limits or {}).get(messenger, default).rate_per_second,
                per_chat_interval=(limits or {}).get(messenger, default).per_chat_interval,
                warm_up=warm_up,
            )
            for messenger in self._senders
        }
        self._max_in_flight = max_in_flight
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._lease = lease
        self._stale_after = stale_after
        self._poll = poll_interval
        self._resend_uncertain = frozenset(c.value for c in resend_uncertain)
        self._tasks: set[asyncio.Task[None]] = set()
        self._critical: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        crm: SqlCrm,
        senders: Mapping[str, ChannelSender],
        clock: Clock,
        **kwargs: Any,
    ) -> DeliveryWorker:
        limits = {
            "telegram": ChannelLimits(
                settings.scheduler.global_rate_per_second,
                settings.scheduler.per_chat_interval_seconds,
            ),
            "max": ChannelLimits(
                settings.max.rate_per_second, settings.max.per_chat_interval_seconds
            ),
        }
        return cls(crm, senders, clock, limits=limits, **kwargs)

    @property
    def limiter(self) -> RateLimiter:
        """The limiter of the first messenger (Telegram's when it has a sender)."""
        return next(iter(self.limiters.values()))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Runs the worker in the background until `stop`."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"delivery:{self.worker_id}")
        return self._task

    async def stop(self) -> None:
        """Stops claiming; in-flight requests are confirmed before this returns."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self, *, until_idle: bool = False) -> None:
        """Reconciles, then delivers until cancelled (or, with `until_idle`, nothing is due)."""
        await self.reconcile()
        try:
            while True:
                room = self._max_in_flight - len(self._tasks)
                claimed = await self._claim(room) if room > 0 else []
                for message in claimed:
                    task = asyncio.create_task(self._deliver(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if claimed:
                    await asyncio.sleep(0)
                    continue
                if until_idle and not self._tasks:
                    return
                if self._tasks:
                    await asyncio.wait(
                        self._tasks, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                    )
                else:
                    for limiter in self.limiters.values():
                        limiter.forget_idle_chats()
                    await asyncio.sleep(self._poll)
        finally:
            # Waiting (not yet requested) sends are abandoned: their lease lapses harmlessly.
            # Requests already on the wire are shielded and must be confirmed before we go.
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.gather(*self._critical, return_exceptions=True)

    async def drain(self) -> None:
        """Delivers everything due now, then returns (tests, the demo, the benchmark)."""
        await self.run(until_idle=True)

    # -- claiming and reconciling ------------------------------------------------------------

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            claimed = await uow.outbox.lease_due(
                now=now,
                worker_id=self.worker_id,
                limit=limit,
                lease=self._lease,
                messengers=list(self._senders),
            )
            await uow.commit()
        return claimed

    async def reconcile(self) -> dict[str, int]:
        """Settles rows a crashed worker left behind; returns counts for the log."""
        now = self._clock.now()
        requeued = given_up = 0
        async with self._crm.unit_of_work() as uow:
            # Leases of our previous life: never requested, safe to hand back.
            await uow.outbox.release_leases(worker_id=self.worker_id)
            stranded = await uow.outbox.stranded(
                worker_id=self.worker_id, claimed_before=now - self._stale_after
            )
            for message in stranded:
                if message.message_class in self._resend_uncertain:
                    await uow.outbox.mark_retry(
                        message.id,
                        error="uncertain after crash: sent again (at-least-once)",
                        next_attempt_at=now,
                        refund_attempt=False,
                    )
                    requeued += 1
                else:
                    await uow.outbox.mark_failed(
                        message.id,
                        error="uncertain after crash: not resent (at-most-once)",
                    )
                    given_up += 1
            await uow.commit()
        if requeued or given_up:
            log.warning("outbox reconciled: %d resent, %d given up", requeued, given_up)
        return {"requeued": requeued, "given_up": given_up}

    # -- one message -------------------------------------------------------------------------

    async def _deliver(self, message: OutboxMessage) -> None:
        await self.limiters[message.messenger].wait_turn(message.chat_id)
        inner = asyncio.create_task(self._send_and_confirm(message))
        self._critical.add(inner)
        inner.add_done_callback(self._critical.discard)
        # Once the request may be on the wire, cancelling must not skip the confirm.
        await asyncio.shield(inner)

    async def _send_and_confirm(self, message: OutboxMessage) -> None:
        if not await self._mark_sending(message):
            return
        limiter = self.limiters[message.messenger]
        try:
            await limiter.request_gate()
            sent = await self._send(message)
        except RetryLater as exc:
            limiter.pause(exc.retry_after)
            await self._retry(
                message,
                f"429 retry after {exc.retry_after}s",
                delay=float(exc.retry_after),
                refund=True,
            )
        except RecipientBlocked as exc:
            await self._blocked(message, str(exc))
        except TransientFailure as exc:
            await self._retry(message, str(exc), delay=None, refund=False)
        except Rejected as exc:
            await self._finish_failed(message, f"bad request: {exc}")
        except Exception as exc:  # an unknown failure must not strand the row in `sending`
            log.exception("unexpected error sending outbox message %s", message.id)
            await self._retry(message, f"{type(exc).__name__}: {exc}", delay=None, refund=False)
        else:
            await self._confirm(message, sent)

    async def _mark_sending(self, message: OutboxMessage) -> bool:
        """Commits `sending` right before the request; re-checks consent at send time."""
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            refusal = await _refusal_at_send_time(uow, message)
            if refusal:
                await uow.outbox.mark_failed(
                    message.id, error=f"suppressed at send time: {refusal}"
                )
                await record_decision(
                    uow,
                    ContactDecision(Outcome.SUPPRESS, refusal, None),
                    now=now,
                    kind=message.kind,
                    message_class=message.message_class,
                    occasion_key=message.occasion_key,
                    client_id=message.client_id,
                    staff_id=message.staff_id,
                    outbox_id=message.id,
                )
                await uow.commit()
                return False
            mine = await uow.outbox.mark_sending(message.id, worker_id=self.worker_id, now=now)
            await uow.commit()
        # Not mine: the lease lapsed and another worker took the message; leave it to them.
        return mine

    async def _send(self, message: OutboxMessage) -> int:
        document = None
        if message.document_name:
            async with self._crm.unit_of_work() as uow:
                document = await uow.outbox.document(message.id)
        return await self._senders[message.messenger].send(
            Delivery(
                chat_id=message.chat_id,
                text=message.text,
                actions=message.keyboard,
                document=document,
            )
        )

    async def _confirm(self, message: OutboxMessage, sent: int) -> None:
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            await uow.outbox.mark_sent(
                message.id, telegram_message_id=sent, now=now, text=message.text
            )
            await uow.interactions.record(
                occurred_at=now,
                channel="messenger",
                messenger=message.messenger,
                direction=Direction.OUT.value,
                kind=message.kind,
                actor=Actor.BOT.value,
                client_id=message.client_id,
                staff_id=message.staff_id,
                chat_id=message.chat_id,
                text=message.text,
                payload={
                    "outbox_id": message.id,
                    "message_class": message.message_class,
                    "occasion_key": message.occasion_key,
                },
            )
            await uow.commit()

    async def _retry(
        self, message: OutboxMessage, error: str, *, delay: float | None, refund: bool
    ) -> None:
        attempts = message.attempts  # already counts this attempt (incremented on claim)
        if not refund and attempts >= self._max_attempts:
            await self._finish_failed(message, f"gave up after {attempts} attempts: {error}")
            return
        if delay is None:
            backoff = min(self._backoff_cap, self._backoff_base * 2 ** max(0, attempts - 1))
            delay = backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
        async with self._crm.unit_of_work() as uow:
            await uow.outbox.mark_retry(
                message.id,
                error=error,
                next_attempt_at=self._clock.now() + timedelta(seconds=delay),
                refund_attempt=refund,
            )
            await uow.commit()

    async def _finish_failed(self, message: OutboxMessage, error: str) -> None:
        log.warning("outbox message %s failed: %s", message.id, error)
        async with self._crm.unit_of_work() as uow:
            await uow.outbox.mark_failed(message.id, error=error)
            await uow.commit()

    async def _blocked(self, message: OutboxMessage, error: str) -> None:
        now = self._clock.now()
        async with self._crm.unit_of_work() as uow:
            # Only this messenger: the person may still be reachable in another one.
            await uow.outbox.block_chat(
                message.chat_id, error=f"blocked: {error}", messenger=message.messenger
            )
            await uow.links.mark_blocked(message.chat_id, now=now, messenger=message.messenger)
            await uow.interactions.record(
                occurred_at=now,
                channel="messenger",
                messenger=message.messenger,
                direction=Direction.INTERNAL.value,
                kind="channel_blocked",
                actor=Actor.SYSTEM.value,
                client_id=message.client_id,
                staff_id=message.staff_id,
                chat_id=message.chat_id,
                text=error[:500],
            )
            await uow.commit()


async def _refusal_at_send_time(uow: SqlUnitOfWork, message: OutboxMessage) -> str | None:
    """Consent can be withdrawn while a message waits out quiet hours: check it again."""
    if message.client_id is None or message.kind in OWED_TO_SUBJECT:
        return None
    consent = await uow.consents.current(message.client_id)
    if consent is None or not consent.active:
        return "no_consent"
    if message.message_class == MessageClass.MARKETING.value:
        client = await uow.clients.get(message.client_id)
        if client is None or client.marketing_opt_out:
            return "marketing_opt_out"
    return None
