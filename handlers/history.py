"""A client's conversation as staff read it back: one timeline across Telegram and MAX.

Reached from the client card's button or `/history CLIENT`; who may see which client is the
workspace's rule (`concierge.access`), and every view is audited by the use case.
"""

from __future__ import annotations

import html
import re
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.channels import MESSENGER_NAMES
from bot.filters import staff_only
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Raw, Translator
from concierge.conversation import ClientHistory, conversation_history, sent_file
from crm_adapter.dto import Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.manager import WORKSPACE, client_named
from handlers.manager_render import ClientCb

router = staff_only(Router(name="history"))

_TAG = re.compile(r"<[^>]+>")
# A line shows the start of a message; the whole stays in the CRM.
LINE_TEXT_LIMIT = 300


def history_text(history: ClientHistory, t: Translator, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    lines = [t("manager.history.title", name=history.client.full_name)]
    for item in history.lines:
        plain = html.unescape(_TAG.sub("", item.text or "")).strip()
        if len(plain) > LINE_TEXT_LIMIT:
            plain = plain[: LINE_TEXT_LIMIT - 1] + "…"
        text: str | Raw = plain
        file = sent_file(item)
        if file is not None:
            # The file's kind in words, with its caption if it had one (escaped by `t`).
            label = t(f"manager.history.file.{file}")
            text = Raw(
                t("manager.history.file_caption", file=label, text=plain) if plain else label
            )
        lines.append(
            t(
                "manager.history.line",
                when=item.occurred_at.astimezone(zone).strftime("%d.%m %H:%M"),
                messenger=MESSENGER_NAMES.get(item.messenger or "", "—"),
                who=t(f"manager.history.{'client' if item.direction == 'in' else 'bank'}"),
                text=text,
            )
        )
    if not history.lines:
        lines.append(t("manager.history.empty"))
    return "\n".join(lines)


async def _send_history(
    bot: Bot,
    chat_id: int,
    *,
    uow: SqlUnitOfWork,
    clock: Clock,
    staff: Staff,
    client_id: int,
    t: Translator,
) -> None:
    history = await conversation_history(uow, clock=clock, staff=staff, client_id=client_id)
    if history is None:
        await bot.send_message(chat_id, t("manager.denied"))
        return
    await send_long(bot, chat_id, history_text(history, t, staff.timezone))


@router.message(Command("history"), WORKSPACE)
async def history_command(
    message: Message,
    command: CommandObject,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    bot: Bot,
) -> None:
    client_id = await client_named(
        message,
        (command.args or "").strip(),
        usage="manager.usage_history",
        uow=uow,
        clock=clock,
        staff=staff,
        t=t,
        action="find_history",
    )
    if client_id is not None:
        await _send_history(
            bot, message.chat.id, uow=uow, clock=clock, staff=staff, client_id=client_id, t=t
        )


@router.callback_query(ClientCb.filter(F.action == "history"), WORKSPACE)
async def history_pressed(
    query: CallbackQuery,
    callback_data: ClientCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    bot: Bot,
) -> None:
    await query.answer()
    await _send_history(
        bot,
        query.from_user.id,
        uow=uow,
        clock=clock,
        staff=staff,
        client_id=callback_data.client_id,
        t=t,
    )
