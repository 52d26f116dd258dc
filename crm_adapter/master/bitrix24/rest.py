"""Bitrix24 REST over aiohttp: authentication, pacing to the portal's limit, `batch`, errors.

Why not the official `b24pysdk`: it is synchronous (`requests`), sleeps inside its own 503
retries with `time.sleep` and keeps its configuration per thread, so in our event loop every
call would hold a worker thread (and a retry would hold it for seconds) while our pacing and
backoff would be fought by the SDK's own; and its pins (`python-dateutil<3`, `tzdata<2026.4`)
conflict with requirements.lock. The wire format is small: JSON POSTs to
`<portal>/rest/[<user>/<secret>/]<method>.json`, answers `{"result", "total", "next"}` or
`{"error", "error_description"}`, and `batch` with commands as PHP-style query strings.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from crm_adapter.master.http import HttpClient
from crm_adapter.master.records import CrmUnavailable

log = logging.getLogger(__name__)

# Bitrix24 refuses more than this many commands in one `batch`, and pages lists by this many.
MAX_BATCH = 50
PAGE = 50
# Answered with HTTP 503 when the portal's request bucket is full.
QUERY_LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
EXPIRED_TOKEN = "expired_token"  # noqa: S105 - an error code, not a secret


class Bitrix24Error(Exception):
    """A method's own error (`{"error", "error_description"}`): bad data, not found, denied."""

    def __init__(self, code: str, description: str = "", *, status: int = 400) -> None:
        super().__init__(code or "ERROR")
        self.code = code
        # Kept for the caller, never logged: it may quote the record's values.
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Page:
    """One list page: the items, the offset of the next page (None: last), the total."""

    items: list[Any]
    next: int | None
    total: int | None


@dataclass(frozen=True)
class CommandResult:
    """One command of a `batch`: its result or its error, and paging when it listed."""

    result: Any = None
    error: Bitrix24Error | None = None
    next: int | None = None
    total: int | None = None


class TokenStore(Protocol):
    """Where an OAuth application keeps its rotating tokens between processes."""

    async def load(self) -> dict[str, Any] | None: ...
    async def save(self, tokens: dict[str, Any]) -> None: ...


