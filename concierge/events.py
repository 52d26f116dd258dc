"""Closed events: creation, audience, invitations, RSVPs with a waitlist, reminders, check-in.

Every function here is called by the coordinator's and the client's handlers, by the
scheduler and by the CLI; none commits (the caller owns the transaction) and every message to
someone outside the current conversation goes through the `Notifier` port.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.actions import Actions
from concierge.event_audience import (
    Audience,
    AudienceCriteria,
    ClientFacts,
    ExclusionReason,
    select_audience,
)
from concierge.event_calendar import event_ics, ics_filename
from concierge.event_messages import (
    client_translator,
    default_catalog,
    invitation_text,
    rating_actions,
    rsvp_actions,
    staff_translator,
    when,
    where,
)
from concierge.notify import MessageClass, Notifier, Outgoing
from crm_adapter.dto import Client, Event, Invitation
from crm_adapter.port import UnitOfWork

log = logging.getLogger(__name__)


@runtime_checkable
class EnqueuesInTransaction(Protocol):
    """A notifier that can queue inside the caller's unit of work (the scheduler's outbox).

    Not part of the `Notifier` port, so it is detected rather than required: the direct
    notifier of the tests and the console has no such method and is used as before.
    """

    async def enqueue_for_client(self, uow: Any, client_id: int, message: Outgoing) -> Any: ...
    async def enqueue_for_staff(self, uow: Any, staff_id: int, message: Outgoing) -> Any: ...


async def _to_client(
    uow: UnitOfWork, notifier: Notifier, client_id: int, message: Outgoing
) -> bool:
    # Queuing in our own transaction makes "invitation recorded" and "invitation queued" one
    # fact, and on SQLite it avoids a second writer waiting for the lock this one holds.
    if isinstance(notifier, EnqueuesInTransaction):
        return bool(
            getattr(await notifier.enqueue_for_client(uow, client_id, message), "queued", True)
        )
    return await notifier.to_client(client_id, message)


async def _to_staff(uow: UnitOfWork, notifier: Notifier, staff_id: int, message: Outgoing) -> bool:
    if isinstance(notifier, EnqueuesInTransaction):
        return bool(
            getattr(await notifier.enqueue_for_staff(uow, staff_id, message), "queued", True)
        )
    return await notifier.to_staff(staff_id, message)


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


class Rsvp(StrEnum):
    ACCEPT = "accept"
    ACCEPT_PLUS_ONE = "accept1"
    DECLINE = "decline"
    MAYBE = "maybe"


class EventError(ValueError):
    """A refused change; `key` names the text shown to the coordinator."""

    def __init__(self, key: str, **details: object) -> None:
        super().__init__(key)
        self.key = key
        self.details = details


# --- creation ---------------------------------------------------------------------------


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


async def require_event(uow: UnitOfWork, event_id: int, *, for_update: bool = False) -> Event:
    event = await uow.events.get(event_id, for_update=for_update)
    if event is None:
        raise EventError("events.err.not_found", id=event_id)
    return event


# --- audience ---------------------------------------------------------------------------


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
        await _to_client(
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


# --- check-in codes -----------------------------------------------------------------------

# No 0/O, 1/I/L: the code is read aloud at the door.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_checkin_code(code: str) -> str:
    # Stored hashed so that staff reading the CRM cannot check someone else in.
    return hashlib.sha256(f"checkin:{normalise_code(code)}".encode()).hexdigest()


async def _issue_code(uow: UnitOfWork) -> tuple[str, str]:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = hash_checkin_code(code)
        # Codes are looked up without the event, so they must be unique across events.
        if await uow.events.by_checkin_hash(digest) is None:
            return code, digest


# --- RSVP --------------------------------------------------------------------------------


class RsvpOutcome(StrEnum):
    ACCEPTED = "accepted"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    MAYBE = "maybe"
    ALREADY = "already"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    NOT_YOURS = "not_yours"
    NOT_FOUND = "not_found"
    NO_PLUS_ONE = "no_plus_one"
    NO_ROOM_FOR_GUEST = "no_room_for_guest"


@dataclass(frozen=True)
class RsvpResult:
    outcome: RsvpOutcome
    event: Event | None = None
    invitation: Invitation | None = None
    # The check-in code in clear, only right after it was issued (it is stored hashed).
    code: str | None = None
    promoted: list[Invitation] = field(default_factory=list)


def seats_taken(invitations: list[Invitation], *, excluding: int | None = None) -> int:
    return sum(i.seats for i in invitations if i.status in ATTENDING and i.id != excluding)


async def answer_invitation(
    uow: UnitOfWork,
    *,
    notifier: Notifier,
    clock: Clock,
    client_id: int,
    invitation_id: int,
    answer: Rsvp,
    catalog: Catalog | None = None,
) -> RsvpResult:
    """Records a client's answer, honouring capacity, the waitlist and the deadline."""
    catalog = catalog or default_catalog()
    now = clock.now()
    invitation = await uow.events.invitation(invitation_id)
    if invitation is None or invitation.client_id != client_id:
        outcome = RsvpOutcome.NOT_FOUND if invitation is None else RsvpOutcome.NOT_YOURS
        await uow.audit.record(
            now=now,
            action="event_rsvp",
            outcome="denied",
            actor_client_id=client_id,
            subject_client_id=invitation.client_id if invitation else None,
            details={"invitation": invitation_id, "reason": outcome.value},
        )
        return RsvpResult(outcome)
    event = await require_event(uow, invitation.event_id, for_update=True)
    # Read again under the lock: a double tap delivered as two concurrent updates must see
    # the first one's answer, not the state from before it.
    invitation = await uow.events.invitation(invitation_id)
    assert invitation is not None
    refusal = _refusal(event, invitation, answer, now)
    if refusal is not None:
        await uow.audit.record(
            now=now,
            action="event_rsvp",
            outcome="ok" if refusal is RsvpOutcome.ALREADY else "denied",
            actor_client_id=client_id,
            subject_client_id=client_id,
            details={"invitation": invitation_id, "reason": refusal.value},
        )
        return RsvpResult(refusal, event, invitation)

    everyone = await uow.events.invitations(event.id)
    was_attending = invitation.status in ATTENDING
    code: str | None = None
    if answer in {Rsvp.ACCEPT, Rsvp.ACCEPT_PLUS_ONE}:
        plus_one = answer is Rsvp.ACCEPT_PLUS_ONE
        wanted = 2 if plus_one else 1
        fits = seats_taken(everyone, excluding=invitation.id) + wanted <= event.capacity
        queue = any(
            i.status == InvitationStatus.WAITLISTED and i.id != invitation.id for i in everyone
        )
        if was_attending and not fits:
            # Already coming, asking to bring a guest there is no room for: keep their seat.
            await uow.audit.record(
                now=now,
                action="event_rsvp",
                outcome="denied",
                actor_client_id=client_id,
                subject_client_id=client_id,
                details={"invitation": invitation.id, "reason": "no_room_for_guest"},
            )
            return RsvpResult(RsvpOutcome.NO_ROOM_FOR_GUEST, event, invitation)
        if was_attending or (fits and not queue):
            changes: dict[str, object] = {
                "status": InvitationStatus.ACCEPTED,
                "plus_one": plus_one,
            }
            if not was_attending:
                code, changes["checkin_code_hash"] = await _issue_code(uow)
            outcome = RsvpOutcome.ACCEPTED
        else:
            # Strict first-come order: a newcomer never overtakes someone already waiting.
            changes = {"status": InvitationStatus.WAITLISTED, "plus_one": plus_one}
            if invitation.status != InvitationStatus.WAITLISTED:
                changes["waitlisted_at"] = now
            outcome = RsvpOutcome.WAITLISTED
    else:
        target = InvitationStatus.DECLINED if answer is Rsvp.DECLINE else InvitationStatus.MAYBE
        changes = {"status": target, "plus_one": False, "checkin_code_hash": None}
        outcome = RsvpOutcome.DECLINED if answer is Rsvp.DECLINE else RsvpOutcome.MAYBE
    invitation = await uow.events.update_invitation(invitation.id, answered_at=now, **changes)
    await uow.audit.record(
        now=now,
        action="event_rsvp",
        actor_client_id=client_id,
        subject_client_id=client_id,
        details={"invitation": invitation.id, "answer": answer.value, "result": outcome.value},
    )
    promoted = await promote_waitlist(
        uow, notifier=notifier, clock=clock, event_id=event.id, catalog=catalog
    )
    await _tell_manager(uow, notifier, catalog, event, client_id, outcome, invitation.plus_one)
    return RsvpResult(outcome, event, invitation, code, promoted)


