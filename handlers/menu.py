"""Main menu, help, language switch and the menu sections every client has from day one."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.callbacks import LanguageCb, MenuCb
from bot.filters import IsClient, IsStaff
from bot.keyboards import client_menu, language_keyboard
from common.i18n import LANGUAGES, Catalog, Translator
from concierge.identity import Identity, PersonKind
from crm_adapter.dto import Staff
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply
from handlers.start import role_names

router = Router(name="menu")


@router.message(Command("menu"), IsClient(consent=True))
async def client_menu_command(message: Message, state: FSMContext, t: Translator) -> None:
    # The menu is the way out of any half-finished wizard or conversation.
    await state.clear()
    await message.answer(t("menu.title"), reply_markup=client_menu(t))


@router.message(Command("menu"), IsStaff())
async def staff_menu_command(message: Message, staff: Staff, t: Translator) -> None:
    await message.answer(t("menu.staff_title", roles=role_names(t, staff.roles)))
    await message.answer(t("menu.help_staff"))


@router.message(Command("menu"), IsClient())
async def menu_without_consent(message: Message, t: Translator) -> None:
    await message.answer(t("start.consent_needed"))


@router.message(Command("help"))
async def help_command(message: Message, identity: Identity, t: Translator) -> None:
    key = {
        PersonKind.CLIENT: "menu.help_client",
        PersonKind.STAFF: "menu.help_staff",
        PersonKind.UNKNOWN: "menu.help_unknown",
    }[identity.kind]
    await message.answer(t(key))


@router.message(Command("language"))
async def language_command(message: Message, identity: Identity, t: Translator) -> None:
    await message.answer(t("menu.language_choose"), reply_markup=language_keyboard())


@router.callback_query(LanguageCb.filter(F.code.in_(LANGUAGES)))
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCb,
    identity: Identity,
    uow: SqlUnitOfWork,
    catalog: Catalog,
) -> None:
    # Unknown accounts have no link to store it on; they see the next replies in that language.
    if identity.link is not None:
        await uow.links.set_language(identity.link.id, callback_data.code)
    t = catalog.translator(callback_data.code)
    await query.answer(t("menu.language_set"))
    await reply(query, t("menu.language_set"))
    if identity.client is not None and identity.consent:
        await reply(query, t("menu.title"), reply_markup=client_menu(t))


@router.callback_query(MenuCb.filter(F.section == "ask"), IsClient(consent=True))
async def ask_prompt(query: CallbackQuery, state: FSMContext, t: Translator) -> None:
    # The prompt promises an answer from the documents: the next text must not go to a
    # half-finished wizard or to the manager of an open conversation, as it would in their
    # states.
    await state.clear()
    await query.answer()
    await reply(query, t("menu.ask_prompt"))
