"""Health checks and Prometheus metrics: `/healthz` and `/metrics` for the bank's monitoring."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# A check passes unless it raises or returns False; anything else it returns (a leader's
# name, a document count) is shown in the report.
HealthCheck = Callable[[], Awaitable[object]]

# Components a production deployment may have; those not registered are reported "absent"
# so a dashboard sees the same keys on every replica.
OPTIONAL_COMPONENTS = ("redis", "chroma", "scheduler_leader")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Metrics:
    """The process's Prometheus metrics on its own registry (tests build several apps)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "concierge_updates", "Inbound updates by type", ["type"], registry=r
        )
        self.duplicates = Counter(
            "concierge_duplicate_updates",
            "Redelivered updates dropped, by the guard that caught them",
            ["guard"],
            registry=r,
        )
        self.handler_latency = Histogram(
            "concierge_handler_seconds",
            "Time to process one update, middlewares and logging included",
            ["type"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.api_calls = Counter(
            "concierge_bot_api_calls",
            "Outgoing Bot API calls by method and result",
            ["method", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "concierge_bot_api_429", "Bot API answers 'Too Many Requests'", ["method"], registry=r
        )
        self.throttled = Counter(
            "concierge_throttled_updates", "Updates refused by flood control", registry=r
        )
        # For the other components to feed (the outbox worker, the knowledge base, handlers).
        self.outbox_depth = Gauge(
            "concierge_outbox_depth", "Messages waiting in the outbox", registry=r
        )
        self.answers = Counter(
            "concierge_answers",
            "Knowledge-base answers by confidence band",
            ["confidence"],
            registry=r,
        )
        self.escalations = Counter(
            "concierge_escalations", "Hand-overs to a person, by reason", ["reason"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outermost update middleware: counts updates and times their whole processing."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        self.metrics.updates.labels(kind).inc()
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            self.metrics.handler_latency.labels(kind).observe(time.perf_counter() - started)


class ApiMetricsRequestMiddleware(BaseRequestMiddleware):
    """Counts every outgoing Bot API call by method and result, and the 429s separately."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = str(method.__api_method__)
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter:
            self.metrics.rate_limited.labels(name).inc()
            self.metrics.api_calls.labels(name, "rate_limited").inc()
            raise
        except TelegramAPIError as exc:
            self.metrics.api_calls.labels(name, type(exc).__name__).inc()
            raise
        except Exception:
            self.metrics.api_calls.labels(name, "network_error").inc()
            raise
        self.metrics.api_calls.labels(name, "ok").inc()
        return response


def database_check(engine: AsyncEngine) -> HealthCheck:
    async def check() -> object:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check


def redis_check(redis: Any) -> HealthCheck:
    async def check() -> object:
        return bool(await redis.ping())

    return check


class Health:
    """Named checks run concurrently, each with a timeout; 'database' is always among them."""

    def __init__(self, checks: Mapping[str, HealthCheck], *, timeout_seconds: float) -> None:
        self.checks = dict(checks)
        self.timeout = timeout_seconds

    def register(self, name: str, check: HealthCheck) -> None:
        self.checks[name] = check

    async def _run(self, name: str, check: HealthCheck) -> dict[str, Any]:
        try:
            result = await asyncio.wait_for(check(), self.timeout)
        except Exception as exc:
            # The reason goes to the log only: error texts may carry host names and users.
            log.warning("health check %s failed: %s", name, type(exc).__name__)
            return {"status": "fail", "error": type(exc).__name__}
        if result is False:
            return {"status": "fail"}
        report: dict[str, Any] = {"status": "ok"}
        if result is not True and result is not None:
            report["detail"] = result
        return report

    async def report(self) -> tuple[bool, dict[str, Any]]:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(n, self.checks[n]) for n in names))
        components: dict[str, Any] = dict(zip(names, results, strict=True))
        for name in OPTIONAL_COMPONENTS:
            components.setdefault(name, {"status": "absent"})
        healthy = all(c["status"] != "fail" for c in components.values())
        return healthy, {"status": "ok" if healthy else "fail", "components": components}


def add_routes(web_app: web.Application, *, health: Health, metrics: Metrics) -> None:
    """GET /healthz (200 or 503, JSON) and GET /metrics (Prometheus text)."""

    async def healthz(_request: web.Request) -> web.Response:
        healthy, body = await health.report()
        return web.json_response(body, status=200 if healthy else 503)

    async def prometheus(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", prometheus)


async def start_server(*, health: Health, metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """The standalone server for polling and console modes; the caller cleans the runner up."""
    web_app = web.Application()
    add_routes(web_app, health=health, metrics=metrics)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("health and metrics on %s:%s", host, port)
    return runner
