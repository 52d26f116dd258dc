"""Staff follow an event: the list, the card and chart, the audience, sending, guests, check-in.

Coordinators (and admins) run events; personal managers see and adjust their own clients in
an event's audience. Texts and keyboards are built in `bot.event_views`.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import event_views as views
from bot.event_callbacks import AudienceCb, EventAdminCb
from bot.filters import IsStaff, staff_only
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.events.chart import draw_rsvp_chart
from concierge.events.checkin import CheckInOutcome, check_in
from concierge.events.invitations import (
    manager_audience,
    preview_audience,
    send_invitations,
    set_audience_choice,
)
from concierge.events.messages import checkin_text
from concierge.events.model import EventError, require_event
from concierge.events.tracking import (
    event_summary,
    events_overview,
    export_guests_csv,
    guests,
    staff_names,
)
from concierge.identity import Identity
from concierge.notify import Notifier
from crm_adapter.dto import Event, Role, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply
from handlers.event_common import COORDINATION, event_id_arg, refusal

router = staff_only(Router(name="event_card"))
log = logging.getLogger(__name__)


async def _audit_view(
    uow: SqlUnitOfWork, clock: Clock, identity: Identity, event_id: int, action: str
) -> None:
    # Audience and guest lists show client data to staff: recorded like any other view of it.
    await uow.audit.record(
        now=clock.now(),
        action=action,
        actor_staff_id=identity.staff_id,
        actor_user_id=identity.user_id,
        details={"event": event_id},
    )


# --- listing and tracking -------------------------------------------------------------------


@router.message(Command("events"), IsStaff(*COORDINATION))
async def list_events(message: Message, uow: SqlUnitOfWork, t: Translator) -> None:
    assert message.bot is not None
    await send_long(message.bot, message.chat.id, views.events_list(t, await events_overview(uow)))


@router.message(Command("event"), IsStaff())
@router.message(Command("eventaudience"), IsStaff(Role.MANAGER))
async def event_card(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    """Coordinators get the card and chart; managers their clients in the audience; admins both.

    `/eventaudience` is the managers' part alone.
    """
    event_id = event_id_arg(command)
    coordinator = command.command == "event" and identity.has_role(*COORDINATION)
    manager = identity.has_role(Role.MANAGER)
    if event_id is None or not (coordinator or manager):
        await message.answer(t("events.usage.event" if event_id is None else "errors.forbidden"))
        return
    try:
        if coordinator:
            await _send_card(message, uow, t, event_id)
        if manager:
            await _send_manager_view(message, uow, clock, identity, t, event_id)
    except EventError as exc:
        await message.answer(refusal(t, exc))


async def _send_card(message: Message, uow: SqlUnitOfWork, t: Translator, event_id: int) -> None:
    summary = await event_summary(uow, event_id=event_id)
    text, keyboard = views.card(t, summary)
    await message.answer(text, reply_markup=keyboard)
    png = await draw_rsvp_chart(summary, t)
    photo = BufferedInputFile(png, filename=f"event-{event_id}.png")
    await message.answer_photo(photo, caption=t("events.chart_title"))


async def _send_manager_view(
    message: Message,
    uow: SqlUnitOfWork,
    clock: Clock,
    identity: Identity,
    t: Translator,
    event_id: int,
) -> None:
    assert identity.staff_id is not None
    view = await manager_audience(uow, event_id=event_id, staff_id=identity.staff_id)
    await _audit_view(uow, clock, identity, event_id, "event_manager_audience_viewed")
    text, keyboard = views.manager_view(t, view)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(AudienceCb.filter(), IsStaff(Role.MANAGER))
async def audience_choice(
    query: CallbackQuery,
    callback_data: AudienceCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    event_id, include = callback_data.event_id, callback_data.include
    if not await set_audience_choice(
        uow,
        clock=clock,
        event_id=event_id,
        staff_id=staff.id,
        client_id=callback_data.client_id,
        include=include,
    ):
        await query.answer(t("events.audience.not_yours"), show_alert=True)
        return
    await query.answer(t("events.audience.added" if include else "events.audience.removed"))
    view = await manager_audience(uow, event_id=event_id, staff_id=staff.id)
    text, keyboard = views.manager_view(t, view)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


@router.callback_query(EventAdminCb.filter(F.action == "send"), IsStaff(*COORDINATION))
async def send(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    notifier: Notifier,
    catalog: Catalog,
    t: Translator,
) -> None:
    await query.answer()
    try:
        report = await send_invitations(
            uow,
            notifier,
            clock,
            callback_data.event_id,
            staff_id=identity.staff_id,
            catalog=catalog,
        )
    except EventError as exc:
        await reply(query, refusal(t, exc))
        return
    await reply(
        query,
        t(
            "events.sent",
            queued=report.queued,
            already=report.already_invited,
            excluded=report.excluded,
        ),
    )


async def _send_preview(
    query: CallbackQuery, uow: SqlUnitOfWork, t: Translator, event: Event, status: str
) -> None:
    audience = await preview_audience(uow, event_id=event.id)
    names = await staff_names(uow, {m.client.manager_id or 0 for m in audience.included})
    await reply(query, views.audience_preview(t, event, audience, names))


async def _send_csv(
    query: CallbackQuery, uow: SqlUnitOfWork, t: Translator, event: Event, status: str
) -> None:
    assert query.bot is not None
    content = await export_guests_csv(uow, event_id=event.id, t=t)
    document = BufferedInputFile(content, filename=f"event-{event.id}-guests.csv")
    await query.bot.send_document(
        query.from_user.id, document, caption=t("events.csv_caption", title=event.title)
    )


async def _send_list(
    query: CallbackQuery, uow: SqlUnitOfWork, t: Translator, event: Event, status: str
) -> None:
    found = await guests(uow, event_id=event.id, status=status)
    await reply(query, views.guest_list(t, event, status, found))


# What a coordinator can open about an event's guests from its card: how the opening is
# audited, and what is sent.
_GUEST_VIEWS = {
    "preview": ("event_audience_previewed", _send_preview),
    "csv": ("event_guests_exported", _send_csv),
    "list": ("event_guests_viewed", _send_list),
}


@router.callback_query(
    EventAdminCb.filter(
        F.action.in_(["preview", "csv"])
        | ((F.action == "list") & F.status.in_(views.LIST_STATUSES))
    ),
    IsStaff(*COORDINATION),
)
async def guest_view(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    """The audience preview, the guest list as CSV, or the guests of one status."""
    await query.answer()
    try:
        event = await require_event(uow, callback_data.event_id)
    except EventError as exc:
        await reply(query, refusal(t, exc))
        return
    audit_action, send_view = _GUEST_VIEWS[callback_data.action]
    await _audit_view(uow, clock, identity, event.id, audit_action)
    await send_view(query, uow, t, event, callback_data.status)


# --- at the door -------------------------------------------------------------------------


@router.message(Command("checkin"), IsStaff(*COORDINATION))
async def checkin(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    code = (command.args or "").strip()
    if not code or identity.staff_id is None:
        await message.answer(t("events.usage.checkin"))
        return
    result = await check_in(uow, clock=clock, staff_id=identity.staff_id, code=code)
    if result.outcome is not CheckInOutcome.CHECKED_IN:
        log.info("check-in refused (%s) for staff %s", result.outcome.value, identity.staff_id)
    await message.answer(checkin_text(t, result))
