"""Coordinators plan events: the /newevent wizard, then /eventedit and /cancelevent.

Texts and keyboards are built in `bot.event_views`; the rules live in `concierge.events.drafts`
and `concierge.events.changes`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot import event_views as views
from bot.callbacks import parse_row_id
from bot.event_callbacks import WizardCb
from bot.filters import IsStaff, staff_only
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.events.audience import AudienceCriteria, CriteriaError, parse_criteria
from concierge.events.changes import cancel_event, change_capacity, change_event
from concierge.events.drafts import EventDraft, create_event, parse_local_time, zone
from concierge.events.model import EventError, require_event
from concierge.identity import Identity
from concierge.notify import Notifier
from crm_adapter.dto import Role
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply
from handlers.event_common import COORDINATION, event_id_arg, refusal

router = staff_only(Router(name="event_planning"))


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


def _optional(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    return None if cleaned in {"", "-", "—"} else cleaned


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


# How a typed answer is read: from the text and the answers kept so far, what to keep;
# EventError says what is wrong with it.
Reader = Callable[[str | None, dict[str, Any]], dict[str, Any]]


def _kept_as(name: str) -> Reader:
    """An optional free text ("-" for none)."""
    return lambda text, _: {name: _optional(text)}


def _title(text: str | None, _: dict[str, Any]) -> dict[str, Any]:
    title = _optional(text)
    if title is None:
        raise EventError("events.err.no_title")
    return {"title": title}


def _timezone(text: str | None, _: dict[str, Any]) -> dict[str, Any]:
    name = _optional(text) or "Europe/Moscow"
    zone(name)
    return {"timezone": name}


def _start(text: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"starts_at": parse_local_time(text or "", data["timezone"]).isoformat()}


def _end(text: str | None, data: dict[str, Any]) -> dict[str, Any]:
    starts = datetime.fromisoformat(data["starts_at"])
    typed = (text or "").strip()
    if len(typed) <= 5:
        # Just a time: the same day as the start, which is how events are usually described.
        typed = f"{starts.strftime('%Y-%m-%d')} {typed}"
    ends = parse_local_time(typed, data["timezone"])
    if ends <= starts:
        raise EventError("events.err.end_before_start")
    return {"ends_at": ends.isoformat()}


def _deadline(text: str | None, data: dict[str, Any]) -> dict[str, Any]:
    raw = _optional(text)
    return {"rsvp_deadline": parse_local_time(raw, data["timezone"]).isoformat() if raw else None}


# Typed steps: state -> (how its answer is read, the next state, that state's question).
_TYPED_STEPS: dict[str | None, tuple[Reader, State, str]] = {
    NewEvent.title.state: (_title, NewEvent.description, "events.wizard.description"),
    NewEvent.description.state: (
        _kept_as("description"),
        NewEvent.timezone,
        "events.wizard.timezone",
    ),
    NewEvent.timezone.state: (_timezone, NewEvent.start, "events.wizard.start"),
    NewEvent.start.state: (_start, NewEvent.end, "events.wizard.end"),
    NewEvent.end.state: (_end, NewEvent.venue, "events.wizard.venue"),
    NewEvent.venue.state: (_kept_as("venue"), NewEvent.city, "events.wizard.city"),
    NewEvent.city.state: (_kept_as("city"), NewEvent.capacity, "events.wizard.capacity"),
    NewEvent.deadline.state: (_deadline, NewEvent.audience, "events.wizard.audience"),
}


@router.message(StateFilter(*_TYPED_STEPS), *ANSWER)
async def wizard_answer(message: Message, state: FSMContext, t: Translator) -> None:
    """Keeps the coordinator's answer and asks the next question, or says what is wrong."""
    read, next_state, prompt = _TYPED_STEPS[await state.get_state()]
    try:
        answer = read(message.text, await state.get_data())
    except EventError as exc:
        await message.answer(refusal(t, exc))
        return
    await state.update_data(answer)
    await state.set_state(next_state)
    await message.answer(t(prompt))


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
    await reply(query, t("events.wizard.deadline"))


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
        await reply(query, t("events.wizard.aborted"))
        return
    try:
        event = await create_event(
            uow, clock=clock, draft=_draft(data), coordinator_id=identity.staff_id
        )
    except EventError as exc:
        await reply(query, refusal(t, exc))
        return
    await reply(query, t("events.wizard.created", id=event.id))


# --- changes and cancellation ------------------------------------------------------------


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
    event_id = event_id_arg(command)
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
        await message.answer(refusal(t, exc))
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
            text = t(
                "events.edit.capacity_done", id=event_id, capacity=value, promoted=len(promoted)
            )
        elif what == "start":
            event = await require_event(uow, event_id)
            starts_at = parse_local_time(value, event.timezone)
            text = t(
                "events.edit.done",
                id=event_id,
                informed=await change_event(uow, starts_at=starts_at, **common),
            )
        else:
            text = t(
                "events.edit.done",
                id=event_id,
                informed=await change_event(uow, venue=value, **common),
            )
    except EventError as exc:
        text = refusal(t, exc)
    await message.answer(text)
