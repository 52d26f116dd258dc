"""A local stand-in for the MAX Bot API, on loopback, for tests, benchmarks and demos by hand.

It answers the requests aiogram-max and our transport make (their shapes read from both
libraries and MAX's published schema): `GET /me`, `GET /updates` (long polling with
`marker`), `POST|PUT|DELETE /messages`, `POST /answers`, `/subscriptions`, `/uploads` with
the upload URL it hands out, chat actions, and downloads of the files people send. It checks
what MAX checks (the token, text and button lengths, callback answers with content), and can
answer like MAX under load or refusal: 429 over a requests-per-second limit, 403 for people
who stopped the bot, a share of 5xx.

People are played by `event_*` builders; an event is queued for polling or, once a webhook
is subscribed, posted to it with the subscription's secret. `python -m bench.max_standin`
runs it with a console to play MAX users by hand (see `bench.max_standin_console`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

BOT_USER_ID = 9_100_000
# Live MAX message sequence numbers are this large (aiogram-max's notes); so are ours.
FIRST_SEQ = 116_000_000_000_000_000
DIALOG_BASE = 5_000_000_000
TEXT_LIMIT = 4000
BUTTON_TEXT_LIMIT = 128
PAYLOAD_LIMIT = 1024


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    http_method: str
    path: str
    params: dict[str, str]
    body: Any


@dataclass
class Sent:
    """A message the bot sent (or edited), as MAX stores it."""

    mid: str
    seq: int
    user_id: int
    text: str
    attachments: list[dict[str, Any]]
    raw: dict[str, Any]

    def buttons(self) -> list[dict[str, Any]]:
        return [
            button
            for attachment in self.attachments
            if attachment.get("type") == "inline_keyboard"
            for row in (attachment.get("payload") or {}).get("buttons", [])
            for button in row
        ]


@dataclass
class Limits:
    per_second: int = 1000
    error_rate: float = 0.0
    retry_after: int = 1
    stopped_users: set[int] = field(default_factory=set)


class MaxStandIn:
    """Run with `async with MaxStandIn(token=...) as api:`; `api.base_url` for MAX_API_URL."""

    def __init__(self, *, token: str = "max-test-token", limits: Limits | None = None) -> None:
        self.token = token
        self.limits = limits or Limits()
        self.requests: list[Recorded] = []
        self.sent: list[Sent] = []
        self.by_mid: dict[str, Sent] = {}
        self.answers: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        # Messages people sent, by mid, as a forward may point at them.
        self.inbound: dict[str, dict[str, Any]] = {}
        self.too_many_requests = 0
        self.forbidden = 0
        self._seq = itertools.count(FIRST_SEQ)
        self._position = itertools.count(1)
        self._events: deque[tuple[int, dict[str, Any]]] = deque()
        self._new_event = asyncio.Event()
        self._window: deque[float] = deque()
        self._random = random.Random(7)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port = 0
        # Called with every message the bot sends (the console prints them).
        self.on_sent: list[Any] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> MaxStandIn:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> MaxStandIn:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- people's events ---------------------------------------------------------------

    @staticmethod
    def person(user_id: int, name: str = "Клиент") -> dict[str, Any]:
        return {"user_id": user_id, "first_name": name, "name": name, "is_bot": False}

    def dialog_of(self, user_id: int) -> int:
        return DIALOG_BASE + user_id

    def event_message(
        self,
        user: dict[str, Any],
        text: str | None = None,
        *,
        attachments: list[dict[str, Any]] | None = None,
        reply_to: Sent | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"mid": _mid(), "seq": next(self._seq)}
        if text is not None:
            body["text"] = text
        if attachments:
            body["attachments"] = attachments
        message: dict[str, Any] = {
            "sender": user,
            "recipient": {
                "chat_id": self.dialog_of(user["user_id"]),
                "chat_type": "dialog",
                "user_id": BOT_USER_ID,
            },
            "timestamp": _now_ms(),
            "body": body,
        }
        self.inbound[body["mid"]] = message
        if reply_to is not None:
            message["link"] = {
                "type": "reply",
                "sender": {"user_id": BOT_USER_ID, "first_name": "Bot", "is_bot": True},
                "chat_id": self.dialog_of(user["user_id"]),
                "message": {"mid": reply_to.mid, "seq": reply_to.seq, "text": reply_to.text},
            }
        return {
            "update_type": "message_created",
            "timestamp": _now_ms(),
            "message": message,
            "user_locale": "ru",
        }

    def event_file(
        self, user: dict[str, Any], kind: str, content: bytes, name: str
    ) -> dict[str, Any]:
        """A person sends a file (`kind`: image or file); its URL is served by the stand-in."""
        token = uuid.uuid4().hex
        self.files[token] = content
        attachment: dict[str, Any] = {
            "type": kind,
            "payload": {"url": f"{self.base_url}/files/{token}", "token": token},
        }
        if kind == "file":
            attachment |= {"filename": name, "size": len(content)}
        return self.event_message(user, attachments=[attachment])

    def event_press(self, user: dict[str, Any], message: Sent, payload: str) -> dict[str, Any]:
        return {
            "update_type": "message_callback",
            "timestamp": _now_ms(),
            "callback": {
                "timestamp": _now_ms(),
                "callback_id": uuid.uuid4().hex,
                "payload": payload,
                "user": user,
            },
            "message": message.raw,
            "user_locale": "ru",
        }

    def event_started(self, user: dict[str, Any], payload: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "update_type": "bot_started",
            "timestamp": _now_ms(),
            "chat_id": self.dialog_of(user["user_id"]),
            "user": user,
            "user_locale": "ru",
        }
        if payload is not None:
            event["payload"] = payload
        return event

    def event_stopped(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "update_type": "bot_stopped",
            "timestamp": _now_ms(),
            "chat_id": self.dialog_of(user["user_id"]),
            "user": user,
        }

    async def deliver(self, event: dict[str, Any]) -> None:
        """As MAX would: to every webhook subscription, else into the polling feed."""
        if not self.subscriptions:
            self._events.append((next(self._position), event))
            self._new_event.set()
            return
        if self._client is None:
            self._client = aiohttp.ClientSession()
        for subscription in self.subscriptions:
            headers = {"Content-Type": "application/json"}
            if subscription.get("secret"):
                headers["X-Max-Bot-Api-Secret"] = subscription["secret"]
            async with self._client.post(
                subscription["url"], data=json.dumps(event), headers=headers
            ) as response:
                await response.read()

    # --- what the bot sent ------------------------------------------------------------

    def messages_to(self, user_id: int) -> list[Sent]:
        return [s for s in self.sent if s.user_id == user_id]

    # --- the API ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if path.startswith("/files/"):
            content = self.files.get(path.removeprefix("/files/"))
            return web.Response(body=content) if content is not None else _error(404, "not.found")
        if path.startswith("/upload/"):
            return await self._upload(request, path.removeprefix("/upload/"))
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        self.requests.append(Recorded(request.method, path, dict(request.query), body))
        if request.headers.get("Authorization") != self.token:
            return _error(401, "verify.token", "Invalid access_token")
        if (request.method, path) == ("GET", "/updates"):
            return await self._updates(request)
        refused = self._refusal()
        if refused is not None:
            return refused
        if path.startswith("/chats/") and path.endswith("/actions"):
            return web.json_response({"success": True})
        handler = self._routes().get((request.method, path))
        if handler is None:
            return _error(404, "not.found", f"{request.method} {path}")
        answer: web.StreamResponse = handler(request, body)
        return answer

    def _routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/me"): self._me,
            ("PATCH", "/me"): self._set_commands,
            ("POST", "/messages"): self._post_message,
            ("PUT", "/messages"): self._edit_message,
            ("DELETE", "/messages"): lambda _request, _body: _ok(),
            ("POST", "/answers"): self._answer,
            ("GET", "/subscriptions"): self._subscriptions,
            ("POST", "/subscriptions"): self._subscriptions,
            ("DELETE", "/subscriptions"): self._subscriptions,
            ("POST", "/uploads"): self._upload_slot,
        }

    def _me(self, _request: web.Request, _body: Any) -> web.Response:
        return web.json_response(
            {
                "user_id": BOT_USER_ID,
                "first_name": "Concierge",
                "username": "concierge_bot",
                "is_bot": True,
                "commands": self.commands,
            }
        )

    def _set_commands(self, _request: web.Request, body: Any) -> web.Response:
        self.commands = list((body or {}).get("commands") or [])
        return web.json_response({"user_id": BOT_USER_ID, "first_name": "Concierge"})

    def _answer(self, request: web.Request, body: Any) -> web.Response:
        if not body or not (body.get("notification") or body.get("message")):
            return _error(400, "proto.payload", "`message` or `notification` required")
        self.answers.append({"callback_id": request.query.get("callback_id"), **body})
        return _ok()

    def _upload_slot(self, request: web.Request, _body: Any) -> web.Response:
        kind = request.query.get("type", "file")
        upload = uuid.uuid4().hex
        answer: dict[str, Any] = {"url": f"{self.base_url}/upload/{kind}-{upload}"}
        if kind in ("video", "audio"):
            answer["token"] = upload
        return web.json_response(answer)

    def _refusal(self) -> web.Response | None:
        """429 over the per-second limit and a share of 5xx, before anything is accepted."""
        now = time.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= self.limits.per_second:
            self.too_many_requests += 1
            response = _error(429, "too.many.requests", "Too many requests")
            response.headers["Retry-After"] = str(self.limits.retry_after)
            return response
        if self.limits.error_rate and self._random.random() < self.limits.error_rate:
            return _error(503, "service.unavailable", "Try later")
        self._window.append(now)
        return None

    async def _updates(self, request: web.Request) -> web.Response:
        marker = int(request.query.get("marker") or 0)
        limit = int(request.query.get("limit") or 100)
        timeout = float(request.query.get("timeout") or 0)
        # Passing a marker commits everything before it.
        while self._events and self._events[0][0] < marker:
            self._events.popleft()
        if not self._events and timeout > 0:
            self._new_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), timeout)
        batch = list(itertools.islice(self._events, limit))
        next_marker = batch[-1][0] + 1 if batch else max(marker, 1)
        return web.json_response({"updates": [event for _, event in batch], "marker": next_marker})

    def _post_message(self, request: web.Request, body: Any) -> web.Response:
        body = body or {}
        if "user_id" not in request.query:
            return _error(400, "proto.payload", "a dialog is addressed by user_id here")
        user_id = int(request.query["user_id"])
        if user_id in self.limits.stopped_users:
            self.forbidden += 1
            return _error(403, "chat.denied", "dialog.suspended: bot was stopped by the user")
        problem = _invalid(body)
        if problem:
            return _error(400, "proto.payload", problem)
        text = str(body.get("text") or "")
        attachments = list(body.get("attachments") or [])
        link = body.get("link")
        forwarded = link.get("mid") if link and link.get("type") == "forward" else None
        known = forwarded in self.by_mid or forwarded in self.inbound
        if forwarded is not None and not known:
            return _error(404, "not.found", "message to forward not found")
        seq = next(self._seq)
        mid = _mid()
        raw: dict[str, Any] = {
            "sender": {"user_id": BOT_USER_ID, "first_name": "Concierge", "is_bot": True},
            "recipient": {
                "chat_id": self.dialog_of(user_id),
                "chat_type": "dialog",
                "user_id": user_id,
            },
            "timestamp": _now_ms(),
            "body": {"mid": mid, "seq": seq, "text": text, "attachments": attachments},
        }
        if link:
            raw["link"] = link
        sent = Sent(mid, seq, user_id, text, attachments, raw)
        self.sent.append(sent)
        self.by_mid[sent.mid] = sent
        for listener in self.on_sent:
            listener(sent, False)
        return web.json_response({"message": raw})

    def _edit_message(self, request: web.Request, body: Any) -> web.Response:
        body = body or {}
        sent = self.by_mid.get(request.query.get("message_id", ""))
        if sent is None:
            return _error(404, "not.found", "message not found")
        problem = _invalid(body)
        if problem:
            return _error(400, "proto.payload", problem)
        if "text" in body:
            sent.text = str(body["text"] or "")
            sent.raw["body"]["text"] = sent.text
        if body.get("attachments") is not None:
            sent.attachments = list(body["attachments"])
            sent.raw["body"]["attachments"] = sent.attachments
        for listener in self.on_sent:
            listener(sent, True)
        return web.json_response({"success": True})

    def _subscriptions(self, request: web.Request, body: Any) -> web.Response:
        if request.method == "GET":
            return web.json_response({"subscriptions": self.subscriptions})
        if request.method == "DELETE":
            url = request.query.get("url")
            self.subscriptions = [s for s in self.subscriptions if s.get("url") != url]
            return _ok()
        self.subscriptions.append(dict(body or {}))
        return _ok()

    async def _upload(self, request: web.Request, slot: str) -> web.Response:
        kind, _, token = slot.partition("-")
        form = await request.post()
        field_name = "file" if kind in ("video", "audio") else "data"
        upload = form.get(field_name)
        if not isinstance(upload, web.FileField):
            return _error(415, "unsupported.media", f"multipart field {field_name!r} expected")
        self.files[token] = upload.file.read()
        if kind == "image":
            return web.json_response({"photos": {"p1": {"token": token}}})
        if kind == "file":
            return web.json_response({"token": token})
        return web.Response(text="<retval>1</retval>")


def _invalid(body: dict[str, Any]) -> str | None:
    """What MAX would refuse in a message body, or None."""
    text = body.get("text")
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        return f"text: length must be at most {TEXT_LIMIT}"
    for attachment in body.get("attachments") or []:
        if attachment.get("type") != "inline_keyboard":
            continue
        for row in (attachment.get("payload") or {}).get("buttons", []):
            for button in row:
                if not 1 <= len(button.get("text") or "") <= BUTTON_TEXT_LIMIT:
                    return "button text: length must be 1..128"
                if len(str(button.get("payload") or "")) > PAYLOAD_LIMIT:
                    return "button payload: length must be at most 1024"
    return None


def _mid() -> str:
    return f"mid.{uuid.uuid4().hex}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ok() -> web.Response:
    return web.json_response({"success": True})


def _error(status: int, code: str, message: str = "") -> web.Response:
    return web.json_response({"code": code, "message": message or code}, status=status)


if __name__ == "__main__":
    from bench.max_standin_console import main

    main()
