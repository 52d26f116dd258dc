"""How a service request reads to people outside the current update: the staff card with
its buttons, the client's status notices, the rating stars."""

from __future__ import annotations

from typing import Any

from common.i18n import Translator, local_time
from concierge.actions import Action, Actions, arrange
from concierge.insights.reasons import segment_label
from concierge.notify import Outgoing
from concierge.request_access import Desk
from crm_adapter.dto import ServiceRequest, Staff
from crm_adapter.port import UnitOfWork


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
        segment=segment_label(
            desk.texts, staff.language, client.financial_segment if client else None
        ),
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
