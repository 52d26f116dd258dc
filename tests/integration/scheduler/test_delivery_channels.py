"""The outbox in two messengers: MAX through its transport to the MAX stand-in, with MAX's own
rate limit, 429 and a stopped bot, beside Telegram's stand-in, each with its own limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from bench.max_standin import Limits, MaxStandIn
from bench.telegram_standin import TelegramStandIn
from bot.app import MAX_BOT_TOKEN_SHAPE
from bot.max.session import MaxTransport
from bot.sender import BotSender
from common.clock import ManualClock
from common.settings import MaxSettings, SchedulerSettings, Settings
from concierge.contact_policy import ContactPolicy
from concierge.notify import MessageClass, Outgoing
from crm_adapter.sql import SqlCrm
from scheduler.delivery import ChannelLimits, DeliveryWorker
from scheduler.outbox import OutboxNotifier
from tests.factories import link_account
from tests.integration.scheduler.conftest import START, add_client

TOKEN = "max-delivery-token"
MAX_USER, TELEGRAM_CHAT = 5501, 1001


@pytest.fixture
async def max_api() -> AsyncIterator[MaxStandIn]:
    async with MaxStandIn(token=TOKEN) as api:
        yield api


@pytest.fixture
async def max_bot(max_api: MaxStandIn) -> AsyncIterator[Bot]:
    bot = Bot(
        MAX_BOT_TOKEN_SHAPE,
        session=MaxTransport(TOKEN, api_url=max_api.base_url),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    yield bot
    await bot.session.close()


async def _link_max(crm: SqlCrm, client_id: int) -> None:
    await link_account(
        crm,
        client_id=client_id,
        user=MAX_USER,
        now=START + timedelta(minutes=1),
        messenger="max",
        language="ru",
    )


def _worker(
    crm: SqlCrm, clock: ManualClock, senders: dict[str, BotSender], **limits: ChannelLimits
) -> DeliveryWorker:
    return DeliveryWorker(
        crm,
        senders,
        clock,
        worker_id="channels",
        limits=limits,
        poll_interval=0.01,
        warm_up=0.0,
    )


def _note(key: str) -> Outgoing:
    return Outgoing(
        text=f"Ваша карта готова ref={key}", message_class=MessageClass.SERVICE, occasion_key=key
    )


async def _enqueue(crm: SqlCrm, clock: ManualClock, *keys: str) -> None:
    notifier = OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))
    for key in keys:
        assert await notifier.to_client(1, _note(key))


async def _counts(crm: SqlCrm) -> dict[str, int]:
    async with crm.unit_of_work() as uow:
        return await uow.outbox.counts()


async def test_each_messenger_gets_its_own_messages_and_limits(
    crm: SqlCrm,
    clock: ManualClock,
    bot: Bot,
    standin: TelegramStandIn,
    max_bot: Bot,
    max_api: MaxStandIn,
) -> None:
    await add_client(crm, client_id=1, chat_id=TELEGRAM_CHAT)
    await add_client(crm, client_id=2, chat_id=None)
    await _link_max(crm, 2)
    await _enqueue(crm, clock, "tg")
    notifier = OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))
    assert await notifier.to_client(2, _note("mx"))
    worker = _worker(
        crm,
        clock,
        {"telegram": BotSender(bot), "max": BotSender(max_bot)},
        telegram=ChannelLimits(1000.0, 0.0),
        max=ChannelLimits(1000.0, 0.0),
    )
    await worker.drain()
    assert standin.stats.accepted == {"tg": 1}
    (sent,) = max_api.messages_to(MAX_USER)
    assert sent.text == "Ваша карта готова ref=mx"
    assert await _counts(crm) == {"sent": 2}
    async with crm.unit_of_work() as uow:
        logged = [
            (i.messenger, i.kind)
            for i in await uow.interactions.for_client(2)
            if i.direction == "out"
        ]
    assert logged == [("max", "notification")]


async def test_a_worker_without_a_max_sender_leaves_max_messages_queued(
    crm: SqlCrm, clock: ManualClock, bot: Bot, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=None)
    await _link_max(crm, 1)
    await _enqueue(crm, clock, "mx")
    await _worker(crm, clock, {"telegram": BotSender(bot)}).drain()
    assert await _counts(crm) == {"pending": 1}


async def test_max_429_pauses_max_only_and_retries_without_burning_attempts(
    crm: SqlCrm, clock: ManualClock, max_bot: Bot, max_api: MaxStandIn
) -> None:
    max_api.limits = Limits(per_second=1, retry_after=1)
    await add_client(crm, client_id=1, chat_id=None)
    await _link_max(crm, 1)
    await _enqueue(crm, clock, "a", "b")
    worker = _worker(crm, clock, {"max": BotSender(max_bot)}, max=ChannelLimits(1000.0, 0.0))
    await worker.drain()
    assert max_api.too_many_requests == 1
    assert await _counts(crm) == {"sent": 1, "pending": 1}
    async with crm.unit_of_work() as uow:
        (waiting,) = await uow.outbox.by_status("pending")
    assert waiting.attempts == 0 and waiting.last_error and "429" in waiting.last_error
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    await worker.drain()  # the MAX limiter sleeps out MAX's Retry-After in real time
    assert await _counts(crm) == {"sent": 2}
    assert sorted(s.text for s in max_api.messages_to(MAX_USER)) == [
        "Ваша карта готова ref=a",
        "Ваша карта готова ref=b",
    ]


async def test_a_stopped_max_bot_blocks_only_the_max_account(
    crm: SqlCrm,
    clock: ManualClock,
    bot: Bot,
    standin: TelegramStandIn,
    max_bot: Bot,
    max_api: MaxStandIn,
) -> None:
    await add_client(crm, client_id=1, chat_id=TELEGRAM_CHAT)
    await _link_max(crm, 1)  # linked last: the bank's messages go to MAX
    await _enqueue(crm, clock, "a")
    max_api.limits.stopped_users.add(MAX_USER)
    senders = {"telegram": BotSender(bot), "max": BotSender(max_bot)}
    await _worker(crm, clock, senders).drain()
    assert max_api.forbidden == 1 and await _counts(crm) == {"blocked": 1}
    async with crm.unit_of_work() as uow:
        links = {link.messenger: link for link in await uow.links.all_for_client(1)}
    assert links["max"].blocked_at is not None and links["telegram"].blocked_at is None
    # The next message falls back to Telegram, where the client still reads.
    await _enqueue(crm, clock, "b")
    await _worker(crm, clock, senders).drain()
    assert standin.stats.accepted == {"b": 1}


def test_max_limits_come_from_their_own_settings() -> None:
    settings = Settings(
        scheduler=SchedulerSettings(global_rate_per_second=25, per_chat_interval_seconds=1),
        max=MaxSettings(rate_per_second=12, per_chat_interval_seconds=0.5),
    )
    worker = DeliveryWorker.from_settings(settings, None, {"max": None}, None)  # type: ignore[arg-type, dict-item]
    limiter = worker.limiters["max"]
    assert limiter._spacing == pytest.approx(1 / 12) and limiter._per_chat == 0.5
