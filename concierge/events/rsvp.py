"""A guest's answer to an invitation, with capacity, a first-come waitlist and the deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from common.clock import Clock
from common.i18n import Catalog
from concierge.events.calendar_file import event_ics, ics_filename
from concierge.events.checkin import issue_code
from concierge.events.delivery import send_to_client, send_to_staff
from concierge.events.messages import (
    client_translator,
    default_catalog,
    guest_text,
    staff_translator,
)
from concierge.events.model import (
    ATTENDING,
    EventStatus,
    InvitationStatus,
    require_event,
    seats_taken,
)
from concierge.notify import MessageClass, Notifier, Outgoing
from crm_adapter.dto import Event, Invitation
from crm_adapter.port import UnitOfWork


class Rsvp(StrEnum):
    ACCEPT = "accept"
    ACCEPT_PLUS_ONE = "accept1"
    DECLINE = "decline"
    MAYBE = "maybe"


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
                code, changes["checkin_code_hash"] = await issue_code(uow)
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
        code, digest = await issue_code(uow)
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
        await send_to_client(
            uow,
            notifier,
            client.id,
            Outgoing(
                text=guest_text(t, "events.promoted", event, client, code=code),
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
    await send_to_staff(
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
