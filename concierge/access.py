"""Who may see which client: own portfolio, backed-up portfolios, everything for admins.

Every look at a client's data, allowed or refused, leaves an audit entry (who, whom, what).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock
from crm_adapter.dto import Client, MessengerLink, Role, Staff
from crm_adapter.port import PeopleUnit


@dataclass(frozen=True)
class Scope:
    """What a staff member may see: everything, or the portfolios of these managers."""

    everything: bool
    manager_ids: frozenset[int]

    def covers(self, client: Client) -> bool:
        if client.out_of_service:
            return False
        return self.everything or (
            client.manager_id is not None and client.manager_id in self.manager_ids
        )


async def scope_of(uow: PeopleUnit, staff: Staff) -> Scope:
    """Admins see all; managers their own and backed-up clients; coordinators no client card
    (they reach invitations through the events feature, which shows only what events need)."""
    if not staff.active:
        return Scope(everything=False, manager_ids=frozenset())
    if staff.has_role(Role.ADMIN):
        return Scope(everything=True, manager_ids=frozenset())
    if not staff.has_role(Role.MANAGER):
        return Scope(everything=False, manager_ids=frozenset())
    backed_up = await uow.staff.backed_up_by(staff.id)
    return Scope(everything=False, manager_ids=frozenset({staff.id, *(s.id for s in backed_up)}))


async def may_write_to(uow: PeopleUnit, staff: Staff, client: Client) -> bool:
    """Whether `staff` may send to `client` now, by the CRM's current record (never by what
    was true when a conversation started): an active member whose scope covers the client,
    or the duty desk, which answers for every client out of hours (every client in service:
    one erased or gone from the bank's CRM is written to by nobody)."""
    if not staff.active or client.out_of_service:
        return False
    if staff.has_role(Role.DUTY):
        return True
    return (await scope_of(uow, staff)).covers(client)


async def client_chat(uow: PeopleUnit, client_id: int) -> MessengerLink | None:
    """The account a staff member's document may be copied to: the client's linked,
    unblocked one for the bank's messages (where the notifier sends the text), while they are
    in service and their consent is active; None otherwise (as the notifier and the outbox
    would refuse)."""
    client = await uow.clients.get(client_id)
    if client is None or client.out_of_service:
        return None
    link = await uow.links.for_client(client_id)
    if link is None or link.blocked_at is not None:
        return None
    consent = await uow.consents.current(client_id)
    return link if consent is not None and consent.active else None


async def visible_clients(uow: PeopleUnit, staff: Staff) -> list[Client]:
    scope = await scope_of(uow, staff)
    if scope.everything:
        clients = await uow.clients.all()
    elif scope.manager_ids:
        clients = await uow.clients.for_managers(sorted(scope.manager_ids))
    else:
        return []
    return [c for c in clients if scope.covers(c)]


async def open_client(
    uow: PeopleUnit, *, clock: Clock, staff: Staff, client_id: int, action: str
) -> Client | None:
    """The client if `staff` may see them, else None; the attempt is audited either way."""
    client = await uow.clients.get(client_id)
    allowed = client is not None and (await scope_of(uow, staff)).covers(client)
    await uow.audit.record(
        now=clock.now(),
        action=action,
        outcome="ok" if allowed else "denied",
        actor_staff_id=staff.id,
        subject_client_id=client.id if client is not None else None,
        details=None if client is not None else {"missing_client_id": client_id},
    )
    return client if allowed else None
