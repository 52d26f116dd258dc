"""A coordinator's new event: the draft, its times at the venue, the checks, the stored draft."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.clock import Clock
from concierge.events.audience import AudienceCriteria
from concierge.events.model import EventError, EventStatus
from crm_adapter.dto import Event
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class EventDraft:
    """What a coordinator fills in; times are aware (converted from the event's zone)."""

    title: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    timezone: str = "Europe/Moscow"
    description: str | None = None
    venue: str | None = None
    city: str | None = None
    plus_ones_allowed: bool = False
    rsvp_deadline: datetime | None = None
    audience: AudienceCriteria = field(default_factory=AudienceCriteria)
    reminder_delay_hours: int = 72


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise EventError("events.err.bad_timezone", value=name) from exc


def parse_local_time(text: str, timezone: str) -> datetime:
    """`2026-12-05 19:00` (or `05.12.2026 19:00`) at the venue, as an aware datetime."""
    cleaned = " ".join(text.split())
    for pattern in ("%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"):
        try:
            naive = datetime.strptime(cleaned, pattern)  # noqa: DTZ007 - zone attached below
        except ValueError:
            continue
        return naive.replace(tzinfo=zone(timezone))
    raise EventError("events.err.bad_time", value=text)


def validate_draft(draft: EventDraft, *, now: datetime) -> None:
    """Raises EventError for a draft no guest could sensibly answer."""
    zone(draft.timezone)
    if not draft.title.strip():
        raise EventError("events.err.no_title")
    if draft.ends_at <= draft.starts_at:
        raise EventError("events.err.end_before_start")
    if draft.starts_at <= now:
        raise EventError("events.err.in_past")
    if draft.capacity < 1:
        raise EventError("events.err.bad_capacity")
    if draft.rsvp_deadline is not None and not now < draft.rsvp_deadline <= draft.starts_at:
        raise EventError("events.err.bad_deadline")


async def create_event(
    uow: UnitOfWork, *, clock: Clock, draft: EventDraft, coordinator_id: int | None
) -> Event:
    """Stores a draft event; nothing is sent until the coordinator presses Send."""
    now = clock.now()
    validate_draft(draft, now=now)
    event = await uow.events.add(
        title=draft.title.strip(),
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        timezone=draft.timezone,
        venue=draft.venue,
        city=draft.city,
        capacity=draft.capacity,
        plus_ones_allowed=draft.plus_ones_allowed,
        rsvp_deadline=draft.rsvp_deadline,
        audience=draft.audience.to_json(),
        status=EventStatus.DRAFT,
        coordinator_id=coordinator_id,
        created_at=now,
        reminder_delay_hours=draft.reminder_delay_hours,
    )
    await uow.audit.record(
        now=now, action="event_created", actor_staff_id=coordinator_id, details={"event": event.id}
    )
    return event
