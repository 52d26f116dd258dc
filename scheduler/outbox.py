"""The outbox-backed `Notifier`: resolves the chat, applies the contact policy, enqueues."""

from __future__ import annotations

import uuid
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
from crm_adapter.dto import Actor, Direction
from crm_adapter.sql import SqlCrm, SqlUnitOfWork


@dataclass(frozen=True)
class Enqueued:
    """What happened to one message handed to the outbox."""

    decision: ContactDecision
    outbox_id: int | None

    @property
    def queued(self) -> bool:
        return self.outbox_id is not None


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
        handling = current_unit_of_work()
        if handling is not None:
            return (await self.enqueue_for_client(handling, client_id, message)).queued
        async with self._crm.unit_of_work() as uow:
            result = await self.enqueue_for_client(uow, client_id, message)
            await uow.commit()
        return result.queued

    async def to_staff(self, staff_id: int, message: Outgoing) -> bool:
        handling = current_unit_of_work()
        if handling is not None:
            return (await self.enqueue_for_staff(handling, staff_id, message)).queued
        async with self._crm.unit_of_work() as uow:
            result = await self.enqueue_for_staff(uow, staff_id, message)
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
            decision = ContactDecision(Outcome.SUPPRESS, reason, None)
            await self._record(uow, message, decision, None, client_id=client_id)
            return Enqueued(decision, None)
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
        decision = self._policy.decide(facts, now=now, requested_at=not_before)
        return await self._enqueue(
            uow,
            message,
            decision,
            key=key,
            chat_id=link.chat_id,
            messenger=link.messenger,
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
            decision = ContactDecision(Outcome.SUPPRESS, reason, None)
            await self._record(uow, message, decision, None, staff_id=staff_id)
            return Enqueued(decision, None)
        facts = ContactFacts(
            audience=Audience.STAFF,
            marketing=message.message_class is MessageClass.MARKETING,
            already_queued=await uow.outbox.exists(key),
        )
        decision = self._policy.decide(facts, now=now, requested_at=not_before)
        return await self._enqueue(
            uow,
            message,
            decision,
            key=key,
            chat_id=link.chat_id,
            messenger=link.messenger,
            staff_id=staff_id,
            priority=priority,
        )

    async def _enqueue(
        self,
        uow: SqlUnitOfWork,
        message: Outgoing,
        decision: ContactDecision,
        *,
        key: str,
        chat_id: int,
        messenger: str,
        priority: int,
        client_id: int | None = None,
        staff_id: int | None = None,
    ) -> Enqueued:
        outbox_id: int | None = None
        if decision.allowed and decision.not_before is not None:
            row = await uow.outbox.add(
                idempotency_key=key,
                chat_id=chat_id,
                messenger=messenger,
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
        """Every decision goes to the decision log and to the person's interaction history."""
        now = self._clock.now()
        await uow.contact_decisions.record(
            now=now,
            client_id=client_id,
            staff_id=staff_id,
            kind=message.kind,
            message_class=message.message_class.value,
            occasion_key=message.occasion_key,
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
                "occasion_key": message.occasion_key,
                "message_kind": message.kind,
                "message_class": message.message_class.value,
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
