"""What coordinators track: counts per event, the overview, guest lists and their CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from common.i18n import DATE_TIME_FORMAT, Translator
from concierge.events.model import SUMMARY_ORDER, require_event, seats_taken
from crm_adapter.dto import Client, Event, Invitation
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class EventSummary:
    event: Event
    counts: dict[str, int]
    seats_taken: int


async def event_summary(uow: UnitOfWork, *, event_id: int) -> EventSummary:
    event = await require_event(uow, event_id)
    invitations = await uow.events.invitations(event_id)
    counts = dict.fromkeys(SUMMARY_ORDER, 0)
    counts["invited"] = len(invitations)
    for invitation in invitations:
        counts[invitation.status] = counts.get(invitation.status, 0) + 1
    return EventSummary(event, counts, seats_taken(invitations))


async def events_overview(uow: UnitOfWork) -> list[EventSummary]:
    """Every event with its counts, soonest first."""
    return [
        await event_summary(uow, event_id=event.id) for event in await uow.events.list_events()
    ]


async def staff_names(uow: UnitOfWork, staff_ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for staff_id in staff_ids:
        staff = await uow.staff.get(staff_id)
        if staff is not None:
            names[staff_id] = staff.full_name
    return names


@dataclass(frozen=True)
class Guest:
    client: Client
    invitation: Invitation
    manager_name: str


async def guests(uow: UnitOfWork, *, event_id: int, status: str | None = None) -> list[Guest]:
    """Invited clients (optionally of one status) with their manager, sorted by name."""
    pairs: list[tuple[Client, Invitation]] = []
    for invitation in await uow.events.invitations(event_id):
        if status and invitation.status != status:
            continue
        client = await uow.clients.get(invitation.client_id)
        if client is not None:
            pairs.append((client, invitation))
    names = await staff_names(uow, {c.manager_id for c, _ in pairs if c.manager_id is not None})
    found = [Guest(c, i, names.get(c.manager_id or 0, "")) for c, i in pairs]
    return sorted(found, key=lambda g: g.client.full_name)


CSV_COLUMNS = ("name", "status", "plus_one", "answered_at", "checked_in_at", "manager")


@dataclass(frozen=True)
class CsvDialect:
    separator: str
    time_format: str


# Excel opens a CSV by the list separator of the reader's regional settings: ';' where the
# decimal separator is a comma (Russian), ',' in English; and it reads a time as a date only
# in the locale's own order. Both files start with a UTF-8 BOM, without which Excel takes
# them for the ANSI code page and garbles Cyrillic names.
CSV_DIALECTS = {
    "ru": CsvDialect(separator=";", time_format=DATE_TIME_FORMAT),
    "en": CsvDialect(separator=",", time_format="%Y-%m-%d %H:%M"),
}


async def export_guests_csv(uow: UnitOfWork, *, event_id: int, t: Translator) -> bytes:
    """The guest list as CSV in the reader's language: headers, statuses, separator and
    times as a spreadsheet in that language expects them."""
    event = await require_event(uow, event_id)
    tz = ZoneInfo(event.timezone)
    dialect = CSV_DIALECTS.get(t.language, CSV_DIALECTS["en"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.separator)
    writer.writerow([t(f"events.csv.{column}") for column in CSV_COLUMNS])
    yes, no = t("events.csv.yes"), t("events.csv.no")
    for guest in await guests(uow, event_id=event_id):
        inv = guest.invitation
        writer.writerow(
            (
                guest.client.full_name,
                t(f"events.status.{inv.status}"),
                yes if inv.plus_one else no,
                _local(inv.answered_at, tz, dialect),
                _local(inv.checked_in_at, tz, dialect),
                guest.manager_name,
            )
        )
    return buffer.getvalue().encode("utf-8-sig")


def _local(moment: datetime | None, tz: ZoneInfo, dialect: CsvDialect) -> str:
    return moment.astimezone(tz).strftime(dialect.time_format) if moment else ""
