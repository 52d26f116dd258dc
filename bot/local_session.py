"""A Bot API session that never leaves the process: the console and the tests drive the bot.

It answers each call the way Telegram would (a Message for a send, True for the rest), so the
dispatcher, the handlers and the session middlewares run exactly as in production.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    Chat,
    Document,
    File,
    Message,
    MessageId,
    PhotoSize,
    Sticker,
    User,
    Voice,
)

BOT_USER = User(id=42, is_bot=True, first_name="Concierge", username="vip_concierge_bot")

Sink = Callable[[TelegramMethod[Any], Any], None]


class LocalSession(BaseSession):
    """Fabricates Telegram's answers and hands every call to `sink` (printer or recorder)."""

    def __init__(self, sink: Sink | None = None, *, messenger: str = "telegram") -> None:
        super().__init__()
        self.sink = sink
        # Which messenger this session plays (`bot.channels.messenger_of` reads it).
        self.messenger = messenger
        self._message_ids = itertools.count(1000)
        # Messages as the person sees them, by (chat, message id), so edits can be shown.
        self.messages: dict[tuple[int, int], Message] = {}

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        result = self.fabricate(method)
        if self.sink is not None:
            self.sink(method, result)
        return result  # type: ignore[no-any-return]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        # A file's "content" names it, so a test can tell which file was passed on.
        yield f"content of {url.rsplit('/', 1)[-1]}".encode()

    def _message(self, chat_id: int, **fields: Any) -> Message:
        message = Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="private"),
            from_user=BOT_USER,
            **fields,
        )
        self.messages[(chat_id, message.message_id)] = message
        return message

    def fabricate(self, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, GetFile):
            return File(
                file_id=method.file_id, file_unique_id=method.file_id, file_path=method.file_id
            )
        if isinstance(method, SendMessage):
            return self._message(
                int(method.chat_id), text=method.text, reply_markup=method.reply_markup
            )
        if isinstance(method, SendDocument):
            return self._message(
                int(method.chat_id),
                caption=method.caption,
                document=Document(file_id=f"doc-{next(self._message_ids)}", file_unique_id="d"),
            )
        if isinstance(method, SendPhoto):
            return self._message(
                int(method.chat_id),
                caption=method.caption,
                photo=[PhotoSize(file_id="photo", file_unique_id="p", width=1, height=1)],
            )
        if isinstance(method, CopyMessage):
            return MessageId(message_id=next(self._message_ids))
        if isinstance(method, EditMessageText | EditMessageReplyMarkup):
            return True
        if isinstance(method, AnswerCallbackQuery):
            return True
        return True


def sample_content(kind: str) -> dict[str, Any] | None:
    """Message fields of a non-text message (photo, document, sticker, voice) people may send."""
    samples: dict[str, dict[str, Any]] = {
        "photo": {
            "photo": [PhotoSize(file_id="photo", file_unique_id="p", width=640, height=480)]
        },
        "document": {
            "document": Document(file_id="document", file_unique_id="d", file_name="scan.pdf")
        },
        "sticker": {
            "sticker": Sticker(
                file_id="sticker",
                file_unique_id="s",
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
            )
        },
        "voice": {"voice": Voice(file_id="voice", file_unique_id="v", duration=4)},
    }
    return samples.get(kind)
