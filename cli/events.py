"""`concierge events ...`: create events and import them from CSV without the messenger."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from common.clock import Clock, SystemClock
from concierge.events.audience import CriteriaError, parse_criteria
from concierge.events.drafts import EventDraft, create_event, parse_local_time, validate_draft
from concierge.events.model import EventError
from crm_adapter.dto import Event, Role
from crm_adapter.port import Crm, UnitOfWork

# Columns of an import file; the same names as the `create` options.
CSV_COLUMNS = (
    "title",
    "description",
    "timezone",
    "starts_at",
    "ends_at",
    "venue",
    "city",
    "capacity",
    "plus_ones",
    "rsvp_deadline",
    "audience",
    "reminder_delay_hours",
)
_TRUE = {"1", "yes", "true", "да", "y"}


@dataclass(frozen=True)
class EventFields:
    """An event as typed by a person: local times as text, the audience as one line."""

    title: str
    starts_at: str
    ends_at: str
    capacity: int | str
    timezone: str = "Europe/Moscow"
    description: str = ""
    venue: str = ""
    city: str = ""
    plus_ones: bool | str = False
    rsvp_deadline: str = ""
    audience: str = ""
    reminder_delay_hours: int | str = 72


async def _manager_codes(uow: UnitOfWork) -> dict[str, int]:
    return {s.external_id.upper(): s.id for s in await uow.staff.with_role(Role.MANAGER)}


def to_draft(fields: EventFields, *, manager_ids_by_code: dict[str, int]) -> EventDraft:
    """Turns typed fields into a draft; raises EventError or CriteriaError naming the problem."""
    tz = (fields.timezone or "").strip() or "Europe/Moscow"
    capacity = str(fields.capacity).strip()
    if not capacity.isdigit():
        raise EventError("events.err.bad_capacity")
    plus_ones = fields.plus_ones
    if isinstance(plus_ones, str):
        plus_ones = plus_ones.strip().lower() in _TRUE
    deadline = (fields.rsvp_deadline or "").strip()
    delay = str(fields.reminder_delay_hours).strip() or "72"
    if not delay.isdigit():
        raise EventError("events.err.bad_number")
    return EventDraft(
        title=fields.title.strip(),
        description=fields.description.strip() or None,
        timezone=tz,
        starts_at=parse_local_time(fields.starts_at, tz),
        ends_at=parse_local_time(fields.ends_at, tz),
        venue=fields.venue.strip() or None,
        city=fields.city.strip() or None,
        capacity=int(capacity),
        plus_ones_allowed=plus_ones,
        rsvp_deadline=parse_local_time(deadline, tz) if deadline else None,
        audience=parse_criteria(fields.audience, manager_ids_by_code=manager_ids_by_code),
        reminder_delay_hours=int(delay),
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, EventError):
        details = ", ".join(f"{k}={v}" for k, v in exc.details.items())
        return f"{exc.key.removeprefix('events.err.')}{f' ({details})' if details else ''}"
    return f"bad audience condition: {exc}"


async def create_from_fields(
    crm: Crm, *, clock: Clock, fields: EventFields, coordinator_code: str | None
) -> Event:
    async with crm.unit_of_work() as uow:
        coordinator = (
            await uow.staff.by_external_id(coordinator_code) if coordinator_code else None
        )
        draft = to_draft(fields, manager_ids_by_code=await _manager_codes(uow))
        event = await create_event(
            uow, clock=clock, draft=draft, coordinator_id=coordinator.id if coordinator else None
        )
        await uow.commit()
    return event


class ImportFailed(Exception):
    """Some rows were invalid; nothing was imported. Carries (line, problem) pairs."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


