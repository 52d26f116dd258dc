"""The service request lifecycle, shared by the bot, the scheduler and the CLI.

Every rule about who may do what to a request lives here: a client acts only on their own
requests, staff only on requests of their clients (own, backed-up, assigned, or urgent ones
for the duty desk), nobody on a closed request. A refusal is audited and raised as
`RequestRefused`; callers render it and let the unit of work commit so the audit row stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.actions import Action, Actions, arrange
from concierge.catalogue import Answer, Service, ServiceCatalogue, default_catalogue
from concierge.notify import Notifier, Outgoing
from concierge.staffing import DUTY_LEVEL, reachable
from crm_adapter.dto import Client, RequestStatus, Role, ServiceRequest, Staff
from crm_adapter.port import UnitOfWork


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    CLOSED = "closed"
    NO_ACCESS = "no_access"
    ALREADY = "already"
    NOT_RESOLVED = "not_resolved"


class RequestRefused(Exception):
    """A person may not do this to this request; the use case has audited the attempt.

    Handlers let it propagate: the update middleware commits the unit of work (keeping the
    audit row) and tells the person why (`requests.refused.<reason>`).
    """

    def __init__(self, reason: Refusal, request_id: int) -> None:
        super().__init__(f"{reason.value}: request {request_id}")
        self.reason = reason
        self.request_id = request_id


def default_texts() -> Catalog:
    """Locale texts for use cases run outside an update (scheduler jobs, the CLI)."""
    return Catalog.shared()


@dataclass(frozen=True)
class Desk:
    """What every request use case needs besides the unit of work: ports and reference data."""

    notifier: Notifier
    clock: Clock
    catalogue: ServiceCatalogue
    texts: Catalog

    @classmethod
    def of(
        cls,
        notifier: Notifier,
        clock: Clock,
        catalogue: ServiceCatalogue | None = None,
        texts: Catalog | None = None,
    ) -> Desk:
        return cls(notifier, clock, catalogue or default_catalogue(), texts or default_texts())

    def t(self, language: str) -> Translator:
        return self.texts.translator(language)

    def title(self, code: str, language: str) -> str:
        service = self.catalogue.get(code)
        return service.title(language) if service else code


def local_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class Receipt:
    request: ServiceRequest
    handler: Staff | None


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


# --- access ----------------------------------------------------------------------------------


async def refuse(
    uow: UnitOfWork,
    desk: Desk,
    reason: Refusal,
    request_id: int,
    *,
    action: str,
    client_id: int | None = None,
    staff_id: int | None = None,
    subject_client_id: int | None = None,
) -> RequestRefused:
    """Audits the refused action; returns the exception for the caller to raise."""
    await uow.audit.record(
        now=desk.clock.now(),
        action=f"request_{action}",
        outcome="denied",
        actor_client_id=client_id,
        actor_staff_id=staff_id,
        subject_client_id=subject_client_id,
        details={"request_id": request_id, "reason": reason.value},
    )
    return RequestRefused(reason, request_id)


async def staff_may_act(uow: UnitOfWork, staff: Staff, request: ServiceRequest) -> bool:
    """Admins; the assignee; the client's manager and that manager's backup; duty on urgent."""
    if staff.has_role(Role.ADMIN) or request.assignee_id == staff.id:
        return True
    if staff.has_role(Role.DUTY) and request.urgent:
        return True
    client = await uow.clients.get(request.client_id)
    if client is None or client.manager_id is None:
        return False
    if client.manager_id == staff.id:
        return True
    manager = await uow.staff.get(client.manager_id)
    return manager is not None and manager.backup_id == staff.id


async def for_client(
    uow: UnitOfWork, desk: Desk, *, client: Client, request_id: int, action: str, open_only: bool
) -> ServiceRequest:
    """The request if it is this client's (and still open when required), else a refusal."""
    request = await uow.requests.get(request_id)
    reason: Refusal | None = None
    if request is None:
        reason = Refusal.NOT_FOUND
    elif request.client_id != client.id:
        reason = Refusal.NOT_YOURS
    elif open_only and request.closed:
        reason = Refusal.CLOSED
    if reason is not None or request is None:
        raise await refuse(
            uow,
            desk,
            reason or Refusal.NOT_FOUND,
            request_id,
            action=action,
            client_id=client.id,
            subject_client_id=request.client_id if request else None,
        )
    return request


