"""A local stand-in for a Bitrix24 portal's REST API, for the tests, the benchmark and by hand.

    python -m bench.bitrix24_standin [--port 8924] [--clients N] [--rate 2] [--burst 50]

serves the methods the assistant calls (bench/bitrix24_portal.py) the way a portal does:
- incoming webhooks (`/rest/<user>/<secret>/<method>.json`) and OAuth (`/rest/<method>.json`
  with `auth`; tokens from `/oauth/token/?grant_type=refresh_token…`, refresh tokens rotate
  and access tokens expire: 401 `expired_token`);
- a leaky bucket per portal: every HTTP request (a `batch` is one) adds 1, `rate` drain per
  second, over `burst` the request is refused with 503 `QUERY_LIMIT_EXCEEDED` and not run;
- lists paged by 50 (`start`, `next`, `total`) and `batch` of at most 50 commands (PHP-style
  query strings, `halt`), answering `result`, `result_error`, `result_total`, `result_next`;
- method errors as Bitrix24 sends them (`{"error": "", "error_description": "Not found"}`).

Like a real portal it keeps no idempotency keys: a write sent twice is stored twice. It counts
every comment and deal by the key the assistant puts in it (`portal.written`), so duplicates
and losses can be measured, and `GET /_standin/stats` shows them. Without `--clients` it
serves the demo bank (`crm_adapter/demo/bank.yaml`, loaded into a temporary store).

Tests can take it down and up on the same port (`outage`, `restore`) and hold a write batch's
answer after running it (`hold_writes`), to kill the writer between send and confirm.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.bitrix24_portal import MethodError, Portal, seed_from_store, seed_synthetic

WEBHOOK_USER = "1"
WRITE_METHODS = frozenset(
    {"crm.timeline.comment.add", "crm.deal.add", "crm.deal.update", "crm.contact.update"}
)


def parse_query(query: str) -> dict[str, Any]:
    """A PHP-style query string (`filter[>ID]=5&select[0]=ID`) as nested values."""
    out: dict[str, Any] = {}
    for raw_key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        head, _, rest = raw_key.partition("[")
        path = [head] + ([p.rstrip("]") for p in ("[" + rest).split("[")[1:]] if rest else [])
        node: Any = out
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if part == "":  # `key[]=`: an empty list
                break
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    shaped: dict[str, Any] = _listify(out)
    return shaped


def _listify(node: Any) -> Any:
    """{"0": a, "1": b} -> [a, b], as PHP turns numeric keys into a list."""
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


@dataclass
class Stats:
    requests: int = 0
    limited: int = 0
    expired: int = 0
    batches: int = 0
    commands: int = 0
    write_commands: int = 0


@dataclass
class LeakyBucket:
    rate: float
    burst: float
    level: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def admit(self) -> bool:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.rate)
        self.at = now
        if self.level + 1 > self.burst:
            return False
        self.level += 1
        return True


class Bitrix24StandIn:
    """Run with `async with Bitrix24StandIn(...) as portal:`; `webhook_url` for the settings."""

    def __init__(
        self,
        portal: Portal | None = None,
        *,
        rate: float = 2.0,
        burst: float = 50.0,
        port: int = 0,
        token_ttl: float = 3600.0,
        client_id: str = "local.standin",
        client_secret: str = "standin-secret",  # noqa: S107 - a stand-in's fixed test secret
        secret: str | None = None,
    ) -> None:
        self.portal = portal or Portal()
        self.bucket = LeakyBucket(rate=rate, burst=burst)
        self.stats = Stats()
        self.port = port
        self.secret = secret or secrets.token_hex(8)
        self.token_ttl = token_ttl
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        # Set by a test: once a batch with writes has run, `executed` is set and the answer
        # waits until `hold_writes` is cleared away (None) or set.
        self.hold_writes: asyncio.Event | None = None
        self.executed = asyncio.Event()
        self._away: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/rest/{WEBHOOK_USER}/{self.secret}/"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth/token/"

    def issue_refresh_token(self) -> str:
        token = secrets.token_hex(16)
        self.refresh_tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        """Every access token expires now (the next call answers 401 expired_token)."""
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Bitrix24StandIn:
        app = web.Application(client_max_size=32 * 1024**2)
        app.router.add_post("/rest/{user}/{secret}/{method}", self._webhook)
        app.router.add_post("/rest/{method}", self._oauth_call)
        app.router.add_get("/oauth/token/", self._token)
        app.router.add_get("/_standin/stats", self._stats)
        app.router.add_post("/_standin/outage", self._timed_outage)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self._listen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def outage(self) -> None:
        """The portal goes away: open connections are closed and new ones refused until
        `restore`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            await self._runner.server.shutdown(0.1)

    async def restore(self) -> None:
        if self._site is None:
            await self._listen()

    # -- HTTP ------------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        if request.match_info["secret"] != self.secret:
            return _error("INVALID_CREDENTIALS", "Invalid request credentials", 401)
        return await self._serve(request, request.match_info["method"], await _params(request))

    async def _oauth_call(self, request: web.Request) -> web.Response:
        params = await _params(request)
        token = str(params.pop("auth", ""))
        expires = self.access_tokens.get(token)
        if expires is None:
            return _error("invalid_token", "The access token provided is invalid.", 401)
        if expires <= time.monotonic():
            self.stats.expired += 1
            return _error("expired_token", "The access token provided has expired.", 401)
        return await self._serve(request, request.match_info["method"], params)

    async def _token(self, request: web.Request) -> web.Response:
        query = request.query
        if (
            query.get("grant_type") != "refresh_token"
            or query.get("client_id") != self.client_id
            or query.get("client_secret") != self.client_secret
            or query.get("refresh_token") not in self.refresh_tokens
        ):
            body = {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            return web.json_response(body, status=400)
        # A refresh token works once: the answer carries the next one.
        self.refresh_tokens.discard(query["refresh_token"])
        access = secrets.token_hex(16)
        self.access_tokens[access] = time.monotonic() + self.token_ttl
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": self.issue_refresh_token(),
                "expires_in": int(self.token_ttl),
                "client_endpoint": f"{self.base_url}/rest/",
            }
        )

    async def _timed_outage(self, request: web.Request) -> web.Response:
        """Goes away for `?seconds=N` (the benchmark takes a stand-in in another process
        down this way); answers first."""
        seconds = float(request.query.get("seconds", "5"))

        async def away() -> None:
            await asyncio.sleep(0.05)
            await self.outage()
            await asyncio.sleep(seconds)
            await self.restore()

        self._away = asyncio.create_task(away())
        return web.json_response({"down_for": seconds})

    async def _stats(self, _request: web.Request) -> web.Response:
        portal = self.portal
        return web.json_response(
            {
                "requests": self.stats.requests,
                "limited": self.stats.limited,
                "batches": self.stats.batches,
                "comments": len(portal.comments),
                "deals": len(portal.deals),
                "keys_written": len(portal.written),
                "writes": sum(portal.written.values()),
                "duplicate_keys": portal.duplicates(),
            }
        )

    async def _serve(
        self, request: web.Request, method: str, params: dict[str, Any]
    ) -> web.Response:
        self.stats.requests += 1
        if not self.bucket.admit():
            self.stats.limited += 1
            return _error("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        method = method.removesuffix(".json")
        if method == "batch":
            body, writes = self._batch(params)
            if writes and self.hold_writes is not None:
                self.executed.set()
                await self.hold_writes.wait()
            return web.json_response(body)
        try:
            return web.json_response(self.portal.call(method, params))
        except MethodError as error:
            return _error(error.code, error.description, error.status)

    def _batch(self, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        self.stats.batches += 1
        commands = params.get("cmd") or {}
        if len(commands) > 50:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {
                        "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                        "error_description": "Max batch length exceeded",
                    }
                ),
                content_type="application/json",
            )
        halt = str(params.get("halt", "0")) in {"1", "true", "True", "Y"}
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        writes = False
        for key, command in commands.items():
            method, _, query = str(command).partition("?")
            self.stats.commands += 1
            if method in WRITE_METHODS:
                writes = True
                self.stats.write_commands += 1
            try:
                answer = self.portal.call(method, parse_query(query))
            except MethodError as error:
                errors[key] = {"error": error.code, "error_description": error.description}
                if halt:
                    break
                continue
            results[key] = answer.get("result")
            if "total" in answer:
                totals[key] = answer["total"]
            if "next" in answer:
                nexts[key] = answer["next"]
        # PHP answers an empty associative array as [].
        return {
            "result": {
                "result": results or [],
                "result_error": errors or [],
                "result_total": totals or [],
                "result_next": nexts or [],
                "result_time": [],
            },
            "time": {"start": time.time()},
        }, writes