async def import_events(
    crm: Crm, *, clock: Clock, text: str, coordinator_code: str | None = None
) -> list[Event]:
    """Imports every row or none: a half-imported programme is harder to fix than a file."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"title", "starts_at", "ends_at", "capacity"} - set(reader.fieldnames or ())
    if missing:
        raise ImportFailed([(1, f"missing columns: {', '.join(sorted(missing))}")])
    async with crm.unit_of_work() as uow:
        managers = await _manager_codes(uow)
        coordinator = (
            await uow.staff.by_external_id(coordinator_code) if coordinator_code else None
        )
        drafts: list[EventDraft] = []
        problems: list[tuple[int, str]] = []
        for line, row in enumerate(reader, start=2):
            values = {k: (row.get(k) or "") for k in CSV_COLUMNS}
            try:
                draft = to_draft(EventFields(**values), manager_ids_by_code=managers)
                validate_draft(draft, now=clock.now())
            except (EventError, CriteriaError) as exc:
                problems.append((line, _describe(exc)))
                continue
            drafts.append(draft)
        if problems:
            raise ImportFailed(problems)
        created = [
            await create_event(
                uow, clock=clock, draft=d, coordinator_id=coordinator.id if coordinator else None
            )
            for d in drafts
        ]
        await uow.commit()
    return created


async def _crm() -> Crm:
    from common.settings import get_settings
    from crm_adapter.sql import SqlCrm

    settings = get_settings()
    return await SqlCrm.open(settings.database.url, write_back=settings.crm.writes_back)


def register(app: typer.Typer) -> None:
    """Adds the `events` command group to the main CLI."""
    events = typer.Typer(help="Closed events: create and import.", no_args_is_help=True)

    @events.command("create")
    def create(
        title: Annotated[str, typer.Option(help="Event title")],
        starts: Annotated[str, typer.Option(help="Start, local time: 2026-12-05 19:00")],
        ends: Annotated[str, typer.Option(help="End, local time: 2026-12-05 22:00")],
        capacity: Annotated[int, typer.Option(help="Seats")],
        timezone: Annotated[str, typer.Option(help="Venue time zone")] = "Europe/Moscow",
        description: Annotated[str, typer.Option()] = "",
        venue: Annotated[str, typer.Option()] = "",
        city: Annotated[str, typer.Option()] = "",
        plus_ones: Annotated[bool, typer.Option(help="Guests may bring a companion")] = False,
        deadline: Annotated[str, typer.Option(help="RSVP deadline, local time")] = "",
        audience: Annotated[
            str, typer.Option(help="e.g. 'segments=stable_keeper; min=10000000; city=Москва'")
        ] = "",
        coordinator: Annotated[str | None, typer.Option(help="Coordinator's staff code")] = None,
        reminder_delay_hours: Annotated[
            int, typer.Option(help="Hours after sending before one reminder to non-answerers")
        ] = 72,
    ) -> None:
        """Creates a draft event; invitations are sent from the bot (/event ID)."""
        fields = EventFields(
            title=title,
            starts_at=starts,
            ends_at=ends,
            capacity=capacity,
            timezone=timezone,
            description=description,
            venue=venue,
            city=city,
            plus_ones=plus_ones,
            rsvp_deadline=deadline,
            audience=audience,
            reminder_delay_hours=reminder_delay_hours,
        )

        async def run() -> Event:
            crm = await _crm()
            try:
                return await create_from_fields(
                    crm, clock=SystemClock(), fields=fields, coordinator_code=coordinator
                )
            finally:
                await crm.close()

        try:
            event = asyncio.run(run())
        except (EventError, CriteriaError) as exc:
            typer.echo(f"not created: {_describe(exc)}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"event #{event.id} created (draft): {event.title}")

    @events.command("import")
    def import_file(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        coordinator: Annotated[str | None, typer.Option(help="Coordinator's staff code")] = None,
    ) -> None:
        """Imports events from CSV with columns: title, description, timezone, starts_at,
        ends_at, venue, city, capacity, plus_ones, rsvp_deadline, audience and optionally
        reminder_delay_hours."""
        text = file.read_text(encoding="utf-8")

        async def run() -> list[Event]:
            crm = await _crm()
            try:
                return await import_events(
                    crm, clock=SystemClock(), text=text, coordinator_code=coordinator
                )
            finally:
                await crm.close()

        try:
            created = asyncio.run(run())
        except ImportFailed as exc:
            for line, problem in exc.problems:
                typer.echo(f"line {line}: {problem}", err=True)
            typer.echo("nothing imported", err=True)
            raise typer.Exit(1) from exc
        for event in created:
            typer.echo(f"event #{event.id} created (draft): {event.title}")

    app.add_typer(events, name="events")