def _refusal(
    event: Event, invitation: Invitation, answer: Rsvp, now: datetime
) -> RsvpOutcome | None:
    if event.status == EventStatus.CANCELLED:
        return RsvpOutcome.CANCELLED
    if event.status != EventStatus.OPEN or now >= event.answers_close_at:
        return RsvpOutcome.CLOSED
    if invitation.status == InvitationStatus.CHECKED_IN:
        return RsvpOutcome.ALREADY
    if answer is Rsvp.ACCEPT_PLUS_ONE and not event.plus_ones_allowed:
        return RsvpOutcome.NO_PLUS_ONE
    same = {
        Rsvp.ACCEPT: invitation.status in {"accepted", "waitlisted"} and not invitation.plus_one,
        Rsvp.ACCEPT_PLUS_ONE: invitation.status in {"accepted", "waitlisted"}
        and invitation.plus_one,
        Rsvp.DECLINE: invitation.status == InvitationStatus.DECLINED,
        Rsvp.MAYBE: invitation.status == InvitationStatus.MAYBE,
    }[answer]
    return RsvpOutcome.ALREADY if same else None


async def promote_waitlist(
    uow: UnitOfWork,
    *,
    notifier: Notifier,
    clock: Clock,
    event_id: int,
    catalog: Catalog | None = None,
) -> list[Invitation]:
    """Moves waiting guests into free seats in the order they asked, and tells each one.

    Strict order: when the first in line needs two seats and one is free, nobody behind
    them jumps ahead; fairness matters more than filling the last chair.
    """
    catalog = catalog or default_catalog()
    event = await require_event(uow, event_id)
    everyone = await uow.events.invitations(event_id)
    free = event.capacity - seats_taken(everyone)
    waiting = sorted(
        (i for i in everyone if i.status == InvitationStatus.WAITLISTED),
        key=lambda i: (i.waitlisted_at or i.answered_at or clock.now(), i.id),
    )
    promoted: list[Invitation] = []
    for candidate in waiting:
        if candidate.seats > free:
            break
        code, digest = await _issue_code(uow)
        guest = await uow.events.update_invitation(
            candidate.id, status=InvitationStatus.ACCEPTED, checkin_code_hash=digest
        )
        free -= guest.seats
        promoted.append(guest)
        await uow.audit.record(
            now=clock.now(),
            action="event_waitlist_promoted",
            subject_client_id=guest.client_id,
            details={"event": event_id, "invitation": guest.id},
        )
        client = await uow.clients.get(guest.client_id)
        if client is None:
            continue
        t = await client_translator(uow, catalog, client)
        await _to_client(
            uow,
            notifier,
            client.id,
            Outgoing(
                text=t(
                    "events.promoted",
                    name=client.polite_name,
                    title=event.title,
                    code=code,
                    when=when(t, event),
                    where=where(event),
                ),
                message_class=MessageClass.SERVICE,
                occasion_key=f"event-promoted:{event_id}:{client.id}:{guest.id}:{digest[:8]}",
                kind="event_promoted",
                document=(ics_filename(event), event_ics(event)),
            ),
        )
    return promoted


