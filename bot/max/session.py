"""The MAX transport: aiogram-max's session with what the bank's bot needs on top of it.

aiogram-max turns each aiogram method into MAX requests. This subclass settles, in one
place, what handlers cannot know about MAX (see README, "MAX"):

- private chats are addressed by the person's id (`POST /messages?user_id=`), matching the
  updates of `bot.max.updates`, where a dialog's chat id is the sender's id;
- MAX's HTTP errors become aiogram's exceptions (429 -> `TelegramRetryAfter`, 403 ->
  `TelegramForbiddenError`, ...), so the delivery worker, the notifier and the handlers treat
  both messengers alike;
- texts over MAX's limit are sent in parts, button labels are cut to MAX's limit, and
  keyboards MAX cannot show are dropped (logged) instead of failing the send;
- `copyMessage`, which MAX lacks, forwards the message;
- events are converted with the bot in context and their message ids remembered, for polling
  and for the webhook alike (`accept`).
"""

from __future__ import annotations

import json as json_module
import logging
import math
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

import httpx
from aiogram.client.default import Default
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    CopyMessage,
    EditMessageText,
    ForwardMessage,
    GetUpdates,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardMarkup, Message, MessageEntity, MessageId, Update
from aiogram_max import MAX_API_URL, MaxApiError, MaxSession

from bot.channels import text_limit
from bot.max.updates import sent_message, to_update
from bot.rendering import split_text
from crm_adapter.dto import Messenger

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

TEXT_LIMIT = text_limit(Messenger.MAX.value)
# Button labels longer than this are refused by MAX (Button.text, maxLength 128).
BUTTON_TEXT_LIMIT = 128
# A 429 without Retry-After: wait this long (MAX documents 30 requests/s overall).
DEFAULT_RETRY_AFTER = 1


class MaxHttpError(MaxApiError):
    """A non-2xx answer of MAX with what the error mapping needs from it."""

    def __init__(self, status: int, body: str, *, retry_after: float | None = None) -> None:
        super().__init__(status, body)
        self.args = (f"MAX answered {status}: {body[:300]}",)
        self.retry_after = retry_after


