"""/healthz, /metrics and the webhook's secret token, through real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage, TelegramMethod
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.app import App, build_app
from bot.notifier import direct_notifier
from bot.observability import add_routes
from bot.transports import build_webhook_app
from cli import main as cli
from common.clock import ManualClock
from common.settings import DatabaseSettings, Settings, TelegramSettings, get_settings
from tests.harness import BotHarness, RecordingSession


async def serve(web_app: web.Application) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(web_app))
    await client.start_server()
    return client


@pytest.fixture
async def monitoring(app: App) -> AsyncIterator[TestClient[Any, Any]]:
    web_app = web.Application()
    add_routes(web_app, health=app.health, metrics=app.metrics)
    client = await serve(web_app)
    yield client
    await client.close()


async def test_healthz_reports_every_component(monitoring: TestClient[Any, Any]) -> None:
    response = await monitoring.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body == {
        "status": "ok",
        "components": {
            "database": {"status": "ok"},
            "redis": {"status": "absent"},
            "chroma": {"status": "absent"},
            "scheduler_leader": {"status": "absent"},
        },
    }


async def test_checks_registered_by_other_components_are_reported(
    settings: Settings, clock: ManualClock
) -> None:
    async def chroma() -> object:
        return {"documents": 12}

    async def scheduler_leader() -> object:
        return "replica-a"

    app = build_app(
        settings,
        session=RecordingSession(),
        clock=clock,
        notifier_factory=direct_notifier,
        health_checks={"chroma": chroma, "scheduler_leader": scheduler_leader},
    )
    try:
        healthy, body = await app.health.report()
    finally:
        await app.close()
    assert healthy
    assert body["components"]["chroma"] == {"status": "ok", "detail": {"documents": 12}}
    assert body["components"]["scheduler_leader"] == {"status": "ok", "detail": "replica-a"}


async def test_healthz_is_503_when_the_database_is_down(
    settings: Settings, clock: ManualClock
) -> None:
    # Nothing listens on port 1 of this machine: the connection is refused at once.
    down = settings.model_copy(
        update={"database": DatabaseSettings(url="postgresql+asyncpg://nobody@127.0.0.1:1/x")}
    )
    app = build_app(
        down, session=RecordingSession(), clock=clock, notifier_factory=direct_notifier
    )
    web_app = web.Application()
    add_routes(web_app, health=app.health, metrics=app.metrics)
    client = await serve(web_app)
    try:
        response = await client.get("/healthz")
        body = await response.json()
    finally:
        await client.close()
        await app.close()
    assert response.status == 503
    assert body["status"] == "fail"
    assert body["components"]["database"]["status"] == "fail"
    # The reason is a class name only: connection errors may carry hosts and user names.
    assert "nobody" not in json.dumps(body)


async def test_metrics_count_updates_latency_and_api_calls(
    harness: BotHarness, monitoring: TestClient[Any, Any]
) -> None:
    guest = harness.user(8101)
    await harness.send(guest, "/help")
    await harness.send(guest, "Здравствуйте")
    await harness.press(guest, "menu:ask")
    response = await monitoring.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert 'concierge_updates_total{type="message"} 2.0' in text
    assert 'concierge_updates_total{type="callback_query"} 1.0' in text
    assert 'concierge_handler_seconds_count{type="message"} 2.0' in text
    assert 'concierge_bot_api_calls_total{method="sendMessage",result="ok"}' in text
    # The gauges and counters other components feed are exported from the start.
    assert "concierge_outbox_depth 0.0" in text
    harness.app.metrics.answers.labels("high").inc()
    harness.app.metrics.escalations.labels("low_confidence").inc()
    text = harness.app.metrics.render().decode()
    assert 'concierge_answers_total{confidence="high"} 1.0' in text
    assert 'concierge_escalations_total{reason="low_confidence"} 1.0' in text


class RateLimitedSession(RecordingSession):
    """Telegram answering 429 to every message."""

    async def make_request(
        self, bot: Any, method: TelegramMethod[Any], timeout: Any = None
    ) -> Any:
        if isinstance(method, SendMessage):
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=3)
        return await super().make_request(bot, method, timeout)


async def test_429_answers_are_counted(settings: Settings, clock: ManualClock) -> None:
    app = build_app(
        settings, session=RateLimitedSession(), clock=clock, notifier_factory=direct_notifier
    )
    try:
        with pytest.raises(TelegramRetryAfter):
            await app.bot.send_message(1, "x")
    finally:
        await app.close()
    text = app.metrics.render().decode()
    assert 'concierge_bot_api_429_total{method="sendMessage"} 1.0' in text
    assert 'concierge_bot_api_calls_total{method="sendMessage",result="rate_limited"} 1.0' in text


def webhook_settings(settings: Settings, secret: str | None) -> Settings:
    return settings.model_copy(
        update={
            "telegram": TelegramSettings(
                bot_token=SecretStr("123:ABC"),
                mode="webhook",
                webhook_secret=SecretStr(secret) if secret is not None else None,
            )
        }
    )


async def webhook_replica(
    settings: Settings, clock: ManualClock, *, background: bool = False
) -> tuple[App, TestClient[Any, Any]]:
    """A webhook replica with the secret "right", served on loopback."""
    app = build_app(
        webhook_settings(settings, "right"),
        session=RecordingSession(),
        clock=clock,
        notifier_factory=direct_notifier,
    )
    return app, await serve(build_webhook_app(app, handle_in_background=background))


async def test_webhook_refuses_requests_without_the_secret_token(
    settings: Settings, clock: ManualClock
) -> None:
    app, client = await webhook_replica(settings, clock)
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 1,
            "date": 1_790_000_000,
            "chat": {"id": 8201, "type": "private"},
            "from": {"id": 8201, "is_bot": False, "first_name": "X"},
            "text": "/help",
        },
    }
    path = app.settings.telegram.webhook_path
    try:
        missing = await client.post(path, json=update)
        wrong = await client.post(
            path, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
        )
        right = await client.post(
            path, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "right"}
        )
        health = await client.get("/healthz")
    finally:
        await client.close()
        await app.close()
    assert (missing.status, wrong.status, right.status) == (401, 401, 200)
    assert health.status == 200
    session = app.bot.session
    assert isinstance(session, RecordingSession)
    # Only the authenticated delivery reached the bot.
    assert [type(c.method) for c in session.calls] == [SendMessage]


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
async def test_a_malformed_webhook_body_is_answered_400_and_its_input_never_logged(
    settings: Settings, clock: ManualClock, caplog: pytest.LogCaptureFixture, background: bool
) -> None:
    app, client = await webhook_replica(settings, clock, background=background)
    headers = {"X-Telegram-Bot-Api-Secret-Token": "right", "Content-Type": "application/json"}
    # A message whose sender is malformed: validation fails on it, with the text beside it.
    not_an_update = {
        "update_id": "nine",
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": 1, "type": "private"},
            "text": "паспорт 45 12 345678, Волков",
        },
    }
    path = app.settings.telegram.webhook_path
    try:
        broken = await client.post(path, data='{"update_id": 1, "message": {', headers=headers)
        invalid = await client.post(path, data=json.dumps(not_an_update), headers=headers)
        not_object = await client.post(path, data="[1, 2]", headers=headers)
    finally:
        await client.close()
        await app.close()
    assert (broken.status, invalid.status, not_object.status) == (400, 400, 400)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook body refused" in logged and "update_id: int_parsing" in logged
    assert "345678" not in logged and "Волков" not in logged
    session = app.bot.session
    assert isinstance(session, RecordingSession) and session.calls == []


async def test_webhook_app_is_not_built_without_a_secret(
    settings: Settings, clock: ManualClock
) -> None:
    for secret in (None, ""):
        app = build_app(
            webhook_settings(settings, secret),
            session=RecordingSession(),
            clock=clock,
            notifier_factory=direct_notifier,
        )
        try:
            with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
                build_webhook_app(app)
        finally:
            await app.close()


def test_run_webhook_refuses_to_start_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working copy
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["run", "--webhook"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in result.output
