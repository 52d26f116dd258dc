"""Two webhook replicas on one PostgreSQL schema and one Redis namespace, as in production.

Telegram may deliver an update again (a timeout, a proxy retry) and the proxy may send it to
the other replica; the steps of one conversation may land on different replicas. Each update
must be handled once, the conversation must carry over, and the log must be exact.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message, Update, User
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.notifier import direct_notifier
from bot.transports import build_webhook_app
from common.clock import ManualClock
from common.settings import (
    BehaviourSettings,
    DatabaseSettings,
    KnowledgeSettings,
    RedisSettings,
    Settings,
    TelegramSettings,
)
from crm_adapter import models as m
from crm_adapter.migrate import upgrade
from crm_adapter.sql import create_engine
from tests.harness import RecordingSession

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "replica-test-secret"
HOOK = "/telegram/webhook"


class Booking(StatesGroup):
    """A two-step conversation that exists only in this test."""

    city = State()
    guests = State()


async def booking_start(message: Message, state: FSMContext) -> None:
    await state.set_state(Booking.city)
    await message.answer("city?")


async def booking_city(message: Message, state: FSMContext) -> None:
    await state.update_data(city=message.text)
    await state.set_state(Booking.guests)
    await message.answer("guests?")


async def booking_guests(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await state.clear()
    await message.answer(f"booked: {data['city']}, {message.text}")


def attach_booking(dp: Dispatcher) -> None:
    # On the dispatcher itself: its own handlers are tried before every feature router.
    dp.message.register(booking_start, Command("booking"))
    dp.message.register(booking_city, Booking.city)
    dp.message.register(booking_guests, Booking.guests)


@dataclass
class Replica:
    app: App
    session: RecordingSession
    http: TestClient[Any, Any]

    async def deliver(self, update: Update) -> int:
        response = await self.http.post(
            HOOK,
            data=update.model_dump_json(exclude_none=True),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": SECRET,
            },
        )
        return response.status

    def replies(self) -> list[str]:
        return [c.method.text for c in self.session.calls if isinstance(c.method, SendMessage)]


async def start_replicas(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str, *, burst: int = 1000
) -> list[Replica]:
    engine = create_engine(postgres_url)
    await upgrade(engine)
    await engine.dispose()
    clock = ManualClock(datetime(2026, 11, 22, 15, 0, tzinfo=UTC))
    out: list[Replica] = []
    for name in ("a", "b"):
        settings = Settings(
            environment="test",
            var_dir=tmp_path / name,
            database=DatabaseSettings(url=postgres_url),
            redis=RedisSettings(url=redis_url, key_prefix=redis_prefix),
            telegram=TelegramSettings(mode="webhook", webhook_secret=SecretStr(SECRET)),
            knowledge=KnowledgeSettings(chroma_path=tmp_path / "chroma"),
            # A day-long window: the fixed window of the Redis counter cannot roll over mid-test.
            behaviour=BehaviourSettings(throttle_burst=burst, throttle_window_seconds=86_400),
        )
        session = RecordingSession()
        app = build_app(settings, session=session, clock=clock, notifier_factory=direct_notifier)
        attach_booking(app.dispatcher)
        # Foreground handling: the HTTP answer comes after the update is processed, so the
        # test can assert right after each request.
        http = TestClient(TestServer(build_webhook_app(app, handle_in_background=False)))
        await http.start_server()
        out.append(Replica(app, session, http))
    return out


async def stop_replicas(replicas: list[Replica]) -> None:
    for replica in replicas:
        await replica.http.close()
        await replica.app.close()


@pytest.fixture
async def replicas(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[list[Replica]]:
    started = await start_replicas(tmp_path, postgres_url, redis_url, redis_prefix)
    yield started
    await stop_replicas(started)


class Updates:
    def __init__(self) -> None:
        self._ids = itertools.count(500_000)

    def text(self, user: User, text: str) -> Update:
        update_id = next(self._ids)
        return Update(
            update_id=update_id,
            message=Message(
                message_id=update_id,
                date=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
                chat=Chat(id=user.id, type="private"),
                from_user=user,
                text=text,
            ),
        )


async def inbound_outbound(app: App) -> tuple[int, int, int]:
    async with app.crm.unit_of_work() as uow:
        s = uow.session
        inbound = await s.scalar(select(func.count()).where(m.InteractionRow.direction == "in"))
        distinct = await s.scalar(select(func.count(func.distinct(m.InteractionRow.update_id))))
        outbound = await s.scalar(select(func.count()).where(m.InteractionRow.direction == "out"))
    return int(inbound or 0), int(distinct or 0), int(outbound or 0)


async def test_redelivery_to_both_replicas_is_handled_once(replicas: list[Replica]) -> None:
    a, b = replicas
    updates = Updates()
    guest = User(id=61_001, is_bot=False, first_name="Гость")
    first = updates.text(guest, "/help")
    # The same update reaches both replicas at once, then each of them again.
    statuses = await asyncio.gather(a.deliver(first), b.deliver(first))
    statuses += [await b.deliver(first), await a.deliver(first)]
    assert statuses == [200, 200, 200, 200]
    assert len(a.replies()) + len(b.replies()) == 1
    assert await inbound_outbound(a.app) == (1, 1, 1)
    dropped = sum(
        sample.value
        for replica in replicas
        for metric in replica.app.metrics.duplicates.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
    assert dropped == 3


async def test_conversation_moves_between_replicas(replicas: list[Replica]) -> None:
    a, b = replicas
    updates = Updates()
    user = User(id=61_002, is_bot=False, first_name="Клиент")
    steps = [updates.text(user, "/booking"), updates.text(user, "Сочи"), updates.text(user, "4")]
    # Step n goes to one replica and is redelivered to the other at the same moment.
    for number, step in enumerate(steps):
        first, second = (a, b) if number % 2 == 0 else (b, a)
        await asyncio.gather(first.deliver(step), second.deliver(step))
    replies = a.replies() + b.replies()
    assert sorted(replies) == sorted(["city?", "guests?", "booked: Сочи, 4"])
    assert await inbound_outbound(a.app) == (3, 3, 3)
    # The conversation ended: its state is gone from the shared storage.
    redis = a.app.replica_state.redis if a.app.replica_state else None
    assert isinstance(redis, Redis)
    state_keys = [k async for k in redis.scan_iter(match="*:fsm:*:61002:61002:*")]
    values = [await redis.get(k) for k in state_keys if b":state" in k]
    assert values in ([], [None])


async def test_database_stops_a_redelivery_the_fast_claim_forgot(
    replicas: list[Replica], redis_prefix: str
) -> None:
    a, b = replicas
    updates = Updates()
    user = User(id=61_003, is_bot=False, first_name="Гость")
    update = updates.text(user, "/help")
    assert await a.deliver(update) == 200
    # The claim expired (or Redis was restarted): the unique update_id still refuses it.
    redis = a.app.replica_state.redis if a.app.replica_state else None
    assert redis is not None
    await redis.delete(f"{redis_prefix}:update:{update.update_id}")
    assert await b.deliver(update) == 200
    assert len(a.replies()) + len(b.replies()) == 1
    assert await inbound_outbound(a.app) == (1, 1, 1)
    text = b.app.metrics.render().decode()
    assert 'concierge_duplicate_updates_total{guard="database"} 1.0' in text


async def test_flood_control_is_shared_by_the_replicas(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    a, b = await start_replicas(tmp_path, postgres_url, redis_url, redis_prefix, burst=3)
    try:
        updates = Updates()
        user = User(id=61_004, is_bot=False, first_name="Гость")
        # Alternating replicas: a per-replica counter would let all six through.
        for number in range(6):
            await (a if number % 2 == 0 else b).deliver(updates.text(user, "/help"))
        replies = a.replies() + b.replies()
        assert len(replies) == 4
        assert sum("очень часто" in text for text in replies) == 1
        # Throttled updates are still logged: the record of what the person sent is complete.
        inbound, distinct, _ = await inbound_outbound(a.app)
        assert (inbound, distinct) == (6, 6)
    finally:
        await stop_replicas([a, b])
