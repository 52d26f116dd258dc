"""Calendar files (.ics) for event guests, in the event's own time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as IcsEvent

from crm_adapter.dto import Event

PRODID = "-//vip-concierge//events//RU"


def event_ics(event: Event, *, cancelled: bool = False) -> bytes:
    """One VEVENT with a stable UID, so a changed or cancelled event replaces the first one."""
    zone = ZoneInfo(event.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    item = IcsEvent()
    item.add("uid", f"event-{event.id}@vip-concierge")
    # Calendars apply an update only when its sequence is higher than the one they hold.
    item.add("sequence", event.sequence + (1 if cancelled else 0))
    item.add("dtstamp", event.created_at)
    item.add("dtstart", event.starts_at.astimezone(zone))
    item.add("dtend", event.ends_at.astimezone(zone))
    item.add("summary", event.title)
    if event.description:
        item.add("description", event.description)
    location = ", ".join(p for p in (event.venue, event.city) if p)
    if location:
        item.add("location", location)
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(item)
    # Embeds the VTIMEZONE definition so calendars without the zone database show local time.
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def ics_filename(event: Event) -> str:
    return f"event-{event.id}.ics"
