"""Sending long texts safely: each messenger refuses messages over its own length."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.channels import TELEGRAM, messenger_of, text_limit

TELEGRAM_LIMIT = text_limit(TELEGRAM)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Splits at paragraph, then line, then word boundaries; never inside a word if avoidable."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


async def send_long(
    bot: Bot, chat_id: int, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Sends in parts; the keyboard goes with the last part so it stays under the text."""
    chunks = split_text(text, text_limit(messenger_of(bot)))
    for i, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id, chunk, reply_markup=reply_markup if i == len(chunks) - 1 else None
        )
