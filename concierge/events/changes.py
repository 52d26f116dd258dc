"""Moving, resizing and cancelling an event; guests holding or awaiting a seat are told."""

from __future__ import annotations

from datetime import datetime

from common.clock import Clock
from common.i18n import Catalog
from concierge.events.calendar_file import event_ics, ics_filename
from concierge.events.delivery import send_to_client
from concierge.events.messages import client_translator, default_catalog, guest_text
from concierge.events.model import (
    ATTENDING,
    EventError,
    EventStatus,
    InvitationStatus,
    require_event,
    seats_taken,
)
from concierge.events.rsvp import promote_waitlist
from concierge.notify import MessageClass, Notifier, Outgoing
from crm_adapter.dto import Event, Invitation
from crm_adapter.port import UnitOfWork


async def _changeable_event(uow: UnitOfWork, event_id: int) -> Event:
    """The event, locked against a concurrent change; one that is over or cancelled stays so."""
    event = await require_event(uow, event_id, for_update=True)
    if event.status in {EventStatus.CANCELLED, EventStatus.DONE}:
        raise EventError("events.err.not_open", id=event_id)
    return event


async def _notify_guests(
    uow: UnitOfWork,
    notifier: Notifier,
    catalog: Catalog,
    event: Event,
    *,
    key: str,
    statuses: tuple[str, ...],
    cancelled: bool = False,
) -> int:
    informed = 0
    for invitation in await uow.events.invitations(event.id):
        if invitation.status not in statuses:
            continue
        client = await uow.clients.get(invitation.client_id)
        if client is None:
            continue
        t = await client_translator(uow, catalog, client)
        informed += await send_to_client(
            uow,
            notifier,
            client.id,
            Outgoing(
                text=guest_text(t, key, event, client),
                message_class=MessageClass.SERVICE,
                occasion_key=f"{key}:{event.id}:{event.sequence}:{client.id}",
                kind="event_change",
                document=(ics_filename(event), event_ics(event, cancelled=cancelled)),
            ),
        )
    return informed


async def cancel_event(
    uow: UnitOfWork,
    *,
    notifier: Notifier,
    clock: Clock,
    event_id: int,
    staff_id: int | None,
    catalog: Catalog | None = None,
) -> int:
    """Cancels the event and tells everyone holding or waiting for a seat; returns how many."""
    catalog = catalog or default_catalog()
    await _changeable_event(uow, event_id)
    now = clock.now()
    event = await uow.events.update(event_id, status=EventStatus.CANCELLED, cancelled_at=now)
    informed = await _notify_guests(
        uow,
        notifier,
        catalog,
        event,
        key="events.cancelled_notice",
        statuses=(InvitationStatus.ACCEPTED, InvitationStatus.WAITLISTED),
        cancelled=True,
    )
    await uow.audit.record(
        now=now,
        action="event_cancelled",
        actor_staff_id=staff_id,
        details={"event": event_id, "informed": informed},
    )
    return informed


async def change_event(
    uow: UnitOfWork,
    *,
    notifier: Notifier,
    clock: Clock,
    event_id: int,
    staff_id: int | None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    venue: str | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Moves the event or its venue; attending guests get the news and a new calendar file."""
    catalog = catalog or default_catalog()
    event = await _changeable_event(uow, event_id)
    changes: dict[str, object] = {}
    if starts_at is not None:
        # Keep the duration when only the start moves.
        changes["starts_at"] = starts_at
        changes["ends_at"] = ends_at or starts_at + (event.ends_at - event.starts_at)
    elif ends_at is not None:
        changes["ends_at"] = ends_at
    if venue is not None:
        changes["venue"] = venue
    new_start = changes.get("starts_at", event.starts_at)
    new_end = changes.get("ends_at", event.ends_at)
    assert isinstance(new_start, datetime) and isinstance(new_end, datetime)
    if new_end <= new_start:
        raise EventError("events.err.end_before_start")
    if new_start <= clock.now():
        raise EventError("events.err.in_past")
    if event.rsvp_deadline and event.rsvp_deadline > new_start:
        # An earlier start pulls the deadline with it; answers after the start make no sense.
        changes["rsvp_deadline"] = new_start
    if "starts_at" in changes:
        # "Tomorrow" and "in two hours" were about the old time; they are due again.
        for invitation in await uow.events.invitations(event_id):
            if invitation.day_before_sent_at or invitation.two_hours_sent_at:
                await uow.events.update_invitation(
                    invitation.id, day_before_sent_at=None, two_hours_sent_at=None
                )
    event = await uow.events.update(event_id, sequence=event.sequence + 1, **changes)
    informed = 0
    if event.status == EventStatus.OPEN:
        informed = await _notify_guests(
            uow, notifier, catalog, event, key="events.changed_notice", statuses=ATTENDING
        )
    await uow.audit.record(
        now=clock.now(),
        action="event_changed",
        actor_staff_id=staff_id,
        details={"event": event_id, "fields": sorted(changes), "informed": informed},
    )
    return informed


async def change_capacity(
    uow: UnitOfWork,
    *,
    notifier: Notifier,
    clock: Clock,
    event_id: int,
    staff_id: int | None,
    capacity: int,
    catalog: Catalog | None = None,
) -> list[Invitation]:
    """Sets a new capacity; a larger one promotes waiting guests (returned).

    A capacity below the seats already confirmed is refused rather than moving confirmed
    guests to the waitlist: un-inviting a VIP who was promised a seat is a relationship
    decision for their manager, not a side effect of editing a number.
    """
    event = await require_event(uow, event_id, for_update=True)
    if capacity < 1:
        raise EventError("events.err.bad_capacity")
    taken = seats_taken(await uow.events.invitations(event_id))
    if capacity < taken:
        await uow.audit.record(
            now=clock.now(),
            action="event_capacity_changed",
            outcome="denied",
            actor_staff_id=staff_id,
            details={"event": event_id, "capacity": capacity, "taken": taken},
        )
        raise EventError("events.err.capacity_below_taken", taken=taken, capacity=capacity)
    await uow.events.update(event_id, capacity=capacity)
    await uow.audit.record(
        now=clock.now(),
        action="event_capacity_changed",
        actor_staff_id=staff_id,
        details={"event": event_id, "from": event.capacity, "to": capacity},
    )
    return await promote_waitlist(
        uow, notifier=notifier, clock=clock, event_id=event_id, catalog=catalog
    )
