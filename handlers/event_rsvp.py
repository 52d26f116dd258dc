"""The client's side of events: the Events menu section, RSVP buttons and the one-tap rating."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import BufferedInputFile, CallbackQuery

from bot.actions import render
from bot.callbacks import MenuCb
from bot.event_callbacks import EventRateCb, RsvpCb
from bot.filters import IsClient
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.events.attendance import RateOutcome, client_invitations, rate_event
from concierge.events.calendar_file import event_ics, ics_filename
from concierge.events.messages import (
    deadline,
    guest_text,
    rsvp_actions,
    status_label,
    when,
    where,
)
from concierge.events.model import EventStatus
from concierge.events.rsvp import Rsvp, RsvpOutcome, answer_invitation
from concierge.notify import Notifier
from crm_adapter.dto import Client
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = Router(name="event_rsvp")

# More than this many open invitations at once is unusual; the soonest ones are shown.
MAX_LISTED = 10
# Outcomes that change nothing: answered with a pop-up only, the chat stays clean.
_ALERTS = {
    RsvpOutcome.ALREADY: "events.rsvp.already",
    RsvpOutcome.CLOSED: "events.rsvp.closed",
    RsvpOutcome.CANCELLED: "events.rsvp.cancelled",
    RsvpOutcome.NOT_YOURS: "events.rsvp.not_yours",
    RsvpOutcome.NOT_FOUND: "events.rsvp.not_found",
    RsvpOutcome.NO_PLUS_ONE: "events.rsvp.no_plus_one",
    RsvpOutcome.NO_ROOM_FOR_GUEST: "events.rsvp.no_room_for_guest",
}


@router.callback_query(MenuCb.filter(F.section == "events"), IsClient(consent=True))
async def my_events(
    query: CallbackQuery, client: Client, uow: SqlUnitOfWork, clock: Clock, t: Translator
) -> None:
    await query.answer()
    found = await client_invitations(uow, clock=clock, client_id=client.id)
    if not found:
        await reply(query, t("events.my.empty"))
        return
    await reply(query, t("events.my.title"))
    for invitation, event in found[:MAX_LISTED]:
        answerable = event.status == EventStatus.OPEN and clock.now() < event.answers_close_at
        await reply(
            query,
            t(
                "events.my.item",
                title=event.title,
                when=when(t, event),
                where=where(event),
                status=t("events.status.cancelled")
                if event.status == EventStatus.CANCELLED
                else status_label(t, invitation),
            ),
            reply_markup=render(rsvp_actions(t, event, invitation.id)) if answerable else None,
        )


@router.callback_query(
    RsvpCb.filter(F.answer.in_([r.value for r in Rsvp])), IsClient(consent=True)
)
async def rsvp(
    query: CallbackQuery,
    callback_data: RsvpCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    notifier: Notifier,
    catalog: Catalog,
    t: Translator,
) -> None:
    assert query.bot is not None
    result = await answer_invitation(
        uow,
        notifier=notifier,
        clock=clock,
        client_id=client.id,
        invitation_id=callback_data.invitation_id,
        answer=Rsvp(callback_data.answer),
        catalog=catalog,
    )
    if result.outcome in _ALERTS:
        await query.answer(t(_ALERTS[result.outcome]), show_alert=True)
        return
    await query.answer()
    event, name = result.event, client.polite_name
    assert event is not None and result.invitation is not None
    if result.outcome is RsvpOutcome.ACCEPTED and result.code is None:
        status = status_label(t, result.invitation)
        await reply(query, t("events.rsvp.accepted_update", name=name, status=status))
    elif result.outcome is RsvpOutcome.ACCEPTED:
        text = guest_text(t, "events.rsvp.accepted", event, client, code=result.code)
        await reply(query, text)
        ics = BufferedInputFile(event_ics(event), filename=ics_filename(event))
        await query.bot.send_document(query.from_user.id, ics, caption=t("events.ics_caption"))
    else:
        key = f"events.rsvp.{result.outcome.value}"
        await reply(query, t(key, name=name, title=event.title, deadline=deadline(t, event)))


@router.callback_query(EventRateCb.filter(), IsClient(consent=True))
async def rate(
    query: CallbackQuery,
    callback_data: EventRateCb,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    outcome = await rate_event(
        uow,
        clock=clock,
        client_id=client.id,
        invitation_id=callback_data.invitation_id,
        score=callback_data.score,
    )
    await query.answer(
        t(f"events.rate.{outcome.value}"), show_alert=outcome is not RateOutcome.RECORDED
    )
