"""Small helpers shared by the handlers."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.rendering import send_long


async def reply(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answers a button press in the private chat (the pressed message may be too old)."""
    assert query.bot is not None
    await send_long(query.bot, query.from_user.id, text, reply_markup=reply_markup)
