"""The relay's courier: sends and copies messages in whichever messenger a person linked.

A client may write from MAX to a manager who works in Telegram. Within one messenger a file
is copied as it was sent; across messengers it is downloaded through the source bot and sent
again through the target's (neither messenger can copy from the other).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, Message

from bot.channels import messenger_of, text_limit
from bot.rendering import split_text
from concierge.courier import RecipientBlocked, RecipientUnreachable, Unreachable
from crm_adapter.dto import MessengerLink

log = logging.getLogger(__name__)


@contextmanager
def _failures_in_relay_terms() -> Iterator[None]:
    """The messenger's failures in the relay's words, so the use case passes the message on
    (MAX raises the same exceptions: `bot.max.session`): "the account refuses the bot" is
    for good, a network or server failure (or flood control) only for now, a refused send
    (a bad request) for this send."""
    try:
        yield
    except TelegramForbiddenError as exc:
        raise RecipientBlocked(type(exc).__name__) from exc
    except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
        # Passed on, not lost; the log keeps the kind of failure (never the chat or text).
        log.warning("relay delivery failed (%s); passing the message on", type(exc).__name__)
        raise RecipientUnreachable(Unreachable.FAILED, type(exc).__name__) from exc
    except (TelegramBadRequest, TelegramUnauthorizedError) as exc:
        # "chat not found", a file MAX has not processed, a revoked token: this send cannot
        # go, the message goes to the next in turn instead of ending in an error.
        log.warning("relay delivery refused (%s); passing the message on", type(exc).__name__)
        raise RecipientUnreachable(Unreachable.REJECTED, type(exc).__name__) from exc


class BotCourier:
    """`source`: the message of the current update (what `copy` copies)."""

    def __init__(self, bots: Mapping[str, Bot], source: Message) -> None:
        self.bots = bots
        self.source = source

    def _bot(self, messenger: str) -> Bot:
        bot = self.bots.get(messenger)
        if bot is None:
            # Linked in a messenger this process has no token for: a set-up error to see, and
            # the message goes to the person's other messenger or the next in turn.
            log.warning("no bot for %s in this process; passing the message on", messenger)
            raise RecipientUnreachable(Unreachable.NO_BOT, f"no bot for {messenger}")
        return bot

    async def send_text(self, to: MessengerLink, text: str) -> list[int]:
        # Relayed texts plus their header may pass the messenger's length limit.
        bot = self._bot(to.messenger)
        with _failures_in_relay_terms():
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
        with _failures_in_relay_terms():
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
