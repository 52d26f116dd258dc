"""What an event and an invitation can be, the refusal every event use case raises, seats."""

from __future__ import annotations

from enum import StrEnum

from crm_adapter.dto import Event, Invitation
from crm_adapter.port import UnitOfWork


class EventStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CANCELLED = "cancelled"
    DONE = "done"


class InvitationStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    MAYBE = "maybe"
    WAITLISTED = "waitlisted"
    CHECKED_IN = "checked_in"


# Statuses that hold seats at the venue.
ATTENDING = (InvitationStatus.ACCEPTED, InvitationStatus.CHECKED_IN)
# Order of the tracking view and the chart.
SUMMARY_ORDER = ("invited", "accepted", "declined", "maybe", "sent", "waitlisted", "checked_in")


class EventError(ValueError):
    """A refused change; `key` names the text shown to the coordinator."""

    def __init__(self, key: str, **details: object) -> None:
        super().__init__(key)
        self.key = key
        self.details = details


async def require_event(uow: UnitOfWork, event_id: int, *, for_update: bool = False) -> Event:
    event = await uow.events.get(event_id, for_update=for_update)
    if event is None:
        raise EventError("events.err.not_found", id=event_id)
    return event


def seats_taken(invitations: list[Invitation], *, excluding: int | None = None) -> int:
    return sum(i.seats for i in invitations if i.status in ATTENDING and i.id != excluding)