async def _tell_manager(
    uow: UnitOfWork,
    notifier: Notifier,
    catalog: Catalog,
    event: Event,
    client_id: int,
    outcome: RsvpOutcome,
    plus_one: bool,
) -> None:
    client = await uow.clients.get(client_id)
    if client is None or client.manager_id is None:
        return
    manager = await uow.staff.get(client.manager_id)
    if manager is None:
        return
    t = await staff_translator(uow, catalog, manager)
    answer = t(f"events.status.{outcome.value}") + (" +1" if plus_one else "")
    await _to_staff(
        uow,
        notifier,
        manager.id,
        Outgoing(
            text=t(
                "events.manager_notice", client=client.full_name, title=event.title, answer=answer
            ),
            kind="event_rsvp_notice",
            payload={"event_id": event.id, "client_id": client_id},
        ),
    )


# --- client's view and ratings -----------------------------------------------------------


async def client_invitations(
    uow: UnitOfWork, *, clock: Clock, client_id: int
) -> list[tuple[Invitation, Event]]:
    """The client's invitations to events that have not ended yet, soonest first."""
    now = clock.now()
    return [(i, e) for i, e in await uow.events.for_client(client_id) if e.ends_at > now]


async def unanswered_invitations(
    uow: UnitOfWork, client_id: int, *, since: datetime, as_of: datetime | None = None
) -> int:
    """Invitations sent since `since` the client never answered: a churn signal for insights.

    Pass `as_of` (the clock's now) to count only invitations whose answer window has closed:
    an invitation sent yesterday with a deadline next week is not yet a sign of anything.
    Cancelled events never count.
    """
    return await uow.events.unanswered_count(client_id, since=since, closed_by=as_of)