class MaxUnreachable(MaxApiError):
    """MAX could not be reached (connection, timeout)."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, detail)
        self.args = (f"MAX unreachable: {detail}",)


class MaxTransport(MaxSession):
    """aiogram's Bot API session speaking MAX; `messenger` tells the bot layer so."""

    messenger = Messenger.MAX.value

    def __init__(
        self,
        token: str,
        *,
        api_url: str = MAX_API_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = 60.0,
    ) -> None:
        # Long polls wait up to the polling timeout (aiogram's default 10 s) before answering.
        super().__init__(
            token, api_url=api_url, client=client or httpx.AsyncClient(timeout=timeout)
        )

    # --- incoming ------------------------------------------------------------------------

    def accept(self, event: Mapping[str, Any], bot: Bot) -> Update | None:
        """One MAX event as an update bound to `bot` (None: not for the bank's bot). The ids
        of its messages are remembered so later edits and forwards find them."""
        self._remember_mid(dict(event))
        return to_update(event, bot)

    async def _get_updates(self, bot: Bot, method: GetUpdates) -> list[Update]:
        # MAX's own cursor (`marker`) moves the feed; aiogram's offset is our derived update
        # id (bot.max.updates) and means nothing to MAX, so it is not sent.
        params: dict[str, Any] = {}
        if method.timeout is not None:
            params["timeout"] = method.timeout
        if method.limit is not None:
            params["limit"] = method.limit
        if self._marker is not None:
            params["marker"] = self._marker
        data = await self._request("GET", "/updates", params=params)
        self._marker = data.get("marker", self._marker)
        updates = []
        for event in data.get("updates") or []:
            update = self.accept(event, bot)
            if update is not None:
                updates.append(update)
        return updates

    # --- outgoing ------------------------------------------------------------------------

    def _render_markup(
        self,
        bot: Bot,
        text: str | None,
        parse_mode: str | Default | None,
        entities: list[MessageEntity] | None,
    ) -> tuple[str, str | None]:
        # aiogram-max compares str(parse_mode) with "HTML"; aiogram's ParseMode is a (str,
        # Enum) whose str() is "ParseMode.HTML", so the bot's default HTML was taken for
        # MarkdownV2 and every tag escaped. The plain value goes on instead.
        mode: object = parse_mode
        if isinstance(parse_mode, Default):
            mode = bot.default[parse_mode.name]
        if isinstance(mode, Enum):
            mode = mode.value
        return super()._render_markup(bot, text, None if mode is None else str(mode), entities)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        method = _fitted(method)
        try:
            # aiogram-max dispatches by a table of its own functions, so the methods it maps
            # are replaced here rather than by overriding them.
            if isinstance(method, GetUpdates):
                return await self._get_updates(bot, method)
            if isinstance(method, SendMessage) and len(method.text) > TEXT_LIMIT:
                return await self._send_in_parts(bot, method)
            if isinstance(method, CopyMessage):
                return await self._copy(bot, method)
            return await super().make_request(bot, method, timeout)
        except MaxHttpError as error:
            raise _aiogram_error(method, error) from error
        except MaxUnreachable as error:
            raise TelegramNetworkError(method, str(error)) from error
        except MaxApiError as error:
            # Raised by aiogram-max itself: a message id it no longer knows, a file not ready.
            raise TelegramBadRequest(method, str(error)) from error

    async def _send_in_parts(self, bot: Bot, method: SendMessage) -> Message:
        parts = split_text(method.text, TEXT_LIMIT)
        sent: Message | None = None
        for number, part in enumerate(parts, 1):
            last = number == len(parts)
            piece = method.model_copy(
                update={"text": part, "reply_markup": method.reply_markup if last else None}
            )
            sent = await super().make_request(bot, piece)
        assert sent is not None
        return sent

    async def _copy(self, bot: Bot, method: CopyMessage) -> MessageId:
        """MAX has no copy: the message is forwarded (its files and text stay intact)."""
        forward = ForwardMessage(
            chat_id=method.chat_id, from_chat_id=method.from_chat_id, message_id=method.message_id
        )
        forwarded: Message = await super().make_request(bot, forward)
        return MessageId(message_id=forwarded.message_id)

    async def _post_message(
        self, chat_id: Any, payload: dict[str, Any], *, wait_attachment: bool = False
    ) -> Any:
        if wait_attachment:
            data = await self._send_when_attachment_ready(chat_id, payload)
        else:
            data = await self._request(
                "POST", "/messages", params={"chat_id": chat_id}, json=payload
            )
        raw = data.get("message") or {}
        self._remember_mid({"message": raw})
        # As the person's chat sees it: the dialog is known by the person's id.
        return Message.model_validate(sent_message(raw, int(chat_id)))

    async def _request(
        self,
        http_method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if http_method == "POST" and path == "/messages" and params and "chat_id" in params:
            # A private chat's id is the person's (bot.max.updates): MAX sends it to them.
            params = dict(params)
            params["user_id"] = params.pop("chat_id")
        status, retry_after, content = await self._exchange(http_method, path, params, json)
        if status >= 400:
            raise MaxHttpError(
                status,
                content.decode("utf-8", "replace"),
                retry_after=_retry_after(retry_after),
            )
        if not content:
            return {}
        data: dict[str, Any] = json_module.loads(content)
        return data

    async def _exchange(
        self,
        http_method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
    ) -> tuple[int, str | None, bytes]:
        """One HTTP exchange with MAX: (status, Retry-After, body). The only network call."""
        try:
            response = await self._client.request(
                http_method,
                f"{self._api_url}{path}",
                params=params,
                json=body,
                headers={"Authorization": self._token},
            )
        except httpx.TransportError as error:
            raise MaxUnreachable(f"{type(error).__name__} on {http_method} {path}") from error
        return response.status_code, response.headers.get("Retry-After"), response.content


def _retry_after(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:
        return None


def _aiogram_error(method: TelegramMethod[Any], error: MaxHttpError) -> TelegramAPIError:
    """MAX's answer as the aiogram exception a Telegram bot would have met."""
    status, detail = error.status, error.body[:300]
    if status == 429:
        wait = error.retry_after if error.retry_after is not None else DEFAULT_RETRY_AFTER
        return TelegramRetryAfter(method, detail, retry_after=max(1, math.ceil(wait)))
    if status == 401:
        return TelegramUnauthorizedError(method, detail)
    if status == 403 or (status == 404 and getattr(method, "chat_id", None) is not None):
        # The person stopped the bot (a suspended dialog) or is gone: nothing more goes there.
        return TelegramForbiddenError(method, detail)
    if status >= 500:
        return TelegramServerError(method, detail)
    return TelegramBadRequest(method, detail)


def _fitted(method: TelegramMethod[Any]) -> TelegramMethod[Any]:
    """The call within MAX's limits: label lengths, keyboards it can show, edit lengths."""
    changes: dict[str, Any] = {}
    markup = getattr(method, "reply_markup", None)
    if markup is not None and not isinstance(markup, InlineKeyboardMarkup):
        # Reply keyboards, their removal and force-reply have no MAX counterpart here.
        log.info("%s: %s dropped for MAX", type(method).__name__, type(markup).__name__)
        changes["reply_markup"] = None
    elif isinstance(markup, InlineKeyboardMarkup) and any(
        len(b.text) > BUTTON_TEXT_LIMIT for row in markup.inline_keyboard for b in row
    ):
        changes["reply_markup"] = InlineKeyboardMarkup(
            inline_keyboard=[
                [b.model_copy(update={"text": b.text[:BUTTON_TEXT_LIMIT]}) for b in row]
                for row in markup.inline_keyboard
            ]
        )
    if isinstance(method, EditMessageText) and method.text and len(method.text) > TEXT_LIMIT:
        # An edit cannot become two messages: the end is cut, visibly.
        changes["text"] = method.text[: TEXT_LIMIT - 1] + "…"
    return method.model_copy(update=changes) if changes else method