async def for_staff(
    uow: UnitOfWork, desk: Desk, *, staff: Staff, request_id: int, action: str, open_only: bool
) -> ServiceRequest:
    request = await uow.requests.get(request_id)
    reason: Refusal | None = None
    if request is None:
        reason = Refusal.NOT_FOUND
    elif not await staff_may_act(uow, staff, request):
        reason = Refusal.NO_ACCESS
    elif open_only and request.closed:
        reason = Refusal.CLOSED
    if reason is not None or request is None:
        raise await refuse(
            uow,
            desk,
            reason or Refusal.NOT_FOUND,
            request_id,
            action=action,
            staff_id=staff.id,
            subject_client_id=request.client_id if request else None,
        )
    await uow.audit.record(
        now=desk.clock.now(),
        action=f"request_{action}",
        actor_staff_id=staff.id,
        subject_client_id=request.client_id,
        details={"request_id": request_id},
    )
    return request


# --- rendering for people outside the update -------------------------------------------------


def staff_request_actions(t: Translator, request_id: int, *, status: str) -> Actions:
    """Accept / Resolve / Reply (and Reassign) under a request shown to staff."""
    steps = ["accept"] if status == "new" else []
    steps += ["resolve", "reply", "reassign"]
    return arrange(
        (
            Action.of(
                t(f"requests.btn.{step}"), "staff_request", action=step, request_id=request_id
            )
            for step in steps
        ),
        3,
    )


def rating_actions(request_id: int) -> Actions:
    """One to five stars for a resolved request."""
    return arrange(
        (
            Action.of(f"{score} ⭐", "request_rating", request_id=request_id, score=score)
            for score in range(1, 6)
        ),
        5,
    )


async def staff_card(
    uow: UnitOfWork, desk: Desk, request: ServiceRequest, staff: Staff, *, header: str = ""
) -> Outgoing:
    """The request as a staff member sees it, with the action buttons."""
    t = desk.t(staff.language)
    client = await uow.clients.get(request.client_id)
    open_count = await uow.requests.count_open(request.client_id)
    text = t(
        "requests.staff_card",
        badge="🆘" if request.urgent else "🛎",
        id=request.id,
        service=desk.title(request.service_code, staff.language),
        client=client.full_name if client else "—",
        segment=(client.financial_segment if client else None) or "—",
        open=open_count,
        status=t(f"requests.status.{request.status.value}"),
        summary=request.summary,
        ack_due=local_time(request.ack_due_at, staff.timezone),
        resolve_due=local_time(request.resolve_due_at, staff.timezone),
    )
    actions = (
        None
        if request.closed
        else staff_request_actions(t, request.id, status=request.status.value)
    )
    return Outgoing(
        text=f"{header}\n{text}" if header else text,
        actions=actions,
        kind="service_request",
        payload={"request_id": request.id},
    )


async def client_notice(
    uow: UnitOfWork, desk: Desk, request: ServiceRequest, key: str, **params: Any
) -> Outgoing | None:
    """A status message for the request's client, in their language."""
    client = await uow.clients.get(request.client_id)
    if client is None:
        return None
    t = desk.t(client.language)
    actions = params.pop("actions", None)
    text = t(
        key, id=request.id, service=desk.title(request.service_code, client.language), **params
    )
    return Outgoing(
        text=text,
        actions=actions,
        kind="service_request",
        payload={"request_id": request.id, "key": key},
    )


async def _tell_client(
    uow: UnitOfWork, desk: Desk, request: ServiceRequest, key: str, **params: Any
) -> None:
    notice = await client_notice(uow, desk, request, key, **params)
    if notice is not None:
        await desk.notifier.to_client(request.client_id, notice)


