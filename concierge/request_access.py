"""Who may do what to a service request, and the desk every request use case works at.

A client acts only on their own requests, staff only on requests of their clients (own,
backed-up, assigned, or urgent ones for the duty desk), nobody on a closed request. A refusal
is audited and raised as `RequestRefused`; callers render it and let the unit of work commit so
the audit row stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.catalogue import ServiceCatalogue, default_catalogue
from concierge.notify import Notifier
from crm_adapter.dto import Client, Role, ServiceRequest, Staff
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


# Roles that serve clients; a member left with none (a coordinator now) acts on no request.
SERVING = (Role.ADMIN, Role.MANAGER, Role.DUTY)


async def staff_may_act(uow: UnitOfWork, staff: Staff, request: ServiceRequest) -> bool:
    """Admins; the assignee; the client's manager and that manager's backup; duty on urgent.

    Read from the CRM's record of now: an inactive member, or one whose roles no longer
    serve clients, may not act even on a request still assigned to them.
    """
    if not staff.active or not any(staff.has_role(role) for role in SERVING):
        return False
    if staff.has_role(Role.ADMIN) or request.assignee_id == staff.id:
        return True
    if staff.has_role(Role.DUTY) and request.urgent:
        return True
    if not staff.has_role(Role.MANAGER):
        return False
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
    return await _granted(
        uow, desk, request, reason, request_id=request_id, action=action, client_id=client.id
    )


async def for_staff(
    uow: UnitOfWork, desk: Desk, *, staff: Staff, request_id: int, action: str, open_only: bool
) -> ServiceRequest:
    """The request if `staff` may act on it (and it is still open when required), else a
    refusal; a granted view of the client's request is audited."""
    request = await uow.requests.get(request_id)
    reason: Refusal | None = None
    if request is None:
        reason = Refusal.NOT_FOUND
    elif not await staff_may_act(uow, staff, request):
        reason = Refusal.NO_ACCESS
    elif open_only and request.closed:
        reason = Refusal.CLOSED
    request = await _granted(
        uow, desk, request, reason, request_id=request_id, action=action, staff_id=staff.id
    )
    await uow.audit.record(
        now=desk.clock.now(),
        action=f"request_{action}",
        actor_staff_id=staff.id,
        subject_client_id=request.client_id,
        details={"request_id": request_id},
    )
    return request


async def _granted(
    uow: UnitOfWork,
    desk: Desk,
    request: ServiceRequest | None,
    reason: Refusal | None,
    *,
    request_id: int,
    action: str,
    client_id: int | None = None,
    staff_id: int | None = None,
) -> ServiceRequest:
    """The request when no reason to refuse was found; else the audited refusal is raised."""
    if reason is None and request is not None:
        return request
    raise await refuse(
        uow,
        desk,
        reason or Refusal.NOT_FOUND,
        request_id,
        action=action,
        client_id=client_id,
        staff_id=staff_id,
        subject_client_id=request.client_id if request else None,
    )
