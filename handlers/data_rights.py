"""Staff side of 152-FZ requests: /export N and /erase N by the owner of data ticket N."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.callbacks import DataRightsCb
from bot.filters import IsStaff, staff_only
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.data_rights import (
    ERASURE_SERVICE,
    ConversationMemory,
    DataRightsRefused,
    erase_client,
    export_client,
)
from crm_adapter.dto import Role, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = staff_only(Router(name="data_rights"))
OWNERS = IsStaff(Role.MANAGER, Role.ADMIN)


def _ticket_number(command: CommandObject) -> int | None:
    args = (command.args or "").strip().lstrip("#")
    # A ticket number fits the database's integer; anything else is no ticket.
    return int(args) if args.isdigit() and len(args) <= 9 else None


@router.message(Command("export"), OWNERS)
async def export(
    message: Message,
    command: CommandObject,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
) -> None:
    request_id = _ticket_number(command)
    if request_id is None:
        await message.answer(t("privacy.usage_erase"))
        return
    try:
        result = await export_client(uow, clock, staff=staff, request_id=request_id, texts=catalog)
    except DataRightsRefused as refused:
        await message.answer(t(f"privacy.refused.{refused.reason.value}"))
        return
    await message.answer(
        t(
            "privacy.export_done",
            id=request_id,
            records=result.records,
            sections=result.sections,
            delivered=t("privacy.answer_yes" if result.delivered else "privacy.answer_no"),
        )
    )


@router.message(Command("erase"), OWNERS)
async def erase_prompt(
    message: Message, command: CommandObject, staff: Staff, uow: SqlUnitOfWork, t: Translator
) -> None:
    """Shows whom the ticket would erase and asks once more: it cannot be undone."""
    request_id = _ticket_number(command)
    request = await uow.requests.get(request_id) if request_id is not None else None
    if request_id is None or request is None or request.service_code != ERASURE_SERVICE:
        await message.answer(t("privacy.usage_erase"))
        return
    client = await uow.clients.get(request.client_id)
    kb = Keyboard()
    kb.button(
        text=t("privacy.btn.erase"),
        callback_data=DataRightsCb(action="erase", request_id=request_id),
    )
    await message.answer(
        t("privacy.erase_confirm", client=client.full_name if client else "—", id=request_id),
        reply_markup=kb.as_markup(),
    )


@router.callback_query(DataRightsCb.filter(F.action == "erase"), OWNERS)
async def erase(
    query: CallbackQuery,
    callback_data: DataRightsCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    conversation_memory: ConversationMemory | None = None,
) -> None:
    await query.answer()
    try:
        result = await erase_client(
            uow,
            clock,
            conversation_memory,
            staff=staff,
            request_id=callback_data.request_id,
            texts=catalog,
        )
    except DataRightsRefused as refused:
        await reply(query, t(f"privacy.refused.{refused.reason.value}"))
        return
    await reply(
        query,
        t(
            "privacy.erase_done",
            id=callback_data.request_id,
            rows=result.report.total(),
            confirmed=t("privacy.answer_yes" if result.confirmed else "privacy.answer_no"),
        ),
    )
