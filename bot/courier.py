"""The relay's courier on the Bot API: sends and copies messages, returning their ids."""

from __future__ import annotations

import html

from aiogram import Bot

from bot.rendering import split_text


class BotCourier:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str) -> list[int]:
        # Relayed texts plus their header may pass Telegram's 4096-character limit.
        return [
            (await self.bot.send_message(chat_id, part)).message_id for part in split_text(text)
        ]

    async def copy(
        self, *, to_chat_id: int, from_chat_id: int, message_id: int, caption: str | None = None
    ) -> int:
        # copy_message keeps photos and documents without the "forwarded from" header.
        if caption is None:
            copied = await self.bot.copy_message(to_chat_id, from_chat_id, message_id)
        else:
            copied = await self.bot.copy_message(
                to_chat_id, from_chat_id, message_id, caption=html.escape(caption)
            )
        return copied.message_id
