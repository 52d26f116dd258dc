"""Logs every outgoing Bot API call as an interaction, at the session level so none is missed."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InlineKeyboardMarkup

from bot.channels import messenger_of
from common.clock import Clock
from crm_adapter.port import ChatKey, Crm, Owner

log = logging.getLogger(__name__)

# While an update is being handled its unit of work may hold SQLite's single write lock;
# logging a reply in a second transaction would then wait on it forever. Replies sent during
# an update are therefore collected here and written by the update middleware right after
# the handler's transaction ends (successful or not).
_captured: ContextVar[list[dict[str, Any]] | None] = ContextVar("captured_outbound", default=None)


# The outbox's delivery worker records each message it delivers itself, with its outbox id,
# in the transaction that marks it sent; logged here as well, it would be in the interaction
# log (and the bank's CRM timeline) twice.
_logged_by_caller: ContextVar[bool] = ContextVar("logged_by_caller", default=False)


@contextmanager
def logged_by_caller() -> Iterator[None]:
    """Calls made inside are not logged when they succeed (a failure still is): the caller
    records what it delivered."""
    token = _logged_by_caller.set(True)
    try:
        yield
    finally:
        _logged_by_caller.reset(token)


def begin_capture() -> Token[list[dict[str, Any]] | None]:
    return _captured.set([])


def end_capture(token: Token[list[dict[str, Any]] | None]) -> list[dict[str, Any]]:
    records = _captured.get() or []
    _captured.reset(token)
    return records


async def write_records(
    crm: Crm,
    records: list[dict[str, Any]],
    *,
    default_chat_id: int | None = None,
    known_owners: Mapping[ChatKey, Owner] | None = None,
) -> None:
    """Logs captured outbound calls through the CRM's ledger, in one transaction.

    Calls without a chat (answering a button press) belong to the chat of the update.
    `known_owners` ((messenger, chat) -> client id, staff id) spares a look-up the caller
    already made.
    """
    if not records:
        return
    rows = [r if r["chat_id"] is not None else {**r, "chat_id": default_chat_id} for r in records]
    await crm.ledger.log_replies(rows, known_owners=known_owners or {})


# Calls that put something in front of a person; the rest (getMe, webhook set-up) are plumbing.
LOGGED_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendVideo",
        "sendVoice",
        "sendAudio",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "sendLocation",
        "sendContact",
    }
)


def _method_name(method: TelegramMethod[Any]) -> str:
    return str(method.__api_method__)


def _summary(method: TelegramMethod[Any]) -> tuple[int | None, str | None, dict[str, Any]]:
    # Attribute access, not model_dump: unsent fields hold aiogram's Default sentinels.
    chat_id = getattr(method, "chat_id", None)
    text = getattr(method, "text", None) or getattr(method, "caption", None)
    payload: dict[str, Any] = {"method": _method_name(method)}
    markup = getattr(method, "reply_markup", None)
    if isinstance(markup, InlineKeyboardMarkup):
        payload["buttons"] = [
            [b.callback_data or b.url for b in row] for row in markup.inline_keyboard
        ]
    for key in ("message_id", "callback_query_id", "from_chat_id", "show_alert"):
        value = getattr(method, key, None)
        if isinstance(value, int | str | bool):
            payload[key] = value
    if getattr(method, "document", None) is not None:
        payload["document"] = True
    return (
        (chat_id if isinstance(chat_id, int) else None),
        (text if isinstance(text, str) else None),
        payload,
    )


class InteractionLogRequestMiddleware(BaseRequestMiddleware):
    """Records each delivered (or failed) outgoing call; never blocks or breaks the send."""

    def __init__(self, crm: Crm, clock: Clock) -> None:
        self.crm = crm
        self.clock = clock

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if _method_name(method) not in LOGGED_METHODS:
            return await make_request(bot, method)
        messenger = messenger_of(bot)
        try:
            response = await make_request(bot, method)
        except TelegramAPIError as exc:
            await self._record(method, messenger, error=type(exc).__name__)
            raise
        if not _logged_by_caller.get():
            await self._record(method, messenger, error=None)
        return response

    async def _record(
        self, method: TelegramMethod[Any], messenger: str, *, error: str | None
    ) -> None:
        chat_id, text, payload = _summary(method)
        if error:
            payload["error"] = error
        record = {
            "occurred_at": self.clock.now(),
            "kind": "delivery_failed" if error else "message",
            "chat_id": chat_id,
            "text": text,
            "payload": payload,
            "messenger": messenger,
        }
        captured = _captured.get()
        if captured is not None:
            captured.append(record)
            return
        try:
            await write_records(self.crm, [record])
        except Exception:
            # The person already has the message; losing the log line must not turn into
            # an error for them. It is reported loudly instead.
            log.exception("could not log outgoing %s", payload.get("method"))
