"""An outbox row that will never go out keeps its text masked, as a sent one does.

A message must carry what its reader needs in clear (a manager's reply with the courier's
phone) only until it is sent; a row that failed for good, was suppressed at send time or
stopped because the chat blocked the bot kept that text in clear until retention. Both
engines; the worker sends through a channel of the neutral port that fails as told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from common.clock import ManualClock
from concierge.contact_policy import ContactPolicy
from concierge.notify import MessageClass, Outgoing
from crm_adapter.dto import OutboxMessage
from crm_adapter.sql import SqlCrm
from scheduler.channel import Delivery, Rejected, SendFailure, TransientFailure
from scheduler.channel import RecipientBlocked as Blocked
from scheduler.delivery import DeliveryWorker
from scheduler.outbox import OutboxNotifier
from tests.integration.scheduler.conftest import START, add_client

PHONE = "+7 916 555-12-34"
MASKED = "[phone]"


class FailingChannel:
    """A messenger that answers every send with `failure` (None: accepts it)."""

    def __init__(self, failure: SendFailure | None) -> None:
        self.failure = failure
        self.sent: list[Delivery] = []

    async def send(self, delivery: Delivery) -> int:
        if self.failure is not None:
            raise self.failure
        self.sent.append(delivery)
        return len(self.sent)


@pytest.fixture
async def store(any_db_url: str) -> AsyncIterator[SqlCrm]:
    crm = SqlCrm.from_url(any_db_url)
    yield crm
    await crm.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _worker(crm: SqlCrm, channel: FailingChannel, clock: ManualClock) -> DeliveryWorker:
    return DeliveryWorker(
        crm,
        {"telegram": channel},
        clock,
        worker_id="test-worker",
        rate_per_second=1000.0,
        per_chat_interval=0.0,
        poll_interval=0.01,
        warm_up=0.0,
        max_attempts=1,
    )


async def _queue(crm: SqlCrm, clock: ManualClock, *keys: str) -> None:
    notifier = OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))
    for key in keys:
        reply = Outgoing(
            text=f"Курьер позвонит с {PHONE} ref={key}",
            message_class=MessageClass.SERVICE,
            occasion_key=key,
        )
        assert await notifier.to_client(1, reply)


async def _rows(crm: SqlCrm, status: str) -> list[OutboxMessage]:
    async with crm.unit_of_work() as uow:
        return await uow.outbox.by_status(status)


def _assert_masked(rows: list[OutboxMessage], count: int) -> None:
    assert len(rows) == count
    for row in rows:
        assert PHONE not in row.text and MASKED in row.text
        assert row.text.startswith("Курьер позвонит с ")  # the rest of the text is kept


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Rejected("Bad Request: message is too long"), "bad request"),
        (TransientFailure("TelegramServerError: Bad Gateway"), "gave up after 1 attempts"),
    ],
    ids=["rejected", "gave_up"],
)
async def test_a_failed_row_keeps_its_text_masked(
    store: SqlCrm, clock: ManualClock, failure: SendFailure, reason: str
) -> None:
    await add_client(store, client_id=1, chat_id=1001)
    await _queue(store, clock, "a")
    await _worker(store, FailingChannel(failure), clock).drain()
    failed = await _rows(store, "failed")
    _assert_masked(failed, 1)
    assert failed[0].last_error is not None and reason in failed[0].last_error


async def test_rows_stopped_by_a_blocked_chat_keep_their_text_masked(
    store: SqlCrm, clock: ManualClock
) -> None:
    await add_client(store, client_id=1, chat_id=1001)
    await _queue(store, clock, "a", "b")  # the second never reaches the messenger
    worker = _worker(store, FailingChannel(Blocked("Forbidden: bot was blocked")), clock)
    await worker.drain()
    _assert_masked(await _rows(store, "blocked"), 2)


async def test_a_row_suppressed_at_send_time_keeps_its_text_masked(
    store: SqlCrm, clock: ManualClock
) -> None:
    await add_client(store, client_id=1, chat_id=1001)
    clock.advance(timedelta(hours=14))  # 02:00 in Moscow: deferred to the morning
    await _queue(store, clock, "a")
    async with store.unit_of_work() as uow:
        await uow.consents.withdraw(1, now=clock.now())
        await uow.commit()
    clock.advance(timedelta(hours=8))
    channel = FailingChannel(None)
    await _worker(store, channel, clock).drain()
    assert channel.sent == []
    failed = await _rows(store, "failed")
    _assert_masked(failed, 1)
    assert failed[0].last_error == "suppressed at send time: no_consent"


async def test_a_sent_row_is_masked_and_a_waiting_one_still_clear(
    store: SqlCrm, clock: ManualClock
) -> None:
    """What still may go out keeps what its reader needs (the rule is for final states)."""
    await add_client(store, client_id=1, chat_id=1001)
    await _queue(store, clock, "a")
    [waiting] = await _rows(store, "pending")
    assert PHONE in waiting.text
    channel = FailingChannel(None)
    await _worker(store, channel, clock).drain()
    assert PHONE in channel.sent[0].text
    _assert_masked(await _rows(store, "sent"), 1)
