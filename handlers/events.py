"""Staff side of events: the /newevent wizard, tracking, audience, sending, check-in, changes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.event_callbacks import AudienceCb, EventAdminCb, WizardCb
from bot.filters import IsStaff
from bot.i18n import Catalog, Raw, Translator
from bot.rendering import send_long
from concierge.clock import Clock
from concierge.event_audience import AudienceCriteria, CriteriaError, parse_criteria
from concierge.event_chart import render_rsvp_chart
from concierge.event_messages import status_label, when, where
from concierge.events import (
    SUMMARY_ORDER,
    CheckInOutcome,
    EventDraft,
    EventError,
    EventStatus,
    ManagerAudience,
    cancel_event,
    change_capacity,
    change_event,
    check_in,
    create_event,
    event_summary,
    export_guests_csv,
    guests,
    manager_audience,
    parse_local_time,
    preview_audience,
    send_invitations,
    set_audience_choice,
    zone,
)
from concierge.identity import Identity
from concierge.notify import Notifier
from crm_adapter.dto import Client, Role
from crm_adapter.sql import SqlUnitOfWork

router = Router(name="events")
log = logging.getLogger(__name__)

COORDINATION = (Role.COORDINATOR, Role.ADMIN)
LIST_STATUSES = ("accepted", "declined", "maybe", "sent", "waitlisted", "checked_in")


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
    raw = (command.args or "").strip().lstrip("#")
    return int(raw) if raw.isdigit() else None


def _error(t: Translator, exc: EventError) -> str:
    return t(exc.key, **exc.details)


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


def _optional(text: str) -> str | None:
    cleaned = text.strip()
    return None if cleaned in {"", "-", "—"} else cleaned


# Free-text steps: (state, field stored, next state, prompt of the next state).
_TEXT_STEPS = {
    NewEvent.title.state: ("title", NewEvent.description, "events.wizard.description"),
    NewEvent.description.state: ("description", NewEvent.timezone, "events.wizard.timezone"),
    NewEvent.venue.state: ("venue", NewEvent.city, "events.wizard.city"),
}


@router.message(
    StateFilter(NewEvent.title, NewEvent.description, NewEvent.venue),
    F.text,
    ~F.text.startswith("/"),
    IsStaff(*COORDINATION),
)
async def wizard_text(message: Message, state: FSMContext, t: Translator) -> None:
    current = await state.get_state()
    name, next_state, prompt = _TEXT_STEPS[current or ""]
    value = _optional(message.text or "")
    if name == "title" and value is None:
        await message.answer(t("events.err.no_title"))
        return
    await state.update_data({name: value})
    await state.set_state(next_state)
    await message.answer(t(prompt))


@router.message(NewEvent.timezone, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
async def wizard_timezone(message: Message, state: FSMContext, t: Translator) -> None:
    name = _optional(message.text or "") or "Europe/Moscow"
    try:
        zone(name)
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(timezone=name)
    await state.set_state(NewEvent.start)
    await message.answer(t("events.wizard.start"))


@router.message(NewEvent.start, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
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


@router.message(NewEvent.end, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
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


@router.message(NewEvent.city, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
async def wizard_city(message: Message, state: FSMContext, t: Translator) -> None:
    await state.update_data(city=_optional(message.text or ""))
    await state.set_state(NewEvent.capacity)
    await message.answer(t("events.wizard.capacity"))


@router.message(NewEvent.capacity, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
async def wizard_capacity(message: Message, state: FSMContext, t: Translator) -> None:
    raw = (message.text or "").strip()
    if not raw.isdigit() or int(raw) < 1:
        await message.answer(t("events.err.bad_capacity"))
        return
    await state.update_data(capacity=int(raw))
    await state.set_state(NewEvent.plus_ones)
    kb = InlineKeyboardBuilder()
    kb.button(text=t("events.btn.answer_yes"), callback_data=WizardCb(choice="plus_yes"))
    kb.button(text=t("events.btn.answer_no"), callback_data=WizardCb(choice="plus_no"))
    await message.answer(t("events.wizard.plus_ones"), reply_markup=kb.as_markup())


@router.callback_query(
    NewEvent.plus_ones,
    WizardCb.filter(F.choice.in_(["plus_yes", "plus_no"])),
    IsStaff(*COORDINATION),
)
async def wizard_plus_ones(
    query: CallbackQuery, callback_data: WizardCb, state: FSMContext, t: Translator
) -> None:
    assert query.bot is not None
    await query.answer()
    await state.update_data(plus_ones=callback_data.choice == "plus_yes")
    await state.set_state(NewEvent.deadline)
    await query.bot.send_message(query.from_user.id, t("events.wizard.deadline"))


@router.message(NewEvent.deadline, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
async def wizard_deadline(message: Message, state: FSMContext, t: Translator) -> None:
    data = await state.get_data()
    raw = _optional(message.text or "")
    try:
        deadline = parse_local_time(raw, data["timezone"]).isoformat() if raw else None
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await state.update_data(rsvp_deadline=deadline)
    await state.set_state(NewEvent.audience)
    await message.answer(t("events.wizard.audience"))


@router.message(NewEvent.audience, F.text, ~F.text.startswith("/"), IsStaff(*COORDINATION))
async def wizard_audience(
    message: Message, state: FSMContext, uow: SqlUnitOfWork, t: Translator
) -> None:
    managers = {s.external_id.upper(): s.id for s in await uow.staff.with_role(Role.MANAGER)}
    try:
        criteria = parse_criteria(message.text or "", manager_ids_by_code=managers)
    except CriteriaError as exc:
        await message.answer(t("events.err.bad_criteria", value=str(exc)))
        return
    await state.update_data(audience=criteria.to_json(), audience_text=message.text)
    await state.set_state(NewEvent.confirm)
    draft = _draft(await state.get_data())
    kb = InlineKeyboardBuilder()
    kb.button(text=t("events.btn.create"), callback_data=WizardCb(choice="create"))
    kb.button(text=t("events.btn.abort"), callback_data=WizardCb(choice="abort"))
    await message.answer(_draft_summary(t, draft, message.text or ""), reply_markup=kb.as_markup())


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


def _draft_summary(t: Translator, draft: EventDraft, audience_text: str) -> str:
    tz = zone(draft.timezone)
    start, end = draft.starts_at.astimezone(tz), draft.ends_at.astimezone(tz)
    deadline = (draft.rsvp_deadline or draft.starts_at).astimezone(tz)
    return t(
        "events.wizard.confirm",
        title=draft.title,
        description=draft.description or "",
        when=t(
            "events.when",
            date=start.strftime("%d.%m.%Y"),
            start=start.strftime("%H:%M"),
            end=end.strftime("%H:%M"),
            tz=draft.timezone,
        ),
        where=", ".join(p for p in (draft.venue, draft.city) if p) or "—",
        capacity=draft.capacity,
        plus_ones=t("events.btn.answer_yes")
        if draft.plus_ones_allowed
        else t("events.btn.answer_no"),
        deadline=deadline.strftime("%d.%m.%Y %H:%M"),
        audience=t("events.wizard.everyone") if draft.audience.is_everyone else audience_text,
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
    assert query.bot is not None
    await query.answer()
    data = await state.get_data()
    await state.clear()
    if callback_data.choice == "abort":
        await query.bot.send_message(query.from_user.id, t("events.wizard.aborted"))
        return
    try:
        event = await create_event(
            uow, clock=clock, draft=_draft(data), coordinator_id=identity.staff_id
        )
    except EventError as exc:
        await query.bot.send_message(query.from_user.id, _error(t, exc))
        return
    await query.bot.send_message(query.from_user.id, t("events.wizard.created", id=event.id))


# --- listing and tracking -------------------------------------------------------------------


@router.message(Command("events"), IsStaff(*COORDINATION))
async def list_events(message: Message, uow: SqlUnitOfWork, t: Translator) -> None:
    events = await uow.events.list_events()
    if not events:
        await message.answer(t("events.list.empty"))
        return
    lines = [t("events.list.title")]
    for event in events:
        summary = await event_summary(uow, event_id=event.id)
        local = event.starts_at.astimezone(zone(event.timezone))
        lines.append(
            t(
                "events.list.item",
                id=event.id,
                title=event.title,
                date=local.strftime("%d.%m.%Y %H:%M"),
                status_name=t(f"events.event_status.{event.status}"),
                accepted=summary.seats_taken,
                capacity=event.capacity,
            )
        )
    assert message.bot is not None
    await send_long(message.bot, message.chat.id, "\n".join(lines))


def _card_keyboard(t: Translator, event_id: int, status: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t("events.btn.preview"),
        callback_data=EventAdminCb(event_id=event_id, action="preview"),
    )
    if status in {EventStatus.DRAFT, EventStatus.OPEN}:
        kb.button(
            text=t("events.btn.send"), callback_data=EventAdminCb(event_id=event_id, action="send")
        )
    kb.button(
        text=t("events.btn.csv"), callback_data=EventAdminCb(event_id=event_id, action="csv")
    )
    for name in LIST_STATUSES:
        kb.button(
            text=t(f"events.status.{name}"),
            callback_data=EventAdminCb(event_id=event_id, action="list", status=name),
        )
    kb.adjust(1, 2, 3, 3)
    return kb.as_markup()


@router.message(Command("event"), IsStaff())
async def event_card(
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
    coordinator, manager = identity.has_role(*COORDINATION), identity.has_role(Role.MANAGER)
    if not coordinator and not manager:
        await message.answer(t("errors.forbidden"))
        return
    try:
        if coordinator:
            await _send_card(message, uow, t, event_id)
        if manager:
            assert identity.staff_id is not None
            view = await manager_audience(uow, event_id=event_id, staff_id=identity.staff_id)
            await _audit_view(uow, clock, identity, event_id, "event_manager_audience_viewed")
            text, kb = _manager_view(t, view)
            await message.answer(text, reply_markup=kb)
    except EventError as exc:
        await message.answer(_error(t, exc))


async def _send_card(message: Message, uow: SqlUnitOfWork, t: Translator, event_id: int) -> None:
    summary = await event_summary(uow, event_id=event_id)
    event = summary.event
    await message.answer(
        t(
            "events.card",
            id=event.id,
            title=event.title,
            status_name=t(f"events.event_status.{event.status}"),
            when=when(t, event),
            where=where(event),
            taken=summary.seats_taken,
            capacity=event.capacity,
            **{k: v for k, v in summary.counts.items() if k in SUMMARY_ORDER},
        ),
        reply_markup=_card_keyboard(t, event.id, event.status),
    )
    counts = [(t(f"events.status.{k}"), summary.counts[k]) for k in SUMMARY_ORDER]
    # Drawing takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(render_rsvp_chart, event.title, counts)
    await message.answer_photo(
        BufferedInputFile(png, filename=f"event-{event.id}.png"), caption=t("events.chart_title")
    )


async def _audit_view(
    uow: SqlUnitOfWork, clock: Clock, identity: Identity, event_id: int, action: str
) -> None:
    # Audience lists show client data to staff: recorded like any other view of it.
    await uow.audit.record(
        now=clock.now(),
        action=action,
        actor_staff_id=identity.staff_id,
        actor_user_id=identity.user_id,
        details={"event": event_id},
    )


def _manager_view(t: Translator, view: ManagerAudience) -> tuple[str, InlineKeyboardMarkup | None]:
    lines = [t("events.audience.title", title=view.event.title)]
    kb = InlineKeyboardBuilder()
    mark = t("events.audience.invited_mark")
    for client in view.included:
        invited = Raw(mark) if client.id in view.invited_ids else ""
        lines.append(t("events.audience.in", name=client.full_name, invited=invited))
        if client.id not in view.invited_ids:
            kb.button(
                text=t("events.btn.remove", name=client.full_name),
                callback_data=AudienceCb(
                    event_id=view.event.id, client_id=client.id, include=False
                ),
            )
    for client, reason in view.excluded:
        lines.append(
            t(
                "events.audience.blocked",
                name=client.full_name,
                reason=t(f"events.reason.{reason}"),
            )
        )
    for client in view.available:
        lines.append(t("events.audience.out", name=client.full_name))
        kb.button(
            text=t("events.btn.add", name=client.full_name),
            callback_data=AudienceCb(event_id=view.event.id, client_id=client.id, include=True),
        )
    if len(lines) == 1:
        lines.append(t("events.audience.none"))
    else:
        lines.append(t("events.audience.hint"))
    kb.adjust(1)
    markup = kb.as_markup()
    return "\n".join(lines), markup if markup.inline_keyboard else None


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
    if event_id is None or identity.staff_id is None:
        await message.answer(t("events.usage.event"))
        return
    try:
        view = await manager_audience(uow, event_id=event_id, staff_id=identity.staff_id)
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await _audit_view(uow, clock, identity, event_id, "event_manager_audience_viewed")
    text, kb = _manager_view(t, view)
    await message.answer(text, reply_markup=kb)


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
    allowed = await set_audience_choice(
        uow,
        clock=clock,
        event_id=callback_data.event_id,
        staff_id=identity.staff_id,
        client_id=callback_data.client_id,
        include=callback_data.include,
    )
    if not allowed:
        await query.answer(t("events.audience.not_yours"), show_alert=True)
        return
    await query.answer(
        t("events.audience.added" if callback_data.include else "events.audience.removed")
    )
    view = await manager_audience(uow, event_id=callback_data.event_id, staff_id=identity.staff_id)
    text, kb = _manager_view(t, view)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=kb)


@router.callback_query(EventAdminCb.filter(F.action == "preview"), IsStaff(*COORDINATION))
async def audience_preview(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    assert query.bot is not None
    await query.answer()
    event = await uow.events.get(callback_data.event_id)
    if event is None:
        return
    audience = await preview_audience(uow, event_id=event.id)
    await _audit_view(uow, clock, identity, event.id, "event_audience_previewed")
    names = await _manager_names(uow, [m.client for m in audience.included])
    members = [
        t("events.preview_member", name=m.client.full_name, manager=names.get(m.client.id, "—"))
        for m in audience.included
    ]
    excluded = [
        t("events.preview_excluded", name=c.full_name, reason=t(f"events.reason.{r}"))
        for c, r in audience.excluded
    ]
    text = t(
        "events.preview",
        title=event.title,
        count=len(members),
        members=Raw("\n".join(members) or t("events.none")),
        excluded_count=len(excluded),
        excluded=Raw("\n".join(excluded) or t("events.none")),
    )
    await send_long(query.bot, query.from_user.id, text)


async def _manager_names(uow: SqlUnitOfWork, clients: list[Client]) -> dict[int, str]:
    names: dict[int, str] = {}
    cache: dict[int, str] = {}
    for client in clients:
        if client.manager_id is None:
            continue
        if client.manager_id not in cache:
            staff = await uow.staff.get(client.manager_id)
            cache[client.manager_id] = staff.full_name if staff else "—"
        names[client.id] = cache[client.manager_id]
    return names


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
    assert query.bot is not None
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
        await query.bot.send_message(query.from_user.id, _error(t, exc))
        return
    await query.bot.send_message(
        query.from_user.id,
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
    event = await uow.events.get(callback_data.event_id)
    if event is None:
        return
    content = await export_guests_csv(uow, event_id=event.id)
    await _audit_view(uow, clock, identity, event.id, "event_guests_exported")
    await query.bot.send_document(
        query.from_user.id,
        BufferedInputFile(content, filename=f"event-{event.id}-guests.csv"),
        caption=t("events.csv_caption", title=event.title),
    )


@router.callback_query(
    EventAdminCb.filter((F.action == "list") & F.status.in_(LIST_STATUSES)), IsStaff(*COORDINATION)
)
async def guests_by_status(
    query: CallbackQuery,
    callback_data: EventAdminCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    assert query.bot is not None
    await query.answer()
    event = await uow.events.get(callback_data.event_id)
    if event is None:
        return
    found = await guests(uow, event_id=event.id, status=callback_data.status)
    await _audit_view(uow, clock, identity, event.id, "event_guests_viewed")
    lines = [
        t(
            "events.guests.title",
            title=event.title,
            status=t(f"events.status.{callback_data.status}"),
        )
    ]
    lines += [
        t(
            "events.guests.item",
            name=g.client.full_name,
            plus=" +1" if g.invitation.plus_one else "",
            manager=g.manager_name or "—",
        )
        for g in found
    ] or [t("events.guests.empty")]
    await send_long(query.bot, query.from_user.id, "\n".join(lines))


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
    if result.outcome is CheckInOutcome.WRONG:
        log.info("wrong check-in code from staff %s", identity.staff_id)
    name = result.client.full_name if result.client else ""
    inv, event = result.invitation, result.event
    tz = zone(event.timezone) if event else None
    await message.answer(
        t(
            f"events.checkin.{result.outcome.value}",
            name=name,
            plus=" +1" if inv and inv.plus_one else "",
            title=event.title if event else "",
            time=inv.checked_in_at.astimezone(tz).strftime("%H:%M")
            if inv and inv.checked_in_at and tz
            else "",
            status=status_label(t, inv) if inv else "",
        )
    )


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
    parts = (command.args or "").split(maxsplit=2)
    if len(parts) < 3 or not parts[0].isdigit() or parts[1] not in {"start", "venue", "capacity"}:
        await message.answer(t("events.usage.eventedit"))
        return
    event_id, what, value = int(parts[0]), parts[1], parts[2].strip()
    common: dict[str, Any] = {
        "notifier": notifier,
        "clock": clock,
        "event_id": event_id,
        "staff_id": identity.staff_id,
        "catalog": catalog,
    }
    try:
        if what == "capacity":
            if not value.isdigit():
                raise EventError("events.err.bad_number")
            promoted = await change_capacity(uow, capacity=int(value), **common)
            await message.answer(
                t("events.edit.capacity_done", id=event_id, capacity=value, promoted=len(promoted))
            )
            return
        if what == "start":
            event = await uow.events.get(event_id)
            if event is None:
                raise EventError("events.err.not_found", id=event_id)
            informed = await change_event(
                uow, starts_at=parse_local_time(value, event.timezone), **common
            )
        else:
            informed = await change_event(uow, venue=value, **common)
    except EventError as exc:
        await message.answer(_error(t, exc))
        return
    await message.answer(t("events.edit.done", id=event_id, informed=informed))
