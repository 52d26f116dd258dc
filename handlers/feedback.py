"""Ratings of resolved requests, their optional comments, and NPS answers."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.callbacks import FeedbackCommentCb, NpsCb, RateCb
from bot.filters import IsClient
from bot.keyboards import Keyboard
from common.clock import Clock
from common.i18n import Translator
from concierge.feedback import comment_feedback, rate_request, record_nps
from concierge.notify import Notifier
from crm_adapter.dto import Client
from crm_adapter.sql import SqlUnitOfWork
from handlers.common import ask_for_text, reply, take_kept

router = Router(name="feedback")


class FeedbackComment(StatesGroup):
    text = State()


@router.callback_query(RateCb.filter(), IsClient(consent=True))
async def rate(
    query: CallbackQuery,
    callback_data: RateCb,
    client: Client,
    uow: SqlUnitOfWork,
    notifier: Notifier,
    clock: Clock,
    t: Translator,
) -> None:
    feedback = await rate_request(
        uow,
        notifier,
        clock,
        client=client,
        request_id=callback_data.request_id,
        score=callback_data.score,
    )
    kb = Keyboard()
    kb.button(
        text=t("feedback.btn.comment"), callback_data=FeedbackCommentCb(feedback_id=feedback.id)
    )
    await query.answer(t("feedback.thanks"))
    await reply(query, t("feedback.comment_offer"), reply_markup=kb.as_markup())


@router.callback_query(FeedbackCommentCb.filter(), IsClient(consent=True))
async def comment_prompt(
    query: CallbackQuery, callback_data: FeedbackCommentCb, state: FSMContext, t: Translator
) -> None:
    # Ownership is checked when the comment is saved, against the stored feedback.
    await ask_for_text(
        query,
        state,
        FeedbackComment.text,
        t("feedback.comment_prompt"),
        feedback_id=callback_data.feedback_id,
    )


@router.message(FeedbackComment.text, IsClient(consent=True), F.text, ~F.text.startswith("/"))
async def comment_received(
    message: Message,
    client: Client,
    uow: SqlUnitOfWork,
    state: FSMContext,
    notifier: Notifier,
    clock: Clock,
    t: Translator,
) -> None:
    feedback_id = await take_kept(state, "feedback_id")
    await comment_feedback(
        uow,
        notifier,
        clock,
        client=client,
        feedback_id=feedback_id,
        comment=(message.text or "")[:2000],
    )
    await message.answer(t("feedback.comment_thanks"))


@router.callback_query(NpsCb.filter(), IsClient(consent=True))
async def nps(
    query: CallbackQuery,
    callback_data: NpsCb,
    client: Client,
    uow: SqlUnitOfWork,
    notifier: Notifier,
    clock: Clock,
    t: Translator,
) -> None:
    await record_nps(
        uow,
        notifier,
        clock,
        client=client,
        period=callback_data.period,
        score=callback_data.score,
    )
    await query.answer()
    await reply(query, t("feedback.nps_thanks"))
