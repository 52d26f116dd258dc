"""Free-text questions from clients, answered from the bank's documents with citations."""

from __future__ import annotations

import asyncio
import html

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.callbacks import SectionCb
from bot.filters import IsClient
from bot.keyboards import Keyboard
from bot.rendering import send_long
from common.clock import Clock
from common.i18n import Catalog, Translator
from common.settings import Settings
from concierge.identity import Identity
from concierge.notify import Notifier
from concierge.questions import answer_client_question
from crm_adapter.dto import Client
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import reply
from handlers.fallback import plain_text
from knowledge.answers import KnowledgeBase, document_ref, section_key_of

router = Router(name="questions")


@router.message(IsClient(consent=True), F.text, ~F.text.startswith("/"))
async def client_question(
    message: Message,
    identity: Identity,
    client: Client,
    uow: SqlUnitOfWork,
    t: Translator,
    catalog: Catalog,
    clock: Clock,
    notifier: Notifier,
    settings: Settings,
    knowledge: KnowledgeBase | None = None,
) -> None:
    text = message.text or ""
    if knowledge is None or len(text) > settings.behaviour.max_text_length:
        # Too long or no index: the catch-all's clear answers apply.
        await plain_text(message, identity, t, settings)
        return
    manager_t = catalog.translator("ru")
    outcome = await answer_client_question(
        uow,
        knowledge=knowledge,
        notifier=notifier,
        clock=clock,
        client=client,
        question=text,
        language=identity.language,
        interest_alert=lambda family, question: manager_t(
            "questions.interest_alert", client=client.full_name, family=family, question=question
        ),
    )
    answer = outcome.answer
    if outcome.handed_over is not None and answer.mode == "none":
        await message.answer(t("questions.handed_over"))
        return
    # The answer quotes the bank's documents: text, not markup. A model may echo the
    # placeholders it saw in the masked question: worded for the reader, as in any template.
    lines = [html.escape(t.localize_masks(answer.text), quote=False)]
    if answer.citations:
        lines += ["", t("questions.sources")]
        lines += [
            t("questions.source_line", title=c.title, section=c.section)
            for c in answer.citations[:3]
        ]
    if outcome.handed_over is not None:
        lines += ["", t("questions.handed_over")]
    buttons = Keyboard()
    for c in answer.citations[:3]:
        buttons.button(
            text=t("questions.show_section", section=c.section[:40]),
            callback_data=SectionCb(doc=document_ref(c.doc_id), key=section_key_of(c.section)),
        )
    buttons.adjust(1)
    assert message.bot is not None
    await send_long(
        message.bot,
        message.chat.id,
        "\n".join(lines),
        reply_markup=buttons.as_markup() if answer.citations else None,
    )


@router.callback_query(SectionCb.filter(), IsClient(consent=True))
async def show_section(
    query: CallbackQuery,
    callback_data: SectionCb,
    t: Translator,
    knowledge: KnowledgeBase | None = None,
) -> None:
    found = (
        await asyncio.to_thread(
            knowledge.full_section, callback_data.doc, callback_data.key, audience="client"
        )
        if knowledge
        else None
    )
    if found is None:
        await query.answer(t("errors.stale_button"), show_alert=True)
        return
    await query.answer()
    body = f"<b>{html.escape(found.title)} — {html.escape(found.section)}</b>\n\n"
    await reply(query, body + html.escape(found.section_text))
