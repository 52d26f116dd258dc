"""Lists of open requests (the client's own, the manager's queue) and the escalation of
urgent requests nobody acknowledged in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from common.clock import Clock
from common.i18n import Catalog
from concierge.catalogue import ServiceCatalogue
from concierge.notify import Notifier
from concierge.request_access import Desk
from concierge.request_messages import client_notice, staff_card
from concierge.staffing import DUTY_LEVEL, told_in_turn
from crm_adapter.dto import Client, ServiceRequest, Staff
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class QueueItem:
    request: ServiceRequest
    client: Client
    overdue: bool


@dataclass(frozen=True)
class Escalation:
    request_id: int
    level: int
    staff_ids: list[int]


async def client_requests(
    uow: UnitOfWork, *, client_id: int
) -> tuple[list[ServiceRequest], list[ServiceRequest]]:
    """(open, past) requests of one client, newest first."""
    everything = await uow.requests.for_client(client_id)
    return [r for r in everything if not r.closed], [r for r in everything if r.closed]


async def manager_queue(uow: UnitOfWork, clock: Clock, *, staff: Staff) -> list[QueueItem]:
    """Open requests of the manager's own and backed-up clients, overdue first, then by SLA."""
    managers = [staff.id] + [s.id for s in await uow.staff.backed_up_by(staff.id)]
    # One statement, clients included: a portfolio may hold thousands of clients.
    found = await uow.requests.open_for_managers(manager_ids=managers, assignee_id=staff.id)
    now = clock.now()
    items = [QueueItem(r, client, overdue=r.deadline <= now) for r, client in found]
    items.sort(key=lambda i: (not i.overdue, i.request.deadline, i.request.id))
    await uow.audit.record(
        now=now,
        action="request_queue_viewed",
        actor_staff_id=staff.id,
        details={"count": len(items)},
    )
    return items


async def escalate_overdue(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    catalogue: ServiceCatalogue | None = None,
    texts: Catalog | None = None,
) -> list[Escalation]:
    """Moves every urgent request nobody acknowledged in time one level up the chain.

    Manager -> backup -> duty desk; each move resets the acknowledgement deadline by the
    service's SLA, is logged as an interaction and audited, and the client is told. All state
    is in the request row, so a periodic job may call this at any rate and after any restart.
    Commits the unit of work after each escalation (see below).
    """
    desk = Desk.of(notifier, clock, catalogue, texts)
    now = clock.now()
    moved: list[Escalation] = []
    for request in await uow.requests.unacknowledged_due(now):
        if request.escalation_level >= DUTY_LEVEL:
            continue  # the duty desk is the last level; the overdue queue shows the rest
        client = await uow.clients.get(request.client_id)
        if client is None:
            continue
        # As a new request: a level whose people no messenger of theirs can reach is passed
        # over, or the move would cost the client another SLA period unseen.
        level, people = await told_in_turn(
            uow, client, now, start=request.escalation_level + 1, respect_hours=True
        )
        red = bool((request.details or {}).get("red_button"))
        service = desk.catalogue.get(request.service_code)
        sla = desk.catalogue.red_button.sla if red or service is None else service.sla
        moved_request = await uow.requests.update(
            request.id,
            escalation_level=level,
            assignee_id=people[0].id if people else request.assignee_id,
            ack_due_at=now + timedelta(minutes=sla.ack_minutes),
        )
        await uow.interactions.record(
            occurred_at=now,
            channel="system",
            direction="internal",
            kind="escalation",
            actor="system",
            client_id=client.id,
            staff_id=people[0].id if people else None,
            text=f"request {request.id} escalated to level {level}",
            payload={"request_id": request.id, "level": level, "staff": [p.id for p in people]},
        )
        await uow.audit.record(
            now=now,
            action="request_escalated",
            subject_client_id=client.id,
            details={"request_id": request.id, "level": level},
        )
        alerts = [
            (
                person.id,
                await staff_card(
                    uow,
                    desk,
                    moved_request,
                    person,
                    header=desk.t(person.language)("requests.escalated_staff", level=level),
                ),
            )
            for person in people
        ]
        names = ", ".join(p.full_name for p in people) or "—"
        notice = await client_notice(
            uow, desk, moved_request, f"requests.escalated_client.{level}", staff=names
        )
        # The new level is made durable before anyone is alerted: a crash in between leaves
        # the alert to the next run's level rather than repeating this one, and on SQLite the
        # notifier's own log writes must not wait behind this transaction.
        await uow.commit()
        for staff_id, alert in alerts:
            await notifier.to_staff(staff_id, alert)
        if notice is not None:
            await notifier.to_client(client.id, notice)
        moved.append(Escalation(request.id, level, [p.id for p in people]))
    return moved
