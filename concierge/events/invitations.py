"""Who is invited (the coordinator's preview, each manager's choice), and sending invitations."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from common.clock import Clock
from common.i18n import Catalog
from concierge.events.audience import (
    Audience,
    AudienceCriteria,
    ClientFacts,
    ExclusionReason,
    select_audience,
)
from concierge.events.delivery import send_to_client
from concierge.events.messages import (
    client_translator,
    default_catalog,
    invitation_text,
    rsvp_actions,
)
from concierge.events.model import EventError, EventStatus, InvitationStatus, require_event
from concierge.notify import MessageClass, Notifier, Outgoing
from crm_adapter.dto import Client, Event
from crm_adapter.port import UnitOfWork


async def _facts(uow: UnitOfWork, clients: list[Client]) -> list[ClientFacts]:
    values = await uow.events.client_values()
    interests = await uow.events.interest_texts()
    consented = await uow.events.clients_with_consent()
    return [
        ClientFacts(
            client=c,
            value_rub=values.get(c.id, Decimal(0)),
            interest_texts=tuple(interests.get(c.id, ())),
            consent=c.id in consented,
        )
        for c in clients
    ]


async def preview_audience(uow: UnitOfWork, *, event_id: int) -> Audience:
    """Who would be invited now, and who is excluded and why."""
    event = await require_event(uow, event_id)
    facts = await _facts(uow, await uow.clients.all())
    overrides = await uow.events.overrides(event_id)
    return select_audience(AudienceCriteria.from_json(event.audience), facts, overrides)


@dataclass(frozen=True)
class ManagerAudience:
    """A manager's own clients as they stand for one event."""

    event: Event
    included: list[Client]
    excluded: list[tuple[Client, ExclusionReason]]
    # Not in the audience (did not match, or removed): can be added.
    available: list[Client]
    invited_ids: frozenset[int]


async def manager_audience(uow: UnitOfWork, *, event_id: int, staff_id: int) -> ManagerAudience:
    event = await require_event(uow, event_id)
    own = await uow.clients.for_managers([staff_id])
    audience = select_audience(
        AudienceCriteria.from_json(event.audience),
        await _facts(uow, own),
        await uow.events.overrides(event_id),
    )
    included = [m.client for m in audience.included]
    taken = {c.id for c in included} | {c.id for c, _ in audience.excluded}
    invited = {i.client_id for i in await uow.events.invitations(event_id)}
    return ManagerAudience(
        event=event,
        included=included,
        excluded=audience.excluded,
        available=[c for c in own if c.id not in taken],
        invited_ids=frozenset(invited),
    )


async def set_audience_choice(
    uow: UnitOfWork, *, clock: Clock, event_id: int, staff_id: int, client_id: int, include: bool
) -> bool:
    """A manager adds or removes one of their own clients; False (audited) for anyone else's."""
    event = await require_event(uow, event_id)
    client = await uow.clients.get(client_id)
    allowed = client is not None and client.manager_id == staff_id
    await uow.audit.record(
        now=clock.now(),
        action="event_audience_add" if include else "event_audience_remove",
        outcome="ok" if allowed else "denied",
        actor_staff_id=staff_id,
        subject_client_id=client_id if client else None,
        details={"event": event.id},
    )
    if not allowed:
        return False
    await uow.events.set_override(
        event_id=event_id, client_id=client_id, include=include, staff_id=staff_id, now=clock.now()
    )
    return True


# --- invitations ------------------------------------------------------------------------


@dataclass(frozen=True)
class SendReport:
    queued: int
    already_invited: int
    excluded: int


# Unlike the other use cases, send_invitations and send_event_reminders take their ports
# positionally as well: the scheduler's job runner calls them as (uow, notifier, clock, ...).
async def send_invitations(
    uow: UnitOfWork,
    notifier: Notifier,
    clock: Clock,
    event_id: int,
    *,
    staff_id: int | None = None,
    catalog: Catalog | None = None,
) -> SendReport:
    """Creates an invitation per audience member not yet invited and hands each to the notifier.

    Sending again later (after managers added clients) invites only the newcomers: the
    invitation row is the record that someone was invited, and its unique key the dedupe.
    """
    catalog = catalog or default_catalog()
    # Locked: two coordinators pressing Send together must not invite anyone twice.
    event = await require_event(uow, event_id, for_update=True)
    if event.status not in {EventStatus.DRAFT, EventStatus.OPEN}:
        raise EventError("events.err.not_open", id=event_id)
    now = clock.now()
    if now >= event.answers_close_at:
        raise EventError("events.err.deadline_passed", id=event_id)
    audience = await preview_audience(uow, event_id=event_id)
    existing = {i.client_id for i in await uow.events.invitations(event_id)}
    queued = 0
    for member in audience.included:
        client = member.client
        if client.id in existing:
            continue
        invitation = await uow.events.add_invitation(
            event_id=event_id, client_id=client.id, status=InvitationStatus.SENT, sent_at=now
        )
        t = await client_translator(uow, catalog, client)
        manager = await uow.staff.get(client.manager_id) if client.manager_id else None
        await send_to_client(
            uow,
            notifier,
            client.id,
            Outgoing(
                text=invitation_text(t, event, client, manager),
                actions=rsvp_actions(t, event, invitation.id),
                message_class=MessageClass.MARKETING,
                occasion_key=f"invite:{event_id}:{client.id}",
                kind="event_invitation",
                payload={"event_id": event_id, "invitation_id": invitation.id},
            ),
        )
        queued += 1
    if event.status == EventStatus.DRAFT:
        await uow.events.update(event_id, status=EventStatus.OPEN, sent_at=now)
    await uow.audit.record(
        now=now,
        action="event_invitations_sent",
        actor_staff_id=staff_id,
        details={"event": event_id, "queued": queued, "excluded": len(audience.excluded)},
    )
    return SendReport(queued, len(existing), len(audience.excluded))
