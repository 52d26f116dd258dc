"""Staff side of events: the /newevent wizard, tracking, audience, sending, check-in, changes.

Coordinators (and admins) run events; personal managers see and adjust their own clients in
an event's audience. Texts and keyboards are built in `bot.event_views`, rules live in
`concierge.events`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import event_views as views
from bot.callbacks import parse_row_id
from bot.event_callbacks import AudienceCb, EventAdminCb, WizardCb
from bot.filters import IsStaff, staff_only
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.event_audience import AudienceCriteria, CriteriaError, parse_criteria
from concierge.event_chart import render_rsvp_chart
from concierge.events import (
    CheckInOutcome,
    EventDraft,
    EventError,
    cancel_event,
    change_capacity,
    change_event,
    check_in,
    create_event,
    event_summary,
    events_overview,
    export_guests_csv,
    guests,
    manager_audience,
    parse_local_time,
    preview_audience,
    require_event,
    send_invitations,
    set_audience_choice,
    staff_names,
    zone,
)
from concierge.identity import Identity
from concierge.notify import Notifier
from crm_adapter.dto import Event, Role
from crm_adapter.sql import SqlUnitOfWork

router = staff_only(Router(name="events"))
log = logging.getLogger(__name__)

COORDINATION = (Role.COORDINATOR, Role.ADMIN)
# Text steps never swallow a command: /events or /cancel typed mid-wizard stay commands.
ANSWER = (F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))


class NewEvent(StatesGroup):
    title = State()
    description = State()
    timezone = State()
    start = State()
    end = State()
    venue = State()
    city = State()
    capacity = State()
    plus_ones = State()
    deadline = State()
    audience = State()
    confirm = State()


def _event_id(command: CommandObject) -> int | None:
    return parse_row_id(command.args or "")


def _error(t: Translator, exc: EventError) -> str:
    return t(exc.key, **exc.details)


def _optional(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    return None if cleaned in {"", "-", "—"} else cleaned


async def _say(query: CallbackQuery, text: str) -> None:
    # A callback's message may be too old to answer to; the private chat id is the user id.
    assert query.bot is not None
    await send_long(query.bot, query.from_user.id, text)


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


async def _event_or_say(
    query: CallbackQuery, uow: SqlUnitOfWork, t: Translator, event_id: int
) -> Event | None:
    try:
        return await require_event(uow, event_id)
    except EventError as exc:
        await _say(query, _error(t, exc))
        return None


# --- the wizard ---------------------------------------------------------------------------


@router.message(Command("newevent"), IsStaff(*COORDINATION))
async def new_event(message: Message, state: FSMContext, t: Translator) -> None:
    await state.clear()
    await state.set_state(NewEvent.title)
    await message.answer(t("events.wizard.title"))


@router.message(Command("cancel"), StateFilter(NewEvent), IsStaff(*COORDINATION))
async def abort_wizard(message: Message, state: FSMContext, t: Translator) -> None:
    await state.clear()
    await message.answer(t("events.wizard.aborted"))


# Free-text steps: state -> (field stored, next state, prompt of the next state).
_TEXT_STEPS = {
    NewEvent.title.state: ("title", NewEvent.description, "events.wizard.description"),
    NewEvent.description.state: ("description", NewEvent.timezone, "events.wizard.timezone"),
    NewEvent.venue.state: ("venue", NewEvent.city, "events.wizard.city"),
    NewEvent.city.state: ("city", NewEvent.capacity, "events.wizard.capacity"),
}


@router.message(StateFilter(*_TEXT_STEPS), *ANSWER)
async def wizard_text(message: Message, state: FSMContext, t: Translator) -> None:
    name, next_state, prompt = _TEXT_STEPS[await state.get_state() or ""]
    value = _optional(message.text)
    if name == "title" and value is None:
        await message.answer(t("events.err.no_title"))
        return
    await state.update_data({name: value})
    await state.set_state(next_state)
    await message.answer(t(prompt))


@router.message(NewEvent.timezone, *ANSWER)
async def wizard_timezone(message: Message, state: FSMContext, t: Translator) -> None:
    name = _optional(message.text) or "Europe/Moscow"
    try:
        zone(name)
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(timezone=name)
    await state.set_state(NewEvent.start)
    await message.answer(t("events.wizard.start"))


@router.message(NewEvent.start, *ANSWER)
async def wizard_start(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    try:
        starts = parse_local_time(message.text or "", data["timezone"])
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(starts_at=starts.isoformat())
    await state.set_state(NewEvent.end)
    await message.answer(t("events.wizard.end"))


@router.message(NewEvent.end, *ANSWER)
async def wizard_end(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    starts = datetime.fromisoformat(data["starts_at"])
    text = (message.text or "").strip()
    if len(text) <= 5:
        # Just a time: the same day as the start, which is how events are usually described.
        text = f"{starts.strftime('%Y-%m-%d')} {text}"
    try:
        ends = parse_local_time(text, data["timezone"])
        if ends <= starts:
            raise EventError("events.err.end_before_start")
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(ends_at=ends.isoformat())
    await state.set_state(NewEvent.venue)
    await message.answer(t("events.wizard.venue"))


@router.message(NewEvent.capacity, *ANSWER)
async def wizard_capacity(message: Message, state: FSMContext, t: Translator) -> None:
    raw = (message.text or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        await message.answer(t("events.err.bad_capacity"))
        return
    await state.update_data(capacity=int(raw))
    await state.set_state(NewEvent.plus_ones)
    keyboard = views.choice_keyboard(
        t, ("events.btn.answer_yes", "plus_yes"), ("events.btn.answer_no", "plus_no")
    )
    await message.answer(t("events.wizard.plus_ones"), reply_markup=keyboard)


@router.callback_query(
    NewEvent.plus_ones,
    WizardCb.filter(F.choice.in_(["plus_yes", "plus_no"])),
    IsStaff(*COORDINATION),
)
async def wizard_plus_ones(
    query: CallbackQuery, callback_data: WizardCb, state: FSMContext, t: Translator
) -> None:
    await query.answer()
    await state.update_data(plus_ones=callback_data.choice == "plus_yes")
    await state.set_state(NewEvent.deadline)
    await _say(query, t("events.wizard.deadline"))


@router.message(NewEvent.deadline, *ANSWER)
async def wizard_deadline(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    raw = _optional(message.text)
    try:
        deadline = parse_local_time(raw, data["timezone"]).isoformat() if raw else None
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(rsvp_deadline=deadline)
    await state.set_state(NewEvent.audience)
    await message.answer(t("events.wizard.audience"))


@router.message(NewEvent.audience, *ANSWER)
async def wizard_audience(
    message: Message, state: FSMContext, uow: SqlUnitOfWork, t: Translator
) -> None:
    managers = {s.external_id.upper(): s.id for s in await uow.staff.with_role(Role.MANAGER)}
    try:
        criteria = parse_criteria(message.text or "", manager_ids_by_code=managers)
    except CriteriaError as exc:
        await message.answer(t("events.err.bad_criteria", value=str(exc)))
        return
    await state.update_data(audience=criteria.to_json())
    await state.set_state(NewEvent.confirm)
    summary = views.draft_summary(t, _draft(await state.get_data()), message.text or "")
    keyboard = views.choice_keyboard(
        t, ("events.btn.create", "create"), ("events.btn.abort", "abort")
    )
    await message.answer(summary, reply_markup=keyboard)


def _draft(data: dict[str, Any]) -> EventDraft:
    deadline = data.get("rsvp_deadline")
    return EventDraft(
        title=data["title"],
        description=data.get("description"),
        timezone=data["timezone"],
        starts_at=datetime.fromisoformat(data["starts_at"]),
        ends_at=datetime.fromisoformat(data["ends_at"]),
        venue=data.get("venue"),
        city=data.get("city"),
        capacity=data["capacity"],
        plus_ones_allowed=data["plus_ones"],
        rsvp_deadline=datetime.fromisoformat(deadline) if deadline else None,
        audience=AudienceCriteria.from_json(data.get("audience")),
    )


@router.callback_query(
    NewEvent.confirm, WizardCb.filter(F.choice.in_(["create", "abort"])), IsStaff(*COORDINATION)
)
async def wizard_confirm(
    query: CallbackQuery,
    callback_data: WizardCb,
    state: FSMContext,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    await query.answer()
    data = await state.get_data()
    await state.clear()
    if callback_data.choice == "abort":
        await _say(query, t("events.wizard.aborted"))
        return
    try:
        event = await create_event(
            uow, clock=clock, draft=_draft(data), coordinator_id=identity.staff_id
        )
    except EventError as exc:
        await _say(query, _error(t, exc))
        return
    await _say(query, t("events.wizard.created", id=event.id))


# --- listing and tracking -------------------------------------------------------------------


@router.message(Command("events"), IsStaff(*COORDINATION))
async def list_events(message: Message, uow: SqlUnitOfWork, t: Translator) -> None:
    assert message.bot is not None
    await send_long(message.bot, message.chat.id, views.events_list(t, await events_overview(uow)))


@router.message(Command("event"), IsStaff())
async def event_card(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    """Coordinators get the card and chart; managers their clients in the audience; admins both."""
    event_id = _event_id(command)
    coordinator, manager = identity.has_role(*COORDINATION), identity.has_role(Role.MANAGER)
    if event_id is None or not (coordinator or manager):
        await message.answer(t("events.usage.event" if event_id is None else "errors.forbidden"))
        return
    try:
        if coordinator:
            await _send_card(message, uow, t, event_id)
        if manager:
            await _send_manager_view(message, uow, clock, identity, t, event_id)
    except EventError as exc:
        await message.answer(_error(t, exc))


async def _send_card(message: Message, uow: SqlUnitOfWork, t: Translator, event_id: int) -> None:
    summary = await event_summary(uow, event_id=event_id)
    text, keyboard = views.card(t, summary)
    await message.answer(text, reply_markup=keyboard)
    # Drawing takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(
        render_rsvp_chart, summary.event.title, views.chart_counts(t, summary)
    )
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


@router.message(Command("eventaudience"), IsStaff(Role.MANAGER))
async def event_audience(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    event_id = _event_id(command)
    if event_id is None:
        await message.answer(t("events.usage.event"))
        return
    try:
        await _send_manager_view(message, uow, clock, identity, t, event_id)
    except EventError as exc:
        await message.answer(_error(t, exc))


@router.callback_query(AudienceCb.filter(), IsStaff(Role.MANAGER))
async def audience_choice(
    query: CallbackQuery,
    callback_data: AudienceCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    assert identity.staff_id is not None
    event_id, include = callback_data.event_id, callback_data.include
    if not await set_audience_choice(
        uow,
        clock=clock,
        event_id=event_id,
        staff_id=identity.staff_id,
        client_id=callback_data.client_id,
        include=include,
    ):
        await query.answer(t("events.audience.not_yours"), show_alert=True)
        return
    await query.answer(t("events.audience.added" if include else "events.audience.removed"))
    view = await manager_audience(uow, event_id=event_id, staff_id=identity.staff_id)
    text, keyboard = views.manager_view(t, view)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


@router.callback_query(EventAdminCb.filter(F.action == "preview"), IsStaff(*COORDINATION))
async def audience_preview(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    await query.answer()
    event = await _event_or_say(query, uow, t, callback_data.event_id)
    if event is None:
        return
    audience = await preview_audience(uow, event_id=event.id)
    await _audit_view(uow, clock, identity, event.id, "event_audience_previewed")
    names = await staff_names(uow, {m.client.manager_id or 0 for m in audience.included})
    await _say(query, views.audience_preview(t, event, audience, names))


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
        await _say(query, _error(t, exc))
        return
    await _say(
        query,
        t(
            "events.sent",
            queued=report.queued,
            already=report.already_invited,
            excluded=report.excluded,
        ),
    )


@router.callback_query(EventAdminCb.filter(F.action == "csv"), IsStaff(*COORDINATION))
async def export_csv(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    assert query.bot is not None
    await query.answer()
    event = await _event_or_say(query, uow, t, callback_data.event_id)
    if event is None:
        return
    content = await export_guests_csv(uow, event_id=event.id)
    await _audit_view(uow, clock, identity, event.id, "event_guests_exported")
    document = BufferedInputFile(content, filename=f"event-{event.id}-guests.csv")
    await query.bot.send_document(
        query.from_user.id, document, caption=t("events.csv_caption", title=event.title)
    )


@router.callback_query(
    EventAdminCb.filter((F.action == "list") & F.status.in_(views.LIST_STATUSES)),
    IsStaff(*COORDINATION),
)
async def guests_by_status(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    await query.answer()
    event = await _event_or_say(query, uow, t, callback_data.event_id)
    if event is None:
        return
    found = await guests(uow, event_id=event.id, status=callback_data.status)
    await _audit_view(uow, clock, identity, event.id, "event_guests_viewed")
    await _say(query, views.guest_list(t, event, callback_data.status, found))


# --- at the venue, and changes ----------------------------------------------------------------


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
    await message.answer(views.checkin_reply(t, result))


@router.message(Command("cancelevent"), IsStaff(*COORDINATION))
async def cancel(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    notifier: Notifier,
    catalog: Catalog,
    t: Translator,
) -> None:
    event_id = _event_id(command)
    if event_id is None:
        await message.answer(t("events.usage.cancelevent"))
        return
    try:
        informed = await cancel_event(
            uow,
            notifier=notifier,
            clock=clock,
            event_id=event_id,
            staff_id=identity.staff_id,
            catalog=catalog,
        )
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await message.answer(t("events.cancel.done", id=event_id, informed=informed))


@router.message(Command("eventedit"), IsStaff(*COORDINATION))
async def edit(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    notifier: Notifier,
    catalog: Catalog,
    t: Translator,
) -> None:
    """`/eventedit ID start|venue|capacity VALUE`: one change at a time, each explained."""
    parts = (command.args or "").split(maxsplit=2)
    event_id = parse_row_id(parts[0]) if parts else None
    if len(parts) < 3 or event_id is None or parts[1] not in {"start", "venue", "capacity"}:
        await message.answer(t("events.usage.eventedit"))
        return
    what, value = parts[1], parts[2].strip()
    common: dict[str, Any] = {
        "notifier": notifier,
        "clock": clock,
        "event_id": event_id,
        "staff_id": identity.staff_id,
        "catalog": catalog,
    }
    try:
        if what == "capacity":
            # A seat count, not anything the database's INTEGER could overflow on.
            if not (value.isascii() and value.isdigit()) or len(value) > 6:
                raise EventError("events.err.bad_number")
            promoted = await change_capacity(uow, capacity=int(value), **common)
            reply = t(
                "events.edit.capacity_done", id=event_id, capacity=value, promoted=len(promoted)
            )
        elif what == "start":
            event = await require_event(uow, event_id)
            starts_at = parse_local_time(value, event.timezone)
            reply = t(
                "events.edit.done",
                id=event_id,
                informed=await change_event(uow, starts_at=starts_at, **common),
            )
        else:
            reply = t(
                "events.edit.done",
                id=event_id,
                informed=await change_event(uow, venue=value, **common),
            )
    except EventError as exc:
        reply = _error(t, exc)
    await message.answer(reply)