async def _client_tz(uow: UnitOfWork, client_id: int) -> str:
    client = await uow.clients.get(client_id)
    return client.timezone if client else "Europe/Moscow"


# --- use cases -------------------------------------------------------------------------------


def summarise(service: Service, answers: dict[str, Answer], language: str) -> str:
    """One line per answered step, in the order the wizard asked them."""
    return "\n".join(
        f"• {step.label(language)}: {answers[step.field].shown}"
        for step in service.steps
        if step.field in answers
    )


async def create_request(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    client: Client,
    service_code: str,
    summary: str,
    answers: dict[str, Answer] | None = None,
    red_button: bool = False,
    extra: dict[str, Any] | None = None,
    catalogue: ServiceCatalogue | None = None,
    texts: Catalog | None = None,
) -> Receipt:
    """Books the request with its SLA and alerts whoever answers for the client right now."""
    desk = Desk.of(notifier, clock, catalogue, texts)
    service = desk.catalogue.get(service_code)
    if service is None:
        raise ValueError(f"unknown service {service_code!r}")
    sla = desk.catalogue.red_button.sla if red_button else service.sla
    urgent = red_button or service.urgent
    now = clock.now()
    level, handlers = await reachable(uow, client, now, respect_hours=urgent)
    request = await uow.requests.add(
        client_id=client.id,
        service_code=service.code,
        status=RequestStatus.NEW.value,
        urgent=urgent,
        summary=summary,
        details={
            "answers": {k: a.value for k, a in (answers or {}).items()},
            "red_button": red_button,
            **(extra or {}),
        },
        assignee_id=handlers[0].id if handlers else None,
        created_at=now,
        ack_due_at=now + timedelta(minutes=sla.ack_minutes),
        resolve_due_at=now + timedelta(hours=sla.resolve_hours),
        escalation_level=level,
    )
    await uow.audit.record(
        now=now,
        action="request_created",
        actor_client_id=client.id,
        subject_client_id=client.id,
        details={"request_id": request.id, "service": service.code, "level": level},
    )
    for person in handlers:
        await notifier.to_staff(person.id, await staff_card(uow, desk, request, person))
    return Receipt(request, handlers[0] if handlers else None)


async def accept_request(
    uow: UnitOfWork, notifier: Notifier, clock: Clock, *, staff: Staff, request_id: int
) -> ServiceRequest:
    desk = Desk.of(notifier, clock)
    request = await for_staff(
        uow, desk, staff=staff, request_id=request_id, action="accept", open_only=True
    )
    if request.status is not RequestStatus.NEW:
        raise await refuse(
            uow,
            desk,
            Refusal.ALREADY,
            request_id,
            action="accept",
            staff_id=staff.id,
            subject_client_id=request.client_id,
        )
    request = await uow.requests.update(
        request_id,
        status=RequestStatus.ACCEPTED.value,
        acknowledged_at=clock.now(),
        assignee_id=staff.id,
    )
    tz = await _client_tz(uow, request.client_id)
    await _tell_client(
        uow,
        desk,
        request,
        "requests.accepted_client",
        staff=staff.full_name,
        due=local_time(request.resolve_due_at, tz),
    )
    return request


async def resolve_request(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    staff: Staff,
    request_id: int,
    note: str | None = None,
) -> ServiceRequest:
    desk = Desk.of(notifier, clock)
    await for_staff(
        uow, desk, staff=staff, request_id=request_id, action="resolve", open_only=True
    )
    now = clock.now()
    request = await uow.requests.update(
        request_id,
        status=RequestStatus.RESOLVED.value,
        resolved_at=now,
        closed_at=now,
        assignee_id=staff.id,
    )
    if request.acknowledged_at is None:
        request = await uow.requests.update(request_id, acknowledged_at=now)
    if note:
        await uow.requests.add_comment(
            request_id=request_id,
            author_kind="staff",
            author_staff_id=staff.id,
            text=note,
            file_id=None,
            now=now,
        )
    await _tell_client(
        uow,
        desk,
        request,
        "requests.resolved_client",
        staff=staff.full_name,
        actions=rating_actions(request.id),
    )
    return request


