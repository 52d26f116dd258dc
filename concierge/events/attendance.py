"""A client's invitations seen from their side: what is open, what they did, how they rated it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from common.clock import Clock
from concierge.events.model import InvitationStatus
from crm_adapter.dto import Event, Invitation
from crm_adapter.port import UnitOfWork


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
