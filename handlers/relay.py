"""Talk to my manager: the client's relay mode and staff replies to relayed messages."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.callbacks import MenuCb, RelayCb
from bot.channels import Messengers
from bot.courier import BotCourier
from bot.filters import IsClient, IsStaff
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import Catalog, Translator, local_time
from common.settings import Settings
from concierge.identity import Identity
from concierge.notify import Notifier
from concierge.relay import relay_to_client, relay_to_manager
from crm_adapter.dto import Client, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = Router(name="relay")

_RELAYABLE = (F.text & ~F.text.startswith("/")) | F.photo | F.document


class Relay(StatesGroup):
    active = State()


@router.callback_query(MenuCb.filter(F.section == "manager"), IsClient(consent=True))
async def my_manager(
    query: CallbackQuery,
    client: Client,
    uow: SqlUnitOfWork,
    state: FSMContext,
    t: Translator,
) -> None:
    manager_id = client.manager_id
    manager = await uow.staff.get(manager_id) if manager_id else None
    await query.answer()
    await state.set_state(Relay.active)
    kb = Keyboard()
    kb.button(text=t("relay.btn.stop"), callback_data=RelayCb(action="stop"))
    text = t("relay.intro", manager=manager.full_name) if manager else t("relay.no_manager")
    await reply(query, text, reply_markup=kb.as_markup())


@router.callback_query(RelayCb.filter(F.action == "stop"), IsClient(consent=True))
async def stop(query: CallbackQuery, state: FSMContext, t: Translator) -> None:
    await state.clear()
    await query.answer()
    await reply(query, t("relay.stopped"))


@router.message(Relay.active, IsClient(consent=True), _RELAYABLE)
async def client_message(
    message: Message,
    identity: Identity,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    messengers: Messengers,
    notifier: Notifier,
) -> None:
    outcome = await relay_to_manager(
        uow,
        BotCourier(messengers, message),
        notifier,
        clock,
        client=client,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text or message.caption,
        has_media=message.text is None,
        texts=catalog,
        messenger=identity.messenger,
    )
    if outcome.request is not None:
        text = t(
            "relay.kept_as_request" if outcome.staff else "relay.kept_as_request_unassigned",
            id=outcome.request.id,
            staff=outcome.staff.full_name if outcome.staff else "",
            due=local_time(outcome.request.ack_due_at, client.timezone),
        )
        if not outcome.media_kept:
            text += "\n" + t("relay.attachment_not_sent")
        await message.answer(text)
        return
    assert outcome.staff is not None  # a message no one took live is kept in a request
    if outcome.stand_in and outcome.manager is not None:
        await message.answer(
            t(
                "relay.delivered_stand_in",
                manager=outcome.manager.full_name,
                staff=outcome.staff.full_name,
            )
        )
    else:
        await message.answer(t("relay.delivered", staff=outcome.staff.full_name))


@router.message(Relay.active, IsClient(consent=True), ~F.text.startswith("/"))
async def client_unsupported(message: Message, t: Translator) -> None:
    await message.answer(t("relay.unsupported"))


@router.message(IsStaff(), F.reply_to_message, _RELAYABLE)
async def staff_reply(
    message: Message,
    identity: Identity,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    messengers: Messengers,
    settings: Settings,
) -> None:
    assert message.reply_to_message is not None
    outcome = await relay_to_client(
        uow,
        BotCourier(messengers, message),
        clock,
        staff=staff,
        staff_chat_id=message.chat.id,
        reply_to_message_id=message.reply_to_message.message_id,
        message_id=message.message_id,
        text=message.text or message.caption,
        has_media=message.text is None,
        texts=catalog,
        messenger=identity.messenger,
        reply_window=timedelta(days=settings.behaviour.relay_reply_days),
    )
    if outcome is None:
        # Not a reply to a relayed client message: another feature may claim it.
        raise SkipHandler
    if outcome.client is None:
        assert outcome.refusal is not None
        await message.answer(
            t(
                f"relay.reply_refused.{outcome.refusal.value}",
                days=settings.behaviour.relay_reply_days,
            )
        )
        return
    await message.answer(t("relay.reply_sent", client=outcome.client.full_name))
