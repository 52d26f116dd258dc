"""Outbox delivery against the Bot API stand-in: success, 429, 5xx, 403 and crash-restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot

from bench.telegram_standin import TelegramStandIn
from bot.sender import BotSender
from common.clock import ManualClock
from concierge.contact_policy import ContactPolicy
from concierge.notify import MessageClass, Outgoing
from crm_adapter.sql import SqlCrm
from scheduler.delivery import DeliveryWorker
from scheduler.outbox import OutboxNotifier
from tests.integration.scheduler.conftest import add_client, add_staff


def make_worker(crm: SqlCrm, bot: Bot, clock: ManualClock, **kwargs: object) -> DeliveryWorker:
    options: dict[str, object] = {
        "worker_id": "test-worker",
        "rate_per_second": 1000.0,
        "per_chat_interval": 0.0,
        "poll_interval": 0.01,
        "warm_up": 0.0,
    }
    options.update(kwargs)
    return DeliveryWorker(crm, {"telegram": BotSender(bot)}, clock, **options)  # type: ignore[arg-type]


def notifier(crm: SqlCrm, clock: ManualClock) -> OutboxNotifier:
    return OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))


def note(key: str, cls: MessageClass = MessageClass.SERVICE) -> Outgoing:
    return Outgoing(text=f"Ваша карта готова ref={key}", message_class=cls, occasion_key=key)


async def statuses(crm: SqlCrm) -> dict[str, int]:
    async with crm.unit_of_work() as uow:
        return await uow.outbox.counts()


async def test_queued_message_is_sent_once_and_logged(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    assert await notifier(crm, clock).to_client(1, note("card:1"))
    assert not await notifier(crm, clock).to_client(1, note("card:1"))  # same occasion
    await make_worker(crm, bot, clock).drain()
    assert standin.stats.accepted == {"card:1": 1}
    assert await statuses(crm) == {"sent": 1}
    async with crm.unit_of_work() as uow:
        kinds = [i.kind for i in await uow.interactions.for_client(1)]
        decisions = await uow.contact_decisions.for_client(1)
    assert kinds.count("contact_decision") == 2 and "notification" in kinds
    assert [d.reason for d in decisions] == ["duplicate_occasion", "allowed"]


async def test_a_phone_reaches_the_client_and_the_sent_copy_keeps_it_masked(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    # A manager's reply to a request ("the courier will call from ...") goes through the
    # outbox; found by a scan of the whole store after a console session (issue 21).
    await add_client(crm, client_id=1, chat_id=1001)
    reply = Outgoing(
        text="Курьер позвонит с +7 916 555-12-34 ref=courier",
        message_class=MessageClass.SERVICE,
        occasion_key="courier",
    )
    assert await notifier(crm, clock).to_client(1, reply)
    await make_worker(crm, bot, clock).drain()
    assert standin.stats.texts == [(1001, reply.text)]
    async with crm.unit_of_work() as uow:
        (sent,) = await uow.outbox.by_status("sent")
    assert sent.text == "Курьер позвонит с [phone] ref=courier"


async def test_flood_control_429_waits_retry_after_and_does_not_burn_attempts(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    for i in range(2):
        await notifier(crm, clock).to_client(1, note(f"card:{i}"))
    worker = make_worker(crm, bot, clock)  # no per-chat spacing: the stand-in answers 429
    await worker.drain()
    assert standin.stats.too_many_requests == 1
    assert await statuses(crm) == {"sent": 1, "pending": 1}
    async with crm.unit_of_work() as uow:
        (waiting,) = await uow.outbox.by_status("pending")
    assert waiting.attempts == 0 and waiting.last_error and "429" in waiting.last_error
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    await worker.drain()  # the limiter itself sleeps out retry_after in real time
    assert await statuses(crm) == {"sent": 2}
    assert sum(standin.stats.accepted.values()) == 2


async def test_server_errors_retry_with_backoff_then_give_up(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    await notifier(crm, clock).to_client(1, note("a"))
    standin.error_rate = 1.0
    worker = make_worker(crm, bot, clock, max_attempts=3, backoff_base=10.0)
    delays = []
    for _ in range(3):
        await worker.drain()
        async with crm.unit_of_work() as uow:
            rows = await uow.outbox.by_status("pending")
        if rows:
            delays.append((rows[0].next_attempt_at - clock.now()).total_seconds())
        clock.advance(timedelta(minutes=5))
    assert standin.stats.server_errors == 3
    assert 8 <= delays[0] <= 12 and 16 <= delays[1] <= 24  # exponential, with jitter
    assert await statuses(crm) == {"failed": 1}


async def test_server_error_then_success_delivers_exactly_once(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    await notifier(crm, clock).to_client(1, note("a"))
    standin.error_rate = 1.0
    worker = make_worker(crm, bot, clock)
    await worker.drain()
    standin.error_rate = 0.0
    clock.advance(timedelta(minutes=1))
    await worker.drain()
    assert standin.stats.accepted == {"a": 1}
    assert await statuses(crm) == {"sent": 1}


async def test_bot_blocked_marks_channel_and_stops_sending(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    await notifier(crm, clock).to_client(1, note("a"))
    await notifier(crm, clock).to_client(1, note("b"))
    standin.blocked_chats.add(1001)
    await make_worker(crm, bot, clock, max_in_flight=1).drain()
    assert standin.stats.forbidden == 1
    assert await statuses(crm) == {"blocked": 2}
    async with crm.unit_of_work() as uow:
        link = await uow.links.for_client(1)
    assert link is not None and link.blocked_at is not None
    assert not await notifier(crm, clock).to_client(1, note("c"))
    async with crm.unit_of_work() as uow:
        assert (await uow.contact_decisions.for_client(1))[0].reason == "channel_blocked"


async def test_consent_withdrawn_while_deferred_is_not_sent(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    clock.advance(timedelta(hours=14))  # 02:00 Moscow: deferred to 09:00
    assert await notifier(crm, clock).to_client(1, note("a"))
    async with crm.unit_of_work() as uow:
        await uow.consents.withdraw(1, now=clock.now())
        await uow.commit()
    clock.advance(timedelta(hours=8))
    await make_worker(crm, bot, clock).drain()
    assert standin.stats.accepted_total == 0
    assert await statuses(crm) == {"failed": 1}


async def test_cancelling_the_worker_mid_request_still_confirms_the_send(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    await notifier(crm, clock).to_client(1, note("a"))
    standin.hold = asyncio.Event()
    worker = make_worker(crm, bot, clock)
    worker.start()
    await asyncio.wait_for(standin.received.wait(), 5)
    stopping = asyncio.create_task(worker.stop())  # cancel while the request is on the wire
    await asyncio.sleep(0.05)
    standin.hold.set()
    await asyncio.wait_for(stopping, 5)
    assert await statuses(crm) == {"sent": 1}
    await make_worker(crm, bot, clock).drain()  # a restart finds nothing to redo
    assert standin.stats.accepted == {"a": 1}


class Crash(Exception):
    """Stands for the process dying between the request and the confirm."""


@pytest.mark.parametrize(
    ("message_class", "expected_copies", "final_status"),
    [(MessageClass.SERVICE, 2, "sent"), (MessageClass.MARKETING, 1, "failed")],
)
async def test_crash_between_send_and_confirm_is_reconciled_by_class(  # noqa: PLR0917 - fixtures
    crm: SqlCrm,
    bot: Bot,
    clock: ManualClock,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
    message_class: MessageClass,
    expected_copies: int,
    final_status: str,
) -> None:
    await add_client(crm, client_id=1, chat_id=1001)
    await notifier(crm, clock).to_client(1, note("a", message_class))
    crashing = make_worker(crm, bot, clock)

    async def crash(*_args: object) -> None:
        raise Crash

    monkeypatch.setattr(crashing, "_confirm", crash)
    await crashing.drain()
    assert await statuses(crm) == {"sending": 1}
    standin.per_chat_interval = 0.0  # the resend follows at once; flood control is not tested here
    restarted = make_worker(crm, bot, clock)  # same worker id: its own row is stranded
    await restarted.drain()
    # Telegram has no idempotent send: service is resent (at-least-once, a duplicate the
    # stand-in can see), marketing is given up (at-most-once).
    assert standin.stats.accepted == {"a": expected_copies}
    assert await statuses(crm) == {final_status: 1}


async def test_staff_messages_skip_consent_and_quiet_hours(
    crm: SqlCrm, bot: Bot, clock: ManualClock, standin: TelegramStandIn
) -> None:
    await add_staff(crm, staff_id=5, chat_id=5005)
    clock.advance(timedelta(hours=14))  # 02:00 Moscow
    assert await notifier(crm, clock).to_staff(5, note("escalation:1"))
    await make_worker(crm, bot, clock).drain()
    assert standin.stats.accepted == {"escalation:1": 1}


@pytest.mark.postgres
async def test_concurrent_leases_on_postgres_never_overlap(pg_crm: SqlCrm) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 9, 0, tzinfo=UTC))
    await add_client(pg_crm, client_id=1, chat_id=1001)
    for i in range(40):
        await notifier(pg_crm, clock).to_client(1, note(f"n:{i}"))

    async def lease(worker: str) -> list[int]:
        async with pg_crm.unit_of_work() as uow:
            rows = await uow.outbox.lease_due(
                now=clock.now(), worker_id=worker, limit=15, lease=timedelta(seconds=60)
            )
            await asyncio.sleep(0.05)  # hold the row locks while the others try
            await uow.commit()
        return [r.id for r in rows]

    batches = await asyncio.gather(*(lease(f"w{i}") for i in range(4)))
    leased = [i for batch in batches for i in batch]
    assert len(leased) == len(set(leased)) == 40  # SKIP LOCKED: disjoint, nothing lost
