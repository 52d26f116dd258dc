"""The service request lifecycle: create, accept, resolve, comment, cancel, reassign.

Shared by the bot, the scheduler and the CLI; who may act is checked in `request_access`, how
the other side is told is in `request_messages`, the queues and escalation in `request_queue`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common.clock import Clock
from common.i18n import DEFAULT_LANGUAGE, Catalog, local_time
from common.sensitive import SECRET_KINDS, mask, mask_text
from concierge.catalogue import Answer, Service, ServiceCatalogue
from concierge.notify import Notifier, Outgoing
from concierge.request_access import Desk, Refusal, for_client, for_staff, refuse
from concierge.request_messages import client_notice, rating_actions, staff_card
from concierge.staffing import MANAGER_LEVEL, told_in_turn
from crm_adapter.dto import Client, RequestStatus, Role, ServiceRequest, Staff
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class Receipt:
    request: ServiceRequest
    handler: Staff | None


async def _tell_client(
    uow: UnitOfWork, desk: Desk, request: ServiceRequest, key: str, **params: Any
) -> None:
    notice = await client_notice(uow, desk, request, key, **params)
    if notice is not None:
        await desk.notifier.to_client(request.client_id, notice)


async def _client_tz(uow: UnitOfWork, client_id: int) -> str:
    client = await uow.clients.get(client_id)
    return client.timezone if client else "Europe/Moscow"


async def _assignee(uow: UnitOfWork, request: ServiceRequest) -> Staff | None:
    """Who works on the request now, if anyone: the one to tell about the client's move."""
    return None if request.assignee_id is None else await uow.staff.get(request.assignee_id)


async def _add_comment(
    uow: UnitOfWork,
    request_id: int,
    now: datetime,
    *,
    text: str | None,
    file_id: str | None,
    staff: Staff | None,
) -> None:
    """Keeps a comment on the request: staff's when `staff` is given, else the client's."""
    await uow.requests.add_comment(
        request_id=request_id,
        author_kind="staff" if staff is not None else "client",
        author_staff_id=staff.id if staff is not None else None,
        text=text,
        file_id=file_id,
        now=now,
    )


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
    summary: str | Callable[[str], str],
    answers: dict[str, Answer] | None = None,
    red_button: bool = False,
    extra: dict[str, Any] | None = None,
    catalogue: ServiceCatalogue | None = None,
    texts: Catalog | None = None,
    start_level: int = MANAGER_LEVEL,
) -> Receipt:
    """Books the request with its SLA and alerts whoever answers for the client right now and
    can be told at once (`staffing.told_in_turn`: a manager whose messenger cannot be
    reached is passed over for the backup, then the duty desk, as the relay does).

    `start_level` skips the levels of the escalation chain the caller already found out of
    reach (the relay, when no one's messenger took the client's message live). A `summary`
    given as a function is written for the staff who read it: in the language of the first
    person told (the assignee), as their card is, or the default language with no one."""
    desk = Desk.of(notifier, clock, catalogue, texts)
    service = desk.catalogue.get(service_code)
    if service is None:
        raise ValueError(f"unknown service {service_code!r}")
    sla = desk.catalogue.red_button.sla if red_button else service.sla
    urgent = red_button or service.urgent
    now = clock.now()
    level, handlers = await told_in_turn(uow, client, now, start=start_level, respect_hours=urgent)
    if not isinstance(summary, str):
        summary = summary(handlers[0].language if handlers else DEFAULT_LANGUAGE)
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
        await _add_comment(uow, request_id, now, text=note, file_id=None, staff=staff)
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
        # As in the relay: a phone may go to the client, a card or document number not.
        text = mask(text, only=SECRET_KINDS).text if text else text
        await _add_comment(uow, request_id, now, text=text, file_id=file_id, staff=staff)
        await _tell_client(
            uow, desk, request, "requests.comment_client", staff=staff.full_name, text=text or "📎"
        )
        return request
    if client is None:
        raise ValueError("a comment needs its author")
    request = await for_client(
        uow, desk, client=client, request_id=request_id, action="comment", open_only=True
    )
    # Staff read it as it is stored: card, document and phone numbers masked.
    text = mask_text(text)
    await _add_comment(uow, request_id, now, text=text, file_id=file_id, staff=None)
    assignee = await _assignee(uow, request)
    if assignee is not None:
        header = desk.t(assignee.language)(
            "requests.comment_staff", client=client.full_name, id=request.id, text=text or "📎"
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
    assignee = await _assignee(uow, request)
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
