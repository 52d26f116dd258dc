"""The relay's courier: sends and copies messages in whichever messenger a person linked.

A client may write from MAX to a manager who works in Telegram. Within one messenger a file
is copied as it was sent; across messengers it is downloaded through the source bot and sent
again through the target's (neither messenger can copy from the other).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import BufferedInputFile, Message

from bot.channels import messenger_of, text_limit
from bot.rendering import split_text
from concierge.relay import RecipientBlocked
from crm_adapter.dto import MessengerLink


@contextmanager
def _refusal_is_blocked() -> Iterator[None]:
    """The messenger's "the account refuses the bot" in the relay's words, so the use case
    passes the message on to the next person (MAX raises the same exception: `bot.max`)."""
    try:
        yield
    except TelegramForbiddenError as exc:
        raise RecipientBlocked(type(exc).__name__) from exc


class BotCourier:
    """`source`: the message of the current update (what `copy` copies)."""

    def __init__(self, bots: Mapping[str, Bot], source: Message) -> None:
        self.bots = bots
        self.source = source

    def _bot(self, messenger: str) -> Bot:
        bot = self.bots.get(messenger)
        if bot is None:
            # Linked in a messenger this process has no token for: a set-up error to see.
            raise LookupError(f"no bot for {messenger} in this process")
        return bot

    async def send_text(self, to: MessengerLink, text: str) -> list[int]:
        # Relayed texts plus their header may pass the messenger's length limit.
        bot = self._bot(to.messenger)
        with _refusal_is_blocked():
            return [
                (await bot.send_message(to.chat_id, part)).message_id
                for part in split_text(text, text_limit(to.messenger))
            ]

    async def copy(
        self,
        *,
        to: MessengerLink,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
    ) -> int:
        """Copies the current update's message; `caption`, when given, replaces its own."""
        source_bot = self.source.bot
        assert source_bot is not None
        target = self._bot(to.messenger)
        with _refusal_is_blocked():
            return await self._copy(source_bot, target, to, from_chat_id, message_id, caption)

    async def _copy(
        self,
        source_bot: Bot,
        target: Bot,
        to: MessengerLink,
        from_chat_id: int,
        message_id: int,
        caption: str | None,
    ) -> int:
        if messenger_of(source_bot) == to.messenger:
            # copy_message keeps photos and documents without the "forwarded from" header.
            if caption is None:
                copied = await target.copy_message(to.chat_id, from_chat_id, message_id)
            else:
                copied = await target.copy_message(
                    to.chat_id, from_chat_id, message_id, caption=html.escape(caption)
                )
            return copied.message_id
        return await self._transfer(source_bot, target, to.chat_id, caption)

    async def _transfer(
        self, source_bot: Bot, target: Bot, chat_id: int, caption: str | None
    ) -> int:
        message = self.source
        shown = html.escape(caption) if caption is not None else message.caption
        if message.photo:
            content = await source_bot.download(message.photo[-1].file_id)
            assert content is not None
            photo = BufferedInputFile(content.read(), filename="photo.jpg")
            return (await target.send_photo(chat_id, photo, caption=shown)).message_id
        if message.document is not None:
            content = await source_bot.download(message.document.file_id)
            assert content is not None
            name = message.document.file_name or "file"
            document = BufferedInputFile(content.read(), filename=name)
            return (await target.send_document(chat_id, document, caption=shown)).message_id
        raise ValueError(f"nothing to transfer in a {message.content_type} message")
