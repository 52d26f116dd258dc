"""Small helpers shared by the client-desk handlers: replies to a button and refusals."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.i18n import Translator
from bot.rendering import send_long
from concierge.requests import RequestRefused


async def reply(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answers a button press in the private chat (the pressed message may be too old)."""
    assert query.bot is not None
    await send_long(query.bot, query.from_user.id, text, reply_markup=reply_markup)


async def refuse(query: CallbackQuery, t: Translator, refused: RequestRefused) -> None:
    # The refusal is already audited by the use case; the handler returns normally so the
    # unit of work commits that audit row.
    await query.answer(t(f"requests.refused.{refused.reason.value}"), show_alert=True)
