"""Linking a messenger account by a one-time code, and the separate consent step."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.callbacks import ConsentCb
from bot.filters import IsClient
from bot.keyboards import client_menu, consent_keyboard
from common.clock import Clock
from common.i18n import Catalog, Translator
from common.settings import Settings
from concierge.consent import record_consent
from concierge.identity import Identity, PersonKind
from concierge.linking import LinkOutcome, record_reachability, redeem_link_code
from crm_adapter.dto import Client, Role
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply

router = Router(name="start")

_FAILURES = {
    LinkOutcome.INVALID: "start.code_invalid",
    LinkOutcome.EXPIRED: "start.code_expired",
    LinkOutcome.USED: "start.code_used",
}


def role_names(t: Translator, roles: frozenset[Role]) -> str:
    return ", ".join(t(f"menu.roles.{r.value}") for r in sorted(roles))


@router.message(CommandStart(deep_link=True))
async def start_with_code(
    message: Message,
    command: CommandObject,
    identity: Identity,
    uow: SqlUnitOfWork,
    clock: Clock,
    catalog: Catalog,
    settings: Settings,
) -> None:
    assert message.from_user is not None
    result = await redeem_link_code(
        uow,
        clock=clock,
        code=command.args or "",
        user_id=message.from_user.id,
        chat_id=message.chat.id,
        # The CRM's recorded language applies once the person is known.
        language=None,
        messenger=identity.messenger,
    )
    t = catalog.translator(identity.language)
    if result.outcome is not LinkOutcome.LINKED or result.link is None:
        await message.answer(t(_FAILURES[result.outcome]))
        return
    if result.link.client_id is not None:
        client = await uow.clients.get(result.link.client_id)
        assert client is not None
        t = catalog.translator(client.language)
        manager = await uow.staff.get(client.manager_id) if client.manager_id else None
        await message.answer(
            t(
                "start.linked_client",
                name=client.polite_name,
                manager=manager.full_name if manager else "—",
            )
        )
        consent = await uow.consents.current(client.id)
        if consent is None or not consent.active:
            await message.answer(
                t("start.consent_request", version=settings.behaviour.consent_document_version),
                reply_markup=consent_keyboard(t),
            )
        else:
            await message.answer(t("menu.title"), reply_markup=client_menu(t))
        return
    staff = await uow.staff.get(result.link.staff_id or 0)
    assert staff is not None
    t = catalog.translator(staff.language)
    await message.answer(
        t("start.linked_staff", name=staff.full_name, roles=role_names(t, staff.roles))
    )


@router.message(CommandStart())
async def start_plain(
    message: Message, identity: Identity, t: Translator, uow: SqlUnitOfWork, clock: Clock
) -> None:
    if identity.link is not None:
        # Start again after stopping the bot (how MAX says it): reachable here once more.
        await record_reachability(uow, clock=clock, link=identity.link, reachable=True)
    if identity.kind is PersonKind.UNKNOWN:
        await message.answer(t("start.unknown"))
    elif identity.kind is PersonKind.CLIENT and not identity.consent:
        await message.answer(t("start.consent_needed"))
    else:
        await message.answer(t("start.already_linked"))
        if identity.client is not None:
            await message.answer(t("menu.title"), reply_markup=client_menu(t))


@router.message(Command("consent"), IsClient())
async def ask_consent(
    message: Message, identity: Identity, t: Translator, settings: Settings
) -> None:
    if identity.consent:
        await message.answer(t("start.consent_already"))
        return
    await message.answer(
        t("start.consent_request", version=settings.behaviour.consent_document_version),
        reply_markup=consent_keyboard(t),
    )


@router.callback_query(ConsentCb.filter(), IsClient())
async def consent_answer(
    query: CallbackQuery,
    callback_data: ConsentCb,
    identity: Identity,
    client: Client,
    uow: SqlUnitOfWork,
    clock: Clock,
    t: Translator,
    settings: Settings,
) -> None:
    await query.answer()
    if identity.consent and callback_data.granted:
        await reply(query, t("start.consent_already"))
        return
    await record_consent(
        uow,
        clock=clock,
        client_id=client.id,
        granted=callback_data.granted,
        document_version=settings.behaviour.consent_document_version,
    )
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if callback_data.granted:
        await reply(query, t("start.consent_given"))
        await reply(query, t("menu.title"), reply_markup=client_menu(t))
    else:
        await reply(query, t("start.consent_declined"))