async def attended_events(uow: UnitOfWork, client_id: int, *, since: datetime) -> int:
    """Events since `since` the client came to (checked in): a sign of the socially active."""
    return sum(
        1
        for invitation, event in await uow.events.for_client(client_id)
        if invitation.status == InvitationStatus.CHECKED_IN and event.starts_at >= since
    )


class RateOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_YOURS = "not_yours"
    NOT_ATTENDED = "not_attended"


async def rate_event(
    uow: UnitOfWork, *, clock: Clock, client_id: int, invitation_id: int, score: int
) -> RateOutcome:
    """Stores a 1–5 rating in the feedback table (kind "event"), once per client and event."""
    invitation = await uow.events.invitation(invitation_id)
    if invitation is None or invitation.client_id != client_id or not 1 <= score <= 5:
        await uow.audit.record(
            now=clock.now(),
            action="event_rating",
            outcome="denied",
            actor_client_id=client_id,
            details={"invitation": invitation_id, "score": score},
        )
        return RateOutcome.NOT_YOURS
    if invitation.status != InvitationStatus.CHECKED_IN:
        return RateOutcome.NOT_ATTENDED
    stored = await uow.events.record_rating(
        client_id=client_id, event_id=invitation.event_id, score=score, now=clock.now()
    )
    return RateOutcome.RECORDED if stored else RateOutcome.ALREADY


# --- reminders (called by the scheduler) ---------------------------------------------------

DAY_BEFORE = timedelta(hours=24)
TWO_HOURS = timedelta(hours=2)
# A thank-you later than this would feel like an afterthought; skip it instead.
THANKS_WINDOW = timedelta(days=3)


async def send_event_reminders(
    uow: UnitOfWork, notifier: Notifier, clock: Clock, *, catalog: Catalog | None = None
) -> int:
    """Sends each due reminder once; returns how many the notifier accepted.

    Due: one nudge to those who have not answered (the event's delay after sending, before
    the deadline), the day before and two hours before to attending guests, and a thank-you
    with a rating after the event to those who checked in. The caller commits.

    A notifier that queues in our transaction (the outbox) makes the reminder and its record
    one fact. For any other notifier: reads first, hands the messages over, writes last, since
    on SQLite a write lock held across the hand-over would block the notifier's own
    transaction (interaction log) until it times out; a failure between hand-over and commit
    then offers the same reminder again, which an outbox would drop by its occasion key.
    """
    catalog = catalog or default_catalog()
    now = clock.now()
    due: list[tuple[int, str, int, Outgoing]] = []
    finished: list[int] = []
    for event in await uow.events.list_events(statuses=(EventStatus.OPEN,)):
        if now >= event.ends_at + THANKS_WINDOW:
            finished.append(event.id)
            continue
        for invitation in await uow.events.invitations(event.id):
            kind = _due_reminder(event, invitation, now)
            if kind is None:
                continue
            client = await uow.clients.get(invitation.client_id)
            if client is None:
                continue
            t = await client_translator(uow, catalog, client)
            message = Outgoing(
                text=t(
                    f"events.reminder.{kind}",
                    name=client.polite_name,
                    title=event.title,
                    when=when(t, event),
                    where=where(event),
                ),
                actions=_reminder_actions(t, kind, event, invitation.id),
                message_class=_REMINDERS[kind][1],
                occasion_key=f"event-{kind}:{event.id}:{client.id}",
                kind=f"event_{kind}",
                payload={"event_id": event.id, "invitation_id": invitation.id},
            )
            due.append((invitation.id, _REMINDERS[kind][0], client.id, message))
    handed = 0
    for _, _, client_id, message in due:
        handed += await _to_client(uow, notifier, client_id, message)
    # Recorded even when the notifier refused (no consent, blocked chat): "at most once" means
    # the client is not offered the same reminder on every run.
    for invitation_id, column, _, _ in due:
        await uow.events.update_invitation(invitation_id, **{column: now})
    for event_id in finished:
        await uow.events.update(event_id, status=EventStatus.DONE)
    return handed


def _reminder_actions(
    t: Translator, kind: str, event: Event, invitation_id: int
) -> Actions | None:
    if kind == "no_answer":
        return rsvp_actions(t, event, invitation_id)
    if kind == "thanks":
        return rating_actions(invitation_id)
    return None