def _error(code: str, description: str, status: int) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    return parse_query(await request.text())


async def demo_portal(holdings_type: int = 1032, life_events_type: int = 1036) -> Portal:
    """The demo bank (crm_adapter.demo) as a portal."""
    from common.clock import SystemClock
    from crm_adapter.demo.loader import load_demo_data
    from crm_adapter.migrate import upgrade
    from crm_adapter.sql import SqlCrm

    portal = Portal()
    with tempfile.TemporaryDirectory() as folder:
        crm = SqlCrm.from_url(f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}")
        try:
            await upgrade(crm.engine)
            await load_demo_data(crm, clock=SystemClock())
            await seed_from_store(
                portal, crm.engine, holdings_type=holdings_type, life_events_type=life_events_type
            )
        finally:
            await crm.close()
    return portal


async def _serve_forever(args: argparse.Namespace) -> None:
    if args.clients:
        portal = Portal()
        seed_synthetic(portal, clients=args.clients)
    else:
        portal = await demo_portal()
    async with Bitrix24StandIn(
        portal, rate=args.rate, burst=args.burst, port=args.port, secret=args.secret
    ) as api:
        print(f"Bitrix24 stand-in: {len(portal.contacts)} contacts, {len(portal.users)} users")
        print(f"CRM_BITRIX24_WEBHOOK_URL={api.webhook_url}")
        print(f"stats: {api.base_url}/_standin/stats")
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8924)
    parser.add_argument("--clients", type=int, default=0, help="a synthetic bank of N clients")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second drained")
    parser.add_argument("--burst", type=float, default=50.0, help="the bucket's size")
    parser.add_argument("--secret", default=None, help="the webhook's secret (default: random)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(parser.parse_args()))


if __name__ == "__main__":
    main()