async def comment_request(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    request_id: int,
    text: str | None,
    file_id: str | None = None,
    client: Client | None = None,
    staff: Staff | None = None,
) -> ServiceRequest:
    """A comment or document from the client or staff, passed to the other side at once."""
    desk = Desk.of(notifier, clock)
    now = clock.now()
    if staff is not None:
        request = await for_staff(
            uow, desk, staff=staff, request_id=request_id, action="comment", open_only=True
        )
        if request.acknowledged_at is None:
            # A personal answer is an acknowledgement: the escalation clock stops.
            request = await uow.requests.update(request_id, acknowledged_at=now)
        await uow.requests.add_comment(
            request_id=request_id,
            author_kind="staff",
            author_staff_id=staff.id,
            text=text,
            file_id=file_id,
            now=now,
        )
        await _tell_client(
            uow, desk, request, "requests.comment_client", staff=staff.full_name, text=text or "📎"
        )
        return request
    if client is None:
        raise ValueError("a comment needs its author")
    request = await for_client(
        uow, desk, client=client, request_id=request_id, action="comment", open_only=True
    )
    await uow.requests.add_comment(
        request_id=request_id,
        author_kind="client",
        author_staff_id=None,
        text=text,
        file_id=file_id,
        now=now,
    )
    if request.assignee_id is not None:
        assignee = await uow.staff.get(request.assignee_id)
        if assignee is not None:
            header = desk.t(assignee.language)(
                "requests.comment_staff",
                client=client.full_name,
                id=request.id,
                text=text or "📎",
            )
            await notifier.to_staff(
                assignee.id, await staff_card(uow, desk, request, assignee, header=header)
            )
    return request


async def cancel_request(
    uow: UnitOfWork, notifier: Notifier, clock: Clock, *, client: Client, request_id: int
) -> ServiceRequest:
    desk = Desk.of(notifier, clock)
    await for_client(
        uow, desk, client=client, request_id=request_id, action="cancel", open_only=True
    )
    request = await uow.requests.update(
        request_id, status=RequestStatus.CANCELLED.value, closed_at=clock.now()
    )
    await uow.audit.record(
        now=clock.now(),
        action="request_cancel",
        actor_client_id=client.id,
        subject_client_id=client.id,
        details={"request_id": request_id},
    )
    if request.assignee_id is not None:
        assignee = await uow.staff.get(request.assignee_id)
        if assignee is not None:
            text = desk.t(assignee.language)(
                "requests.cancelled_staff",
                id=request.id,
                client=client.full_name,
                service=desk.title(request.service_code, assignee.language),
            )
            await notifier.to_staff(assignee.id, Outgoing(text=text, kind="service_request"))
    return request


async def reassign_request(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    *,
    staff: Staff,
    request_id: int,
    to_staff_id: int,
) -> ServiceRequest:
    desk = Desk.of(notifier, clock)
    await for_staff(
        uow, desk, staff=staff, request_id=request_id, action="reassign", open_only=True
    )
    target = await uow.staff.get(to_staff_id)
    if target is None or not target.active or not target.has_role(Role.MANAGER):
        raise await refuse(
            uow,
            desk,
            Refusal.NO_ACCESS,
            request_id,
            action="reassign",
            staff_id=staff.id,
            subject_client_id=None,
        )
    request = await uow.requests.update(request_id, assignee_id=target.id)
    header = desk.t(target.language)("requests.reassigned_staff", staff=staff.full_name)
    await notifier.to_staff(target.id, await staff_card(uow, desk, request, target, header=header))
    await _tell_client(uow, desk, request, "requests.reassigned_client", staff=target.full_name)
    return request


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
        level, people = await reachable(
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