# Which column records a reminder, and its class: the nudge to answer is marketing (caps and
# opt-out apply); messages to guests who said yes are service about their own booking.
_REMINDERS = {
    "no_answer": ("reminder_sent_at", MessageClass.MARKETING),
    "day_before": ("day_before_sent_at", MessageClass.SERVICE),
    "two_hours": ("two_hours_sent_at", MessageClass.SERVICE),
    "thanks": ("thanks_sent_at", MessageClass.SERVICE),
}


def _due_reminder(event: Event, invitation: Invitation, now: datetime) -> str | None:
    status = invitation.status
    if status == InvitationStatus.SENT:
        due = (invitation.sent_at or now) + timedelta(hours=event.reminder_delay_hours)
        if invitation.reminder_sent_at is None and due <= now < event.answers_close_at:
            return "no_answer"
        return None
    if status == InvitationStatus.CHECKED_IN and now >= event.ends_at:
        return "thanks" if invitation.thanks_sent_at is None else None
    if status not in ATTENDING or now >= event.starts_at:
        return None
    # Only the nearest reminder: a guest who accepted an hour before gets no "tomorrow".
    if now >= event.starts_at - TWO_HOURS:
        return "two_hours" if invitation.two_hours_sent_at is None else None
    if now >= event.starts_at - DAY_BEFORE and invitation.day_before_sent_at is None:
        return "day_before"
    return None


# --- check-in -----------------------------------------------------------------------------


class CheckInOutcome(StrEnum):
    CHECKED_IN = "ok"
    WRONG = "wrong"
    TWICE = "twice"
    NOT_ATTENDING = "not_attending"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckInOutcome
    client: Client | None = None
    event: Event | None = None
    invitation: Invitation | None = None


async def check_in(uow: UnitOfWork, *, clock: Clock, staff_id: int, code: str) -> CheckInResult:
    """Admits a guest by the code from their confirmation; every attempt is audited."""
    now = clock.now()
    invitation = await uow.events.by_checkin_hash(hash_checkin_code(code))
    event = await uow.events.get(invitation.event_id) if invitation else None
    client = await uow.clients.get(invitation.client_id) if invitation else None
    if invitation is None or event is None:
        outcome = CheckInOutcome.WRONG
    elif event.status == EventStatus.CANCELLED:
        outcome = CheckInOutcome.CANCELLED
    elif invitation.status == InvitationStatus.CHECKED_IN:
        outcome = CheckInOutcome.TWICE
    elif invitation.status != InvitationStatus.ACCEPTED:
        outcome = CheckInOutcome.NOT_ATTENDING
    else:
        invitation = await uow.events.update_invitation(
            invitation.id, status=InvitationStatus.CHECKED_IN, checked_in_at=now
        )
        outcome = CheckInOutcome.CHECKED_IN
    await uow.audit.record(
        now=now,
        action="event_checkin",
        outcome="ok" if outcome is CheckInOutcome.CHECKED_IN else "denied",
        actor_staff_id=staff_id,
        subject_client_id=client.id if client else None,
        details={"event": event.id if event else None, "result": outcome.value},
    )
    return CheckInResult(outcome, client, event, invitation)


# --- changes and cancellation -------------------------------------------------------------


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
        informed += await _to_client(
            uow,
            notifier,
            client.id,
            Outgoing(
                text=t(
                    key,
                    name=client.polite_name,
                    title=event.title,
                    when=when(t, event),
                    where=where(event),
                ),
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
    event = await require_event(uow, event_id, for_update=True)
    if event.status in {EventStatus.CANCELLED, EventStatus.DONE}:
        raise EventError("events.err.not_open", id=event_id)
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
    event = await require_event(uow, event_id, for_update=True)
    if event.status in {EventStatus.CANCELLED, EventStatus.DONE}:
        raise EventError("events.err.not_open", id=event_id)
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


# --- tracking -----------------------------------------------------------------------------


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


CSV_HEADER = ("name", "status", "plus_one", "answered_at", "checked_in_at", "manager")


async def export_guests_csv(uow: UnitOfWork, *, event_id: int) -> bytes:
    """The guest list as CSV (UTF-8 with BOM, so spreadsheet programs show Cyrillic)."""
    event = await require_event(uow, event_id)
    tz = ZoneInfo(event.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for guest in await guests(uow, event_id=event_id):
        inv = guest.invitation
        writer.writerow(
            (
                guest.client.full_name,
                inv.status,
                "yes" if inv.plus_one else "no",
                _local(inv.answered_at, tz),
                _local(inv.checked_in_at, tz),
                guest.manager_name,
            )
        )
    return buffer.getvalue().encode("utf-8-sig")


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""
