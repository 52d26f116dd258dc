"""The manager workspace in the chat: /clients, the client card, /brief, /note, /portfolio."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.filters import IsStaff, staff_only
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Catalog, Translator
from concierge.access import open_client
from concierge.briefing import ProductFacts, prepare_briefing
from concierge.briefing_render import render
from concierge.identity import Identity
from concierge.insights.rules import InsightRules
from concierge.portfolio_chart import draw_portfolio_chart
from concierge.workspace import (
    Resolution,
    add_note,
    overview,
    portfolio,
    resolve_client,
    search_visible,
    view_client,
)
from crm_adapter.dto import Role, Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply
from handlers.manager_render import (
    ClientCb,
    card_keyboard,
    card_text,
    matches_list,
    overview_text,
    portfolio_list,
)

router = staff_only(Router(name="manager"))
WORKSPACE = IsStaff(Role.MANAGER, Role.ADMIN)
COMMANDS = ("clients", "brief", "note", "portfolio", "history")


class NoteStates(StatesGroup):
    text = State()


@router.message(Command("clients"), WORKSPACE)
async def clients_command(
    message: Message,
    command: CommandObject,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    insight_rules: InsightRules | None = None,
) -> None:
    query = (command.args or "").strip()
    if not query:
        entries = await portfolio(uow, clock=clock, staff=staff, rules=insight_rules)
        if not entries:
            await message.answer(t("manager.portfolio_empty"))
            return
        await message.answer(
            t("manager.clients_title", count=len(entries)) + "\n" + t("manager.flags_legend"),
            reply_markup=portfolio_list(entries, t),
        )
        return
    matches = await search_visible(uow, clock=clock, staff=staff, query=query)
    if not matches:
        await message.answer(t("manager.clients_none", query=query))
        return
    await message.answer(
        t("manager.clients_found", query=query, count=len(matches)),
        reply_markup=matches_list(matches, t),
    )


@router.callback_query(ClientCb.filter(F.action == "card"), WORKSPACE)
async def card_pressed(
    query: CallbackQuery,
    callback_data: ClientCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    insight_rules: InsightRules | None = None,
) -> None:
    await query.answer()
    view = await view_client(
        uow,
        clock=clock,
        staff=staff,
        client_id=callback_data.client_id,
        rules=insight_rules,
    )
    if view is None:
        await reply(query, t("manager.denied"))
        return
    await reply(query, card_text(view, t, catalog), reply_markup=card_keyboard(view.client.id, t))


async def client_named(
    message: Message,
    query: str,
    *,
    usage: str,
    uow: SqlUnitOfWork,
    clock: Clock,
    staff: Staff,
    t: Translator,
    action: str,
) -> int | None:
    """The one client `query` (a command's argument) names among those `staff` may see;
    otherwise the person is told why (no name: the command's `usage`; several, none, or not
    theirs) and None comes back."""
    if not query:
        await message.answer(t(usage))
        return None
    resolution = await resolve_client(uow, clock=clock, staff=staff, query=query, action=action)
    if await unresolved(message, resolution, query, t):
        return None
    return resolution.client_id


async def unresolved(message: Message, resolution: Resolution, query: str, t: Translator) -> bool:
    """Answers when the name did not lead to exactly one client; True if it did not."""
    if resolution.client_id is not None:
        return False
    if resolution.candidates:
        await message.answer(
            t("manager.ambiguous", query=query),
            reply_markup=matches_list(resolution.candidates, t),
        )
    elif resolution.denied:
        await message.answer(t("manager.denied"))
    else:
        await message.answer(t("manager.clients_none", query=query))
    return True


async def _send_briefing(
    bot: Bot,
    chat_id: int,
    *,
    uow: SqlUnitOfWork,
    clock: Clock,
    staff: Staff,
    client_id: int,
    t: Translator,
    catalog: Catalog,
    facts: ProductFacts | None,
    rules: InsightRules | None,
) -> None:
    briefing = await prepare_briefing(
        uow,
        clock=clock,
        staff=staff,
        client_id=client_id,
        language=t.language,
        facts=facts,
        rules=rules,
    )
    if briefing is None:
        await bot.send_message(chat_id, t("manager.denied"))
        return
    await send_long(bot, chat_id, render(briefing, catalog))
    document = render(briefing, catalog, markdown=True).encode("utf-8")
    await bot.send_document(
        chat_id,
        BufferedInputFile(document, filename=briefing.file_name),
        caption=t("manager.brief_document_caption", name=briefing.profile.client.full_name),
    )


@router.message(Command("brief"), WORKSPACE)
async def brief_command(
    message: Message,
    command: CommandObject,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    bot: Bot,
    product_facts: ProductFacts | None = None,
    insight_rules: InsightRules | None = None,
) -> None:
    client_id = await client_named(
        message,
        (command.args or "").strip(),
        usage="manager.usage_brief",
        uow=uow,
        clock=clock,
        staff=staff,
        t=t,
        action="view_briefing",
    )
    if client_id is None:
        return
    await _send_briefing(
        bot,
        message.chat.id,
        uow=uow,
        clock=clock,
        staff=staff,
        client_id=client_id,
        t=t,
        catalog=catalog,
        facts=product_facts,
        rules=insight_rules,
    )


@router.callback_query(ClientCb.filter(F.action == "brief"), WORKSPACE)
async def brief_pressed(
    query: CallbackQuery,
    callback_data: ClientCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    catalog: Catalog,
    bot: Bot,
    product_facts: ProductFacts | None = None,
    insight_rules: InsightRules | None = None,
) -> None:
    await query.answer()
    await _send_briefing(
        bot,
        query.from_user.id,
        uow=uow,
        clock=clock,
        staff=staff,
        client_id=callback_data.client_id,
        t=t,
        catalog=catalog,
        facts=product_facts,
        rules=insight_rules,
    )


@router.message(Command("note"), WORKSPACE)
async def note_command(
    message: Message,
    command: CommandObject,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    parts = (command.args or "").split(maxsplit=1)
    if len(parts) < 2:
        await message.answer(t("manager.usage_note"))
        return
    query, text = parts
    client_id = await client_named(
        message,
        query,
        usage="manager.usage_note",
        uow=uow,
        clock=clock,
        staff=staff,
        t=t,
        action="add_note",
    )
    if client_id is not None:
        await _save_note(message, uow, clock, staff, client_id, text, t)


async def _save_note(
    message: Message,
    uow: SqlUnitOfWork,
    clock: Clock,
    staff: Staff,
    client_id: int,
    text: str,
    t: Translator,
) -> None:
    if not text.strip():
        await message.answer(t("manager.note_empty"))
        return
    note = await add_note(uow, clock=clock, staff=staff, client_id=client_id, text=text)
    if note is None:
        await message.answer(t("manager.denied"))
        return
    client = await uow.clients.get(client_id)
    await message.answer(t("manager.note_saved", name=client.full_name if client else ""))


@router.callback_query(ClientCb.filter(F.action == "note"), WORKSPACE)
async def note_pressed(
    query: CallbackQuery,
    callback_data: ClientCb,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    state: FSMContext,
) -> None:
    await query.answer()
    client = await open_client(
        uow,
        clock=clock,
        staff=staff,
        client_id=callback_data.client_id,
        action="note_prompt",
    )
    if client is None:
        await reply(query, t("manager.denied"))
        return
    await state.set_state(NoteStates.text)
    await state.update_data(client_id=client.id)
    await reply(query, t("manager.note_prompt", name=client.full_name))


@router.message(Command("portfolio"), WORKSPACE)
async def portfolio_command(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    bot: Bot,
    insight_rules: InsightRules | None = None,
) -> None:
    entries = await portfolio(uow, clock=clock, staff=staff, rules=insight_rules)
    if not entries:
        await message.answer(t("manager.portfolio_empty"))
        return
    summary = overview(entries)
    await message.answer(overview_text(summary, t))
    png = await draw_portfolio_chart(summary, t)
    await bot.send_photo(
        message.chat.id,
        BufferedInputFile(png, filename="portfolio.png"),
        caption=t("manager.portfolio_chart_caption"),
    )


@router.message(NoteStates.text, Command("cancel"))
async def note_cancelled(message: Message, state: FSMContext, t: Translator) -> None:
    await state.clear()
    await message.answer(t("manager.note_cancelled"))


# After the commands on purpose: a command typed while a note is pending still works.
@router.message(NoteStates.text, F.text, ~F.text.startswith("/"), WORKSPACE)
async def note_text(
    message: Message,
    staff: Staff,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    await state.clear()
    client_id = data.get("client_id")
    if not isinstance(client_id, int):
        await message.answer(t("manager.usage_note"))
        return
    await _save_note(message, uow, clock, staff, client_id, message.text or "", t)


# Coordinators and the duty desk reach clients through events and requests only.
@router.message(Command(*COMMANDS), IsStaff())
async def workspace_refused(
    message: Message, identity: Identity, uow: SqlUnitOfWork, clock: Clock, t: Translator
) -> None:
    await uow.audit.record(
        now=clock.now(),
        action="workspace",
        outcome="denied",
        actor_staff_id=identity.staff_id,
        details={"command": (message.text or "").split(maxsplit=1)[0][:32]},
    )
    await message.answer(t("manager.staff_only"))


@router.callback_query(ClientCb.filter(), IsStaff())
async def client_button_refused(
    query: CallbackQuery,
    callback_data: ClientCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
) -> None:
    # A forged id may name no client at all; the audit row must still be writable.
    client = await uow.clients.get(callback_data.client_id)
    await uow.audit.record(
        now=clock.now(),
        action=f"client_{callback_data.action}",
        outcome="denied",
        actor_staff_id=identity.staff_id,
        subject_client_id=client.id if client else None,
        details={"client_id": callback_data.client_id},
    )
    await query.answer(t("manager.staff_only"), show_alert=True)
