"""Staff side of service requests: the /requests queue and the Accept / Resolve / Reply /
Hand-over buttons under every request card."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.actions import render
from bot.callbacks import ReassignCb, StaffRequestCb
from bot.channels import Messengers
from bot.courier import BotCourier
from bot.filters import IsStaff, staff_only
from bot.keyboards import Keyboard
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Translator, local_time
from concierge.access import client_chat
from concierge.catalogue import ServiceCatalogue
from concierge.notify import Notifier
from concierge.request_access import Desk, for_staff
from concierge.request_messages import staff_card
from concierge.request_queue import manager_queue
from concierge.requests import accept_request, reassign_request, resolve_request
from crm_adapter.dto import Role, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import ask_for_text, reply
from handlers.request_common import comment_from_message

router = staff_only(Router(name="staff_requests"))


class StaffReply(StatesGroup):
    text = State()


async def _may_act(
    uow: SqlUnitOfWork,
    notifier: Notifier,
    clock: Clock,
    staff: Staff,
    request_id: int,
    action: str,
) -> None:
    """Refuses (audited, raised) unless `staff` may still act on the open request."""
    desk = Desk.of(notifier, clock)
    await for_staff(uow, desk, staff=staff, request_id=request_id, action=action, open_only=True)


@router.message(Command("requests"), IsStaff())
async def queue(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    t: Translator,
    clock: Clock,
    service_catalogue: ServiceCatalogue,
) -> None:
    assert message.bot is not None
    items = await manager_queue(uow, clock, staff=staff)
    if not items:
        await message.answer(t("requests.queue_empty"))
        return
    lines, kb = [t("requests.queue_title")], Keyboard()
    for item in items:
        r, service = item.request, service_catalogue.get(item.request.service_code)
        lines.append(
            t(
                "requests.queue_item",
                mark="🔴 " if item.overdue else "",
                id=r.id,
                client=item.client.full_name,
                service=service.title(t.language) if service else r.service_code,
                status=t(f"requests.status.{r.status.value}"),
                due=local_time(r.deadline, staff.timezone),
            )
        )
        kb.button(text=f"#{r.id}", callback_data=StaffRequestCb(action="open", request_id=r.id))
    kb.adjust(4)
    await send_long(message.bot, message.chat.id, "\n".join(lines), reply_markup=kb.as_markup())


@router.callback_query(StaffRequestCb.filter(F.action == "open"), IsStaff())
async def open_card(
    query: CallbackQuery,
    callback_data: StaffRequestCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    desk = Desk.of(notifier, clock)
    request = await for_staff(
        uow,
        desk,
        staff=staff,
        request_id=callback_data.request_id,
        action="view",
        open_only=False,
    )
    await query.answer()
    card = await staff_card(uow, desk, request, staff)
    await reply(query, card.text, reply_markup=render(card.actions))


@router.callback_query(StaffRequestCb.filter(F.action.in_({"accept", "resolve"})), IsStaff())
async def accept_or_resolve(
    query: CallbackQuery,
    callback_data: StaffRequestCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    use_case = accept_request if callback_data.action == "accept" else resolve_request
    request = await use_case(
        uow, notifier, clock, staff=staff, request_id=callback_data.request_id
    )
    await query.answer()
    key = (
        "requests.accepted_staff"
        if callback_data.action == "accept"
        else "requests.resolved_staff"
    )
    await reply(query, t(key, id=request.id))


@router.callback_query(StaffRequestCb.filter(F.action == "reply"), IsStaff())
async def reply_prompt(
    query: CallbackQuery,
    callback_data: StaffRequestCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    state: FSMContext,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    await _may_act(uow, notifier, clock, staff, callback_data.request_id, "reply")
    await ask_for_text(
        query,
        state,
        StaffReply.text,
        t("requests.reply_prompt", id=callback_data.request_id),
        request_id=callback_data.request_id,
    )


@router.message(StaffReply.text, IsStaff(), F.text | F.document)
async def reply_received(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    state: FSMContext,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
    messengers: Messengers,
) -> None:
    request = await comment_from_message(message, state, uow, notifier, clock, staff=staff)
    link = await client_chat(uow, request.client_id) if message.document else None
    if link is not None:
        # The notifier carries text; the document itself is copied as it was sent (or sent
        # again through the bot of the client's messenger when that is not this one).
        await BotCourier(messengers, message).copy(
            to=link, from_chat_id=message.chat.id, message_id=message.message_id
        )
    await message.answer(t("requests.comment_sent"))


@router.callback_query(StaffRequestCb.filter(F.action == "reassign"), IsStaff())
async def reassign_choose(
    query: CallbackQuery,
    callback_data: StaffRequestCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    await _may_act(uow, notifier, clock, staff, callback_data.request_id, "reassign")
    kb = Keyboard()
    for person in await uow.staff.with_role(Role.MANAGER):
        if person.id != staff.id:
            kb.button(
                text=person.full_name,
                callback_data=ReassignCb(request_id=callback_data.request_id, staff_id=person.id),
            )
    kb.adjust(1)
    await query.answer()
    await reply(
        query,
        t("requests.reassign_choose", id=callback_data.request_id),
        reply_markup=kb.as_markup(),
    )


@router.callback_query(ReassignCb.filter(), IsStaff())
async def reassign(
    query: CallbackQuery,
    callback_data: ReassignCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    await reassign_request(
        uow,
        notifier,
        clock,
        staff=staff,
        request_id=callback_data.request_id,
        to_staff_id=callback_data.staff_id,
    )
    target = await uow.staff.get(callback_data.staff_id)
    await query.answer()
    await reply(
        query,
        t(
            "requests.reassign_done",
            id=callback_data.request_id,
            staff=target.full_name if target else "—",
        ),
    )
