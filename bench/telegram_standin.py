"""A local stand-in for the Telegram Bot API that enforces flood limits and counts deliveries.

It implements just enough of `sendMessage` / `sendDocument` for aiogram: a global limit
(sliding one-second window) and a per-chat interval answered with 429 + retry_after, a share
of random 5xx answered *before* accepting the message, chats that "blocked the bot" (403), and
a count of accepted messages per idempotency key (read from `ref=<key>` in the text) so
duplicates and losses can be measured.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KEY_PATTERN = re.compile(r"ref=([\w:.\-]+)")


@dataclass
class StandInStats:
    accepted: Counter[str] = field(default_factory=Counter)
    accepted_total: int = 0
    too_many_requests: int = 0
    server_errors: int = 0
    forbidden: int = 0
    texts: list[tuple[int, str]] = field(default_factory=list)


class TelegramStandIn:
    """Run with `async with TelegramStandIn(...) as api:`; `api.base_url` for aiogram."""

    def __init__(
        self,
        *,
        global_per_second: int = 30,
        per_chat_interval: float = 1.0,
        error_rate: float = 0.0,
        blocked_chats: set[int] | None = None,
        retry_after: int = 1,
        seed: int = 7,
        keep_texts: bool = False,
    ) -> None:
        self.global_per_second = global_per_second
        self.per_chat_interval = per_chat_interval
        self.error_rate = error_rate
        self.blocked_chats = blocked_chats or set()
        self.retry_after = retry_after
        self.stats = StandInStats()
        self._keep_texts = keep_texts
        self._random = random.Random(seed)
        self._window: deque[float] = deque()
        self._last_by_chat: dict[int, float] = {}
        self._next_message_id = 1
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Tests set this to pause inside a request (to crash a worker mid-send).
        self.hold: asyncio.Event | None = None
        self.received: asyncio.Event = asyncio.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> TelegramStandIn:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        form = await request.post()
        if method not in {"sendmessage", "senddocument"}:
            return _error(404, "Not Found: method not found")
        chat_id = int(str(form.get("chat_id")))
        text = str(form.get("text") or form.get("caption") or "")
        if self._random.random() < self.error_rate:
            self.stats.server_errors += 1
            return _error(500, "Internal Server Error")
        now = time.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        last = self._last_by_chat.get(chat_id)
        if len(self._window) >= self.global_per_second or (
            last is not None and now - last < self.per_chat_interval
        ):
            self.stats.too_many_requests += 1
            return _error(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                parameters={"retry_after": self.retry_after},
            )
        if chat_id in self.blocked_chats:
            self.stats.forbidden += 1
            return _error(403, "Forbidden: bot was blocked by the user")
        self._window.append(now)
        self._last_by_chat[chat_id] = now
        match = KEY_PATTERN.search(text)
        self.stats.accepted[match.group(1) if match else f"nokey:{chat_id}:{text}"] += 1
        self.stats.accepted_total += 1
        if self._keep_texts:
            self.stats.texts.append((chat_id, text))
        message_id = self._next_message_id
        self._next_message_id += 1
        self.received.set()
        if self.hold is not None:
            await self.hold.wait()
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }
        return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description, **extra}, status=code
    )
