"""Reminders the scheduler sends: the nudge to answer, the day before, two hours, the thank-you."""

from __future__ import annotations

from datetime import datetime, timedelta

from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.actions import Actions
from concierge.events.delivery import send_to_client
from concierge.events.messages import (
    client_translator,
    default_catalog,
    guest_text,
    rating_actions,
    rsvp_actions,
)
from concierge.events.model import ATTENDING, EventStatus, InvitationStatus
from concierge.notify import MessageClass, Notifier, Outgoing
from crm_adapter.dto import Event, Invitation
from crm_adapter.port import UnitOfWork

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
                text=guest_text(t, f"events.reminder.{kind}", event, client),
                actions=_reminder_actions(t, kind, event, invitation.id),
                message_class=_REMINDERS[kind][1],
                occasion_key=f"event-{kind}:{event.id}:{client.id}",
                kind=f"event_{kind}",
                payload={"event_id": event.id, "invitation_id": invitation.id},
            )
            due.append((invitation.id, _REMINDERS[kind][0], client.id, message))
    handed = 0
    for _, _, client_id, message in due:
        handed += await send_to_client(uow, notifier, client_id, message)
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
