"""The catch-all router, included last: whatever no feature claimed gets a clear answer here.

It must stay last: its filters match everything, so any router after it would never run.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from common.clock import Clock
from common.i18n import Translator
from common.settings import Settings
from concierge.identity import Identity, PersonKind
from crm_adapter.sql import SqlUnitOfWork

router = Router(name="fallback")
log = logging.getLogger(__name__)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, identity: Identity, t: Translator) -> None:
    if identity.kind is PersonKind.UNKNOWN:
        await message.answer(t("start.unknown"))
        return
    await message.answer(t("errors.unknown_command"))


@router.message(F.text)
async def plain_text(
    message: Message, identity: Identity, t: Translator, settings: Settings
) -> None:
    text = message.text or ""
    if identity.kind is PersonKind.UNKNOWN:
        await message.answer(t("start.unknown"))
    elif len(text) > settings.behaviour.max_text_length:
        await message.answer(
            t("errors.too_long", length=len(text), limit=settings.behaviour.max_text_length)
        )
    elif identity.kind is PersonKind.CLIENT and not identity.consent:
        await message.answer(t("start.consent_needed"))
    elif identity.kind is PersonKind.CLIENT:
        await message.answer(t("menu.help_client"))
    else:
        # Staff write here to answer clients: say first that this text reached no one (it
        # replies to no relayed message), then what they can do.
        await message.answer(f"{t('relay.no_thread')}\n\n{t('menu.help_staff')}")


@router.message()
async def unsupported_content(message: Message, identity: Identity, t: Translator) -> None:
    log.info("unsupported content type %s", message.content_type)
    if identity.kind is PersonKind.UNKNOWN:
        await message.answer(t("start.unknown"))
        return
    await message.answer(t("errors.unsupported"))


@router.callback_query()
async def stale_or_forged_button(
    query: CallbackQuery, identity: Identity, uow: SqlUnitOfWork, clock: Clock, t: Translator
) -> None:
    # A button nobody claims is either from an old message or crafted by hand: refuse, audit.
    await uow.audit.record(
        now=clock.now(),
        action="callback_rejected",
        outcome="denied",
        actor_user_id=query.from_user.id,
        actor_client_id=identity.client_id,
        actor_staff_id=identity.staff_id,
        details={"data": (query.data or "")[:64]},
    )
    log.warning("rejected callback from user_id=%s", query.from_user.id)
    await query.answer(t("errors.stale_button"), show_alert=True)
