"""The rule engine on a real CRM: occasions fire once, at the preferred local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram import Bot

from bench.telegram_standin import TelegramStandIn
from bot.sender import BotSender
from common.clock import ManualClock
from concierge.contact_policy import ContactPolicy
from concierge.notify import MessageClass, Outgoing
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from scheduler.delivery import DeliveryWorker
from scheduler.outbox import OutboxNotifier
from scheduler.rules import RuleEngine, load_rules
from tests.integration.scheduler.conftest import add_client, add_staff

MSK = ZoneInfo("Europe/Moscow")


def engine(crm: SqlCrm, clock: ManualClock) -> RuleEngine:
    notifier = OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))
    return RuleEngine(crm, notifier, clock, load_rules())


async def test_birthday_fires_once_and_waits_for_ten_local(crm: SqlCrm) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 0, 5, tzinfo=MSK))
    await add_staff(crm, staff_id=1, chat_id=501)
    await add_client(crm, client_id=7, chat_id=701, birthday=date(1975, 6, 15), manager_id=1)
    first = await engine(crm, clock).evaluate()
    assert sorted(first.fired) == ["birthday_greeting:7:2026", "birthday_manager_heads_up:7:2026"]
    clock.advance(timedelta(hours=1))
    again = await engine(crm, clock).evaluate()
    assert again.fired == []  # the unique occasion key holds across evaluations
    async with crm.unit_of_work() as uow:
        pending = {msg.chat_id: msg for msg in await uow.outbox.by_status("pending")}
    assert pending[701].not_before == datetime(2026, 6, 15, 10, 0, tzinfo=MSK)
    assert pending[501].not_before == datetime(2026, 6, 15, 9, 30, tzinfo=MSK)
    assert "Анна Сергеевна" in pending[701].text


async def test_manager_hears_of_large_incoming_funds(
    crm: SqlCrm, bot: Bot, standin: TelegramStandIn
) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 12, 0, tzinfo=MSK))
    await add_staff(crm, staff_id=1, chat_id=501)
    await add_client(crm, client_id=7, chat_id=701, manager_id=1)
    async with crm.unit_of_work() as uow:
        uow.session.add(
            m.TransactionRow(
                client_id=7,
                occurred_at=clock.now() - timedelta(hours=2),
                amount_rub=Decimal(7_500_000),
                category="transfer_in",
            )
        )
        await uow.commit()
    report = await engine(crm, clock).evaluate()
    assert report.fired == ["large_incoming_funds:7:1"]
    await DeliveryWorker(
        crm, {"telegram": BotSender(bot)}, clock, worker_id="w", per_chat_interval=0.0, warm_up=0.0
    ).drain()
    ((chat, text),) = standin.stats.texts
    assert chat == 501 and "7\u00a0500\u00a0000\u00a0₽" in text


async def test_rule_for_client_without_consent_fires_once_and_is_logged(crm: SqlCrm) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 12, 0, tzinfo=MSK))
    await add_client(crm, client_id=7, chat_id=701, consent=False, birthday=date(1975, 6, 15))
    report = await engine(crm, clock).evaluate()
    assert report.fired == ["birthday_greeting:7:2026"] and report.suppressed == 1
    assert (await engine(crm, clock).evaluate()).fired == []
    async with crm.unit_of_work() as uow:
        (decision,) = await uow.contact_decisions.for_client(7)
        history = await uow.interactions.for_client(7)
    assert decision.reason == "no_consent"
    assert history[0].kind == "contact_decision" and history[0].direction == "internal"


async def test_marketing_cap_counts_queued_offers(crm: SqlCrm) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 12, 0, tzinfo=MSK))
    await add_client(crm, client_id=7, chat_id=701)
    notifier = OutboxNotifier(crm, clock, ContactPolicy(marketing_per_week=2))
    for i in range(3):
        await notifier.to_client(
            7,
            Outgoing(
                text=f"offer {i}", occasion_key=f"offer:{i}", message_class=MessageClass.MARKETING
            ),
        )
    async with crm.unit_of_work() as uow:
        decisions = list(reversed(await uow.contact_decisions.for_client(7)))
    assert [(d.outcome, d.reason) for d in decisions] == [
        ("send", "allowed"),
        ("send", "allowed"),
        ("defer", "frequency_cap"),
    ]
    assert decisions[2].not_before == clock.now() + timedelta(days=7)


async def test_quiet_hours_defer_a_service_message_to_the_morning(crm: SqlCrm) -> None:
    clock = ManualClock(datetime(2026, 6, 15, 23, 30, tzinfo=MSK))
    await add_client(crm, client_id=7, chat_id=701)
    notifier = OutboxNotifier(crm, clock, ContactPolicy())
    assert await notifier.to_client(7, Outgoing(text="status", occasion_key="req:1"))
    async with crm.unit_of_work() as uow:
        (message,) = await uow.outbox.by_status("pending")
        (decision,) = await uow.contact_decisions.for_client(7)
    assert message.not_before == datetime(2026, 6, 16, 9, 0, tzinfo=MSK).astimezone(UTC)
    assert (decision.outcome, decision.reason) == ("defer", "quiet_hours")