def encode_query(params: Mapping[str, Any]) -> str:
    """Parameters as a PHP-style query string (`filter[>ID]=5&select[0]=ID`), the form
    Bitrix24 expects for each command of a `batch`."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            if not value:
                pairs.append((f"{prefix}[]", ""))
            for key, item in value.items():
                walk(f"{prefix}[{key}]", item)
        elif isinstance(value, list | tuple):
            if not value:
                pairs.append((f"{prefix}[]", ""))
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif isinstance(value, bool):
            pairs.append((prefix, "Y" if value else "N"))
        else:
            pairs.append((prefix, "" if value is None else str(value)))

    for key, value in params.items():
        walk(str(key), value)
    return urllib.parse.urlencode(pairs)


class Pacer:
    """Spaces requests evenly at `per_second`; a limit answer pauses everyone."""

    def __init__(self, per_second: float) -> None:
        self._spacing = 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self._spacing
        if wait > 0:
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)


class Bitrix24Rest(HttpClient):
    """Calls one portal, through an incoming webhook or as an OAuth application."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        portal_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        oauth_url: str = "https://oauth.bitrix.info/oauth/token/",
        tokens: TokenStore | None = None,
        requests_per_second: float = 2.0,
        timeout_seconds: float = 30.0,
        limit_retries: int = 5,
    ) -> None:
        super().__init__(timeout_seconds=timeout_seconds)
        if webhook_url:
            self._base = webhook_url.rstrip("/") + "/"
        elif portal_url and client_id and client_secret:
            self._base = portal_url.rstrip("/") + "/rest/"
        else:
            raise ValueError("Bitrix24 needs a webhook URL or OAuth application credentials")
        self._oauth = not webhook_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._oauth_url = oauth_url
        self._tokens = tokens
        self._access_token: str | None = None
        self._refreshing = asyncio.Lock()
        self.pacer = Pacer(requests_per_second)
        self._limit_retries = limit_retries
        self.requests = 0

    # -- calls ---------------------------------------------------------------------------

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """The `result` of one method; Bitrix24Error for the method's own errors."""
        body = await self._post(method, dict(params or {}))
        return body.get("result")

    async def page(self, method: str, params: Mapping[str, Any]) -> Page:
        body = await self._post(method, dict(params))
        return Page(_items(body.get("result")), _int(body.get("next")), _int(body.get("total")))

    async def batch(
        self, commands: Sequence[tuple[str, str, Mapping[str, Any]]], *, halt: bool = False
    ) -> dict[str, CommandResult]:
        """Runs up to 50 commands (key, method, params) in one request, in order; each
        command's outcome by key. With `halt` the portal stops at the first error: the
        commands after it are not run and are missing from the answer."""
        if len(commands) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} commands")
        cmd = {key: f"{method}?{encode_query(params)}" for key, method, params in commands}
        body = await self._post("batch", {"halt": 1 if halt else 0, "cmd": cmd})
        outer = body.get("result") or {}
        results = _mapping(outer.get("result"))
        errors = _mapping(outer.get("result_error"))
        nexts = _mapping(outer.get("result_next"))
        totals = _mapping(outer.get("result_total"))
        found: dict[str, CommandResult] = {}
        for key, _method, _params in commands:
            error = errors.get(key)
            if isinstance(error, Mapping):
                found[key] = CommandResult(
                    error=Bitrix24Error(
                        str(error.get("error", "")), str(error.get("error_description", ""))
                    )
                )
            elif key in results or not halt:
                # Without halt every command ran: an empty result may be absent (PHP's []).
                found[key] = CommandResult(
                    result=results.get(key), next=_int(nexts.get(key)), total=_int(totals.get(key))
                )
        return found

    # -- transport -----------------------------------------------------------------------

    async def _post(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        limited = 0
        while True:
            if self._oauth and self._access_token is None:
                await self._refresh()
            payload = {**params, "auth": self._access_token} if self._oauth else params
            await self.pacer.turn()
            status, body = await self._request(method, payload)
            if status < 400 and "error" not in body:
                return body
            code = str(body.get("error", ""))
            if code == QUERY_LIMIT_EXCEEDED:
                limited += 1
                # The bucket drains by the portal's rate; give it a few seconds back.
                self.pacer.pause(min(2.0 * limited, 10.0))
                if limited <= self._limit_retries:
                    continue
                raise CrmUnavailable(QUERY_LIMIT_EXCEEDED, counts=False, retry_after=10.0)
            if code == EXPIRED_TOKEN and self._oauth and not refreshed:
                self._access_token = None
                refreshed = True
                continue
            if status in (401, 403) or code in ("INVALID_CREDENTIALS", "invalid_token"):
                raise CrmUnavailable(f"auth:{code or status}")
            if status >= 500:
                # 503 answers come before the portal runs anything; others may come after.
                raise CrmUnavailable(f"http_{status}:{code}", uncertain=status != 503)
            raise Bitrix24Error(code, str(body.get("error_description", "")), status=status)

    async def _request(self, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = f"{self._base}{method}.json"
        self.requests += 1
        try:
            async with self.session.post(url, json=payload) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    body = {"error": "UNEXPECTED_ANSWER"} if response.status >= 400 else {}
                return response.status, body
        except aiohttp.ClientConnectorError as error:
            # Nothing was sent: the portal is unreachable.
            raise CrmUnavailable("unreachable") from error
        except (TimeoutError, aiohttp.ClientError) as error:
            # The request may have been received and run.
            raise CrmUnavailable(f"transport:{type(error).__name__}", uncertain=True) from error

    async def _refresh(self) -> None:
        async with self._refreshing:
            if self._access_token is not None:
                return
            refresh_token = self._refresh_token
            if self._tokens is not None:
                stored = await self._tokens.load()
                if stored and stored.get("refresh_token"):
                    refresh_token = str(stored["refresh_token"])
            if not refresh_token:
                raise CrmUnavailable("auth:no_refresh_token")
            query = {
                "grant_type": "refresh_token",
                "client_id": self._client_id or "",
                "client_secret": self._client_secret or "",
                "refresh_token": refresh_token,
            }
            try:
                async with self.session.get(self._oauth_url, params=query) as response:
                    body = await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:
                raise CrmUnavailable("auth:refresh_failed") from error
            if not isinstance(body, dict) or "access_token" not in body:
                code = body.get("error", "refused") if isinstance(body, dict) else "refused"
                raise CrmUnavailable(f"auth:{code}")
            self._access_token = str(body["access_token"])
            self._refresh_token = str(body.get("refresh_token") or refresh_token)
            if self._tokens is not None:
                await self._tokens.save({"refresh_token": self._refresh_token})
            log.info("bitrix24 access token refreshed")


def _items(result: Any) -> list[Any]:
    """List results come as a list, or as `{"items": [...]}` from crm.item.*."""
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping):
        items = result.get("items")
        if isinstance(items, list):
            return items
    return []


def _mapping(value: Any) -> Mapping[str, Any]:
    # PHP sends an empty associative array as [].
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def items_of(result: Any) -> list[Any]:
    return _items(result)
