"""The outbox-backed `Notifier`: resolves the chat, applies the contact policy, enqueues."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from common.clock import Clock
from concierge.contact_policy import (
    MARKETING_WINDOW,
    Audience,
    ContactDecision,
    ContactFacts,
    ContactPolicy,
    Outcome,
)
from concierge.notify import MessageClass, Outgoing, current_unit_of_work
from crm_adapter.dto import Actor, Direction, MessengerLink
from crm_adapter.sql import SqlCrm, SqlUnitOfWork


@dataclass(frozen=True)
class Enqueued:
    """What happened to one message handed to the outbox."""

    decision: ContactDecision
    outbox_id: int | None

    @property
    def queued(self) -> bool:
        return self.outbox_id is not None


# `enqueue_for_client` or `enqueue_for_staff`: (unit of work, person's id, message).
_Enqueue = Callable[[SqlUnitOfWork, int, Outgoing], Awaitable[Enqueued]]


class OutboxNotifier:
    """Implements `concierge.notify.Notifier`: every proactive message passes here.

    `to_client` / `to_staff` open and commit their own unit of work. Callers that must
    enqueue atomically with their own changes (the rule engine records the firing in the
    same transaction) use `enqueue_for_client` / `enqueue_for_staff` on their unit of work.
    """

    def __init__(self, crm: SqlCrm, clock: Clock, policy: ContactPolicy) -> None:
        self._crm = crm
        self._clock = clock
        self._policy = policy

    async def to_client(self, client_id: int, message: Outgoing) -> bool:
        return await self._queue(self.enqueue_for_client, client_id, message)

    async def to_staff(self, staff_id: int, message: Outgoing) -> bool:
        return await self._queue(self.enqueue_for_staff, staff_id, message)

    async def _queue(self, enqueue: _Enqueue, person_id: int, message: Outgoing) -> bool:
        """Queues in the update's unit of work while one is handled (its commit carries the
        message with the rest of the update), else in a unit of work of its own."""
        handling = current_unit_of_work()
        if handling is not None:
            return (await enqueue(handling, person_id, message)).queued
        async with self._crm.unit_of_work() as uow:
            result = await enqueue(uow, person_id, message)
            await uow.commit()
        return result.queued

    async def enqueue_for_client(
        self,
        uow: SqlUnitOfWork,
        client_id: int,
        message: Outgoing,
        *,
        not_before: datetime | None = None,
        priority: int = 100,
    ) -> Enqueued:
        """Applies the policy and queues within `uow`; the caller commits."""
        now = self._clock.now()
        key = _idempotency_key("client", client_id, message)
        client = await uow.clients.get(client_id)
        link = await uow.links.for_client(client_id)
        marketing = message.message_class is MessageClass.MARKETING
        if client is None or client.out_of_service or link is None or link.blocked_at is not None:
            reason = (
                "no_channel"
                if link is None or client is None
                else "out_of_service"
                if client.out_of_service
                else "channel_blocked"
            )
            return await self._suppress(uow, message, reason, client_id=client_id)
        consent = await uow.consents.current(client_id)
        facts = ContactFacts(
            audience=Audience.CLIENT,
            marketing=marketing,
            already_queued=await uow.outbox.exists(key),
            consent_active=bool(consent and consent.active),
            marketing_opt_out=client.marketing_opt_out,
            do_not_disturb=client.do_not_disturb,
            timezone=client.timezone,
            quiet_start=client.quiet_start,
            quiet_end=client.quiet_end,
            marketing_times=(
                await uow.outbox.marketing_times(client_id, since=now - 2 * MARKETING_WINDOW)
                if marketing
                else ()
            ),
        )
        return await self._decide_and_enqueue(
            uow,
            message,
            facts,
            now=now,
            not_before=not_before,
            key=key,
            link=link,
            client_id=client_id,
            priority=priority,
        )

    async def enqueue_for_staff(
        self,
        uow: SqlUnitOfWork,
        staff_id: int,
        message: Outgoing,
        *,
        not_before: datetime | None = None,
        priority: int = 50,
    ) -> Enqueued:
        """Staff messages skip consent and quiet hours; only duplicates are refused."""
        now = self._clock.now()
        key = _idempotency_key("staff", staff_id, message)
        link = await uow.links.for_staff(staff_id)
        if link is None or link.blocked_at is not None:
            reason = "no_channel" if link is None else "channel_blocked"
            return await self._suppress(uow, message, reason, staff_id=staff_id)
        facts = ContactFacts(
            audience=Audience.STAFF,
            marketing=message.message_class is MessageClass.MARKETING,
            already_queued=await uow.outbox.exists(key),
        )
        return await self._decide_and_enqueue(
            uow,
            message,
            facts,
            now=now,
            not_before=not_before,
            key=key,
            link=link,
            staff_id=staff_id,
            priority=priority,
        )

    async def _suppress(
        self,
        uow: SqlUnitOfWork,
        message: Outgoing,
        reason: str,
        *,
        client_id: int | None = None,
        staff_id: int | None = None,
    ) -> Enqueued:
        """Nobody to send to (no account, blocked, out of service): recorded, not queued."""
        decision = ContactDecision(Outcome.SUPPRESS, reason, None)
        await self._record(uow, message, decision, None, client_id=client_id, staff_id=staff_id)
        return Enqueued(decision, None)

    async def _decide_and_enqueue(
        self,
        uow: SqlUnitOfWork,
        message: Outgoing,
        facts: ContactFacts,
        *,
        now: datetime,
        not_before: datetime | None,
        key: str,
        link: MessengerLink,
        priority: int,
        client_id: int | None = None,
        staff_id: int | None = None,
    ) -> Enqueued:
        """Asks the contact policy, queues what it allows and records the decision."""
        decision = self._policy.decide(facts, now=now, requested_at=not_before)
        outbox_id: int | None = None
        if decision.allowed and decision.not_before is not None:
            row = await uow.outbox.add(
                idempotency_key=key,
                chat_id=link.chat_id,
                messenger=link.messenger,
                client_id=client_id,
                staff_id=staff_id,
                text=message.text,
                keyboard=message.actions.to_json() if message.actions else None,
                message_class=message.message_class.value,
                kind=message.kind,
                occasion_key=message.occasion_key,
                now=self._clock.now(),
                not_before=decision.not_before,
                priority=priority,
                document=message.document,
            )
            if row is None:  # lost a race with a concurrent enqueue of the same occasion
                decision = ContactDecision(Outcome.SUPPRESS, "duplicate_occasion", None)
            else:
                outbox_id = row.id
        await self._record(
            uow, message, decision, outbox_id, client_id=client_id, staff_id=staff_id
        )
        return Enqueued(decision, outbox_id)

    async def _record(
        self,
        uow: SqlUnitOfWork,
        message: Outgoing,
        decision: ContactDecision,
        outbox_id: int | None,
        *,
        client_id: int | None = None,
        staff_id: int | None = None,
    ) -> None:
        await record_decision(
            uow,
            decision,
            now=self._clock.now(),
            kind=message.kind,
            message_class=message.message_class.value,
            occasion_key=message.occasion_key,
            client_id=client_id,
            staff_id=staff_id,
            outbox_id=outbox_id,
        )


async def record_decision(
    uow: SqlUnitOfWork,
    decision: ContactDecision,
    *,
    now: datetime,
    kind: str,
    message_class: str,
    occasion_key: str | None,
    client_id: int | None,
    staff_id: int | None,
    outbox_id: int | None,
) -> None:
    """Every decision goes to the decision log and to the person's interaction history, the
    same way whether it was taken on enqueue (the notifier) or at send time (the delivery
    worker re-checks consent)."""
    await uow.contact_decisions.record(
        now=now,
        client_id=client_id,
        staff_id=staff_id,
        kind=kind,
        message_class=message_class,
        occasion_key=occasion_key,
        outcome=decision.outcome.value,
        reason=decision.reason,
        not_before=decision.not_before,
        outbox_id=outbox_id,
    )
    await uow.interactions.record(
        occurred_at=now,
        channel="messenger",
        direction=Direction.INTERNAL.value,
        kind="contact_decision",
        actor=Actor.SYSTEM.value,
        client_id=client_id,
        staff_id=staff_id,
        text=describe(decision),
        payload={
            "outcome": decision.outcome.value,
            "reason": decision.reason,
            "not_before": decision.not_before.isoformat() if decision.not_before else None,
            "occasion_key": occasion_key,
            "message_kind": kind,
            "message_class": message_class,
            "outbox_id": outbox_id,
        },
    )


def describe(decision: ContactDecision) -> str:
    """A one-line account of a decision for the client's history (staff-facing)."""
    if decision.outcome is Outcome.SUPPRESS:
        return f"suppressed because {decision.reason}"
    when = decision.not_before.isoformat() if decision.not_before else "now"
    if decision.outcome is Outcome.DEFER:
        return f"deferred until {when} ({decision.reason})"
    return f"queued to send at {when}"


def _idempotency_key(audience: str, person_id: int, message: Outgoing) -> str:
    # Without an occasion every call is a distinct message, so a random key is honest.
    occasion = message.occasion_key or f"adhoc:{uuid.uuid4().hex}"
    return f"{audience}:{person_id}:{occasion}"
