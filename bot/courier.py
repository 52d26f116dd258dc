"""The relay's courier on the Bot API: sends and copies messages, returning their ids."""

from __future__ import annotations

from aiogram import Bot


class BotCourier:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str) -> int:
        return (await self.bot.send_message(chat_id, text)).message_id

    async def copy(self, *, to_chat_id: int, from_chat_id: int, message_id: int) -> int:
        # copy_message keeps photos and documents without the "forwarded from" header.
        copied = await self.bot.copy_message(to_chat_id, from_chat_id, message_id)
        return copied.message_id
