"""Rendering of the events feature's messages to clients and staff, each in their language."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from common.i18n import DATE_TIME_FORMAT, Catalog, Translator
from concierge.actions import Action, Actions, arrange
from concierge.events.checkin import LOCKOUT_WINDOW, CheckInResult, door_opens_at
from crm_adapter.dto import Client, Event, Invitation, Staff
from crm_adapter.port import PeopleUnit

RATING_SCORES = (1, 2, 3, 4, 5)


def default_catalog() -> Catalog:
    """The texts, loaded once per process for use cases called outside the bot (scheduler)."""
    return Catalog.shared()


async def client_translator(uow: PeopleUnit, catalog: Catalog, client: Client) -> Translator:
    # The language chosen in the messenger wins over the CRM's default for the client.
    link = await uow.links.for_client(client.id)
    return catalog.translator((link.language if link else None) or client.language)


async def staff_translator(uow: PeopleUnit, catalog: Catalog, staff: Staff) -> Translator:
    link = await uow.links.for_staff(staff.id)
    return catalog.translator((link.language if link else None) or staff.language)


def when(t: Translator, event: Event) -> str:
    """Date and time at the venue, with the zone named: guests travel, the venue does not."""
    zone = ZoneInfo(event.timezone)
    start = event.starts_at.astimezone(zone)
    end = event.ends_at.astimezone(zone)
    return t(
        "events.when",
        date=start.strftime("%d.%m.%Y"),
        start=start.strftime("%H:%M"),
        end=end.strftime("%H:%M"),
        tz=event.timezone,
    )


def where(event: Event) -> str:
    return ", ".join(p for p in (event.venue, event.city) if p) or "—"


def deadline(t: Translator, event: Event) -> str:
    zone = ZoneInfo(event.timezone)
    return event.answers_close_at.astimezone(zone).strftime(DATE_TIME_FORMAT)


def rsvp_actions(t: Translator, event: Event, invitation_id: int) -> Actions:
    """The answers a guest may give; "+1" only where the event allows a companion."""
    answers = ["accept", "accept1", "maybe", "decline"]
    if not event.plus_ones_allowed:
        answers.remove("accept1")
    labels = {"accept1": "accept_plus_one"}
    return arrange(
        (
            Action.of(
                t(f"events.btn.{labels.get(answer, answer)}"),
                "rsvp",
                invitation_id=invitation_id,
                answer=answer,
            )
            for answer in answers
        ),
        2,
    )


def rating_actions(invitation_id: int) -> Actions:
    return arrange(
        (
            Action.of("★" * score, "event_rating", invitation_id=invitation_id, score=score)
            for score in RATING_SCORES
        ),
        5,
    )


def guest_text(t: Translator, key: str, event: Event, client: Client, **more: object) -> str:
    """A message to a guest about an event: addressed by name, with its title, time and place."""
    return t(
        key,
        name=client.polite_name,
        title=event.title,
        when=when(t, event),
        where=where(event),
        **more,
    )


def invitation_text(t: Translator, event: Event, client: Client, manager: Staff | None) -> str:
    return guest_text(
        t,
        "events.invitation",
        event,
        client,
        description=event.description or "",
        deadline=deadline(t, event),
        manager=manager.full_name if manager else t("events.no_manager"),
    )


def status_label(t: Translator, invitation: Invitation) -> str:
    label = t(f"events.status.{invitation.status}")
    return (
        f"{label} +1"
        if invitation.plus_one and invitation.status in {"accepted", "waitlisted", "checked_in"}
        else label
    )


def checkin_text(t: Translator, result: CheckInResult) -> str:
    """What the door answers to a code, the same in the bot and on the desk (times at the
    venue: the coordinator stands there)."""
    inv, event = result.invitation, result.event
    checked_at = opens = ""
    if event is not None:
        zone = ZoneInfo(event.timezone)
        opens = door_opens_at(event).astimezone(zone).strftime(DATE_TIME_FORMAT)
        if inv is not None and inv.checked_in_at is not None:
            checked_at = inv.checked_in_at.astimezone(zone).strftime("%H:%M")
    return t(
        f"events.checkin.{result.outcome.value}",
        name=result.client.full_name if result.client else "",
        plus=" +1" if inv and inv.plus_one else "",
        title=event.title if event else "",
        time=checked_at,
        status=status_label(t, inv) if inv else "",
        minutes=int(LOCKOUT_WINDOW.total_seconds() // 60),
        opens=opens,
    )
