"""MAX's side of `bench.dispatch --channel max`: the workload as MAX events, MAX's API in-process.

Each update of the workload becomes the event MAX would send for it (`message_created`, or
`message_callback` with the pressed message), converted inside the measurement by the real
transport (`MaxTransport.accept`), as polling and the webhook do. Outgoing calls go through
the real transport too (aiogram-max's translation, our limits and error mapping, the request
body and the answer through JSON) up to its one HTTP exchange, which an in-process MAX API
answers; Telegram's side likewise stops where aiohttp would start (an in-process session,
which does not even serialise its calls).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.types import Update

from bot.max.session import MaxTransport

TOKEN = "bench-max-token"
API_URL = "http://max.bench.invalid"
BOT_USER = {"user_id": 9_100_000, "first_name": "Concierge", "is_bot": True}
FIRST_SEQ = 116_000_000_000_000_000


class InProcessMax:
    """Answers MAX's Bot API requests like MAX (and `bench.max_standin`) would, in-process."""

    def __init__(self) -> None:
        self._seq = itertools.count(FIRST_SEQ)
        self.requests = 0

    def respond(
        self, http_method: str, path: str, params: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        self.requests += 1
        if http_method == "POST" and path == "/messages":
            user_id = int(params["user_id"])
            seq = next(self._seq)
            message = {
                "sender": BOT_USER,
                "recipient": {"chat_id": user_id, "chat_type": "dialog", "user_id": user_id},
                "timestamp": int(time.time() * 1000),
                "body": {
                    "mid": f"mid.{seq:x}",
                    "seq": seq,
                    "text": body.get("text", ""),
                    "attachments": body.get("attachments") or [],
                },
            }
            return {"message": message}
        if path == "/me":
            return {**BOT_USER, "username": "concierge_bot"}
        return {"success": True}


class InProcessMaxTransport(MaxTransport):
    """The real MAX transport whose one HTTP exchange is answered in-process: everything of
    ours and of aiogram-max runs, the HTTP client does not (as on Telegram's side, where the
    in-process session stands where aiohttp would)."""

    def __init__(self, api: InProcessMax) -> None:
        super().__init__(TOKEN, api_url=API_URL)
        self.max_api = api

    async def _exchange(
        self,
        http_method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
    ) -> tuple[int, str | None, bytes]:
        # The request body as it would go on the wire, and the answer as it would come back.
        sent = json.loads(json.dumps(body)) if body is not None else {}
        answer = self.max_api.respond(http_method, path, params or {}, sent)
        return 200, None, json.dumps(answer).encode()


def max_session() -> tuple[MaxTransport, InProcessMax]:
    api = InProcessMax()
    return InProcessMaxTransport(api), api


def as_max_event(update: Update) -> dict[str, Any]:
    """The MAX event for a workload update (a person's message, or a press on a bot's one)."""
    if update.message is not None:
        message = update.message
        assert message.from_user is not None
        user = message.from_user
        return {
            "update_type": "message_created",
            "timestamp": int(message.date.timestamp() * 1000),
            "message": {
                "sender": {"user_id": user.id, "first_name": user.first_name, "is_bot": False},
                "recipient": {"chat_id": user.id, "chat_type": "dialog", "user_id": 9_100_000},
                "timestamp": int(message.date.timestamp() * 1000),
                "body": {
                    "mid": f"mid.in.{update.update_id}",
                    "seq": FIRST_SEQ - update.update_id,
                    "text": message.text,
                },
            },
            "user_locale": "ru",
        }
    query = update.callback_query
    assert query is not None
    person = {"user_id": query.from_user.id, "first_name": query.from_user.first_name}
    return {
        "update_type": "message_callback",
        "timestamp": int(time.time() * 1000),
        "callback": {
            "timestamp": int(time.time() * 1000),
            "callback_id": f"cb{update.update_id}",
            "payload": query.data,
            "user": {**person, "is_bot": False},
        },
        "message": {
            "sender": BOT_USER,
            "recipient": {
                "chat_id": query.from_user.id,
                "chat_type": "dialog",
                "user_id": query.from_user.id,
            },
            "timestamp": int(time.time() * 1000),
            "body": {"mid": f"mid.kb.{update.update_id}", "seq": update.update_id, "text": "…"},
        },
        "user_locale": "ru",
    }


def max_decoder(bot: Bot) -> Callable[[dict[str, Any], Bot], Update]:
    """How MAX's events become updates in production: the transport's `accept`."""
    transport = bot.session
    assert isinstance(transport, MaxTransport)

    def decode(raw: dict[str, Any], bound: Bot) -> Update:
        update = transport.accept(raw, bound)
        assert update is not None
        return update

    return decode
