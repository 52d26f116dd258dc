"""The client's own requests: the list, one request, cancelling and commenting."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.callbacks import ClientRequestCb, MenuCb
from bot.filters import IsClient
from bot.keyboards import Keyboard, client_request_actions
from common.clock import Clock
from common.i18n import Translator, local_time
from concierge.catalogue import ServiceCatalogue
from concierge.notify import Notifier
from concierge.request_access import Desk, for_client
from concierge.request_queue import client_requests
from concierge.requests import cancel_request
from crm_adapter.dto import Client, ServiceRequest
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import ask_for_text, reply
from handlers.request_common import comment_from_message

router = Router(name="my_requests")


class ClientComment(StatesGroup):
    text = State()


def _line(t: Translator, r: ServiceRequest, client: Client, catalogue: ServiceCatalogue) -> str:
    service = catalogue.get(r.service_code)
    return t(
        "requests.list_item",
        id=r.id,
        service=service.title(t.language) if service else r.service_code,
        status=t(f"requests.status.{r.status.value}"),
        due=local_time(r.deadline, client.timezone),
    )


@router.callback_query(MenuCb.filter(F.section == "requests"), IsClient(consent=True))
async def my_requests(
    query: CallbackQuery,
    client: Client,
    uow: SqlUnitOfWork,
    t: Translator,
    service_catalogue: ServiceCatalogue,
) -> None:
    await query.answer()
    open_, past = await client_requests(uow, client_id=client.id)
    if not open_ and not past:
        await reply(query, t("requests.list_empty"))
        return
    lines = [t("requests.list_title")]
    for title, group in (("requests.list_open", open_), ("requests.list_past", past)):
        if group:
            lines += ["", t(title)]
            lines += [_line(t, r, client, service_catalogue) for r in group]
    kb = Keyboard()
    for r in open_:
        kb.button(text=f"#{r.id}", callback_data=ClientRequestCb(action="open", request_id=r.id))
    kb.adjust(4)
    await reply(query, "\n".join(lines), reply_markup=kb.as_markup() if open_ else None)


@router.callback_query(ClientRequestCb.filter(F.action == "open"), IsClient(consent=True))
async def open_request(
    query: CallbackQuery,
    callback_data: ClientRequestCb,
    client: Client,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
    service_catalogue: ServiceCatalogue,
) -> None:
    desk = Desk.of(notifier, clock, service_catalogue)
    request = await for_client(
        uow,
        desk,
        client=client,
        request_id=callback_data.request_id,
        action="view",
        open_only=False,
    )
    await query.answer()
    text = t(
        "requests.detail",
        id=request.id,
        service=desk.title(request.service_code, t.language),
        status=t(f"requests.status.{request.status.value}"),
        summary=request.summary,
        due=local_time(request.deadline, client.timezone),
    )
    keyboard = None if request.closed else client_request_actions(t, request.id)
    await reply(query, text, reply_markup=keyboard)


@router.callback_query(ClientRequestCb.filter(F.action == "cancel"), IsClient(consent=True))
async def cancel(
    query: CallbackQuery,
    callback_data: ClientRequestCb,
    client: Client,
    uow: SqlUnitOfWork,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    request = await cancel_request(
        uow, notifier, clock, client=client, request_id=callback_data.request_id
    )
    await query.answer()
    await reply(query, t("requests.cancelled_client", id=request.id))


@router.callback_query(ClientRequestCb.filter(F.action == "comment"), IsClient(consent=True))
async def comment_prompt(
    query: CallbackQuery,
    callback_data: ClientRequestCb,
    client: Client,
    uow: SqlUnitOfWork,
    state: FSMContext,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    await for_client(
        uow,
        Desk.of(notifier, clock),
        client=client,
        request_id=callback_data.request_id,
        action="comment",
        open_only=True,
    )
    await ask_for_text(
        query,
        state,
        ClientComment.text,
        t("requests.comment_prompt"),
        request_id=callback_data.request_id,
    )


@router.message(ClientComment.text, IsClient(consent=True), F.text | F.document)
async def comment_received(
    message: Message,
    client: Client,
    uow: SqlUnitOfWork,
    state: FSMContext,
    t: Translator,
    notifier: Notifier,
    clock: Clock,
) -> None:
    await comment_from_message(message, state, uow, notifier, clock, client=client)
    await message.answer(t("requests.comment_sent"))
