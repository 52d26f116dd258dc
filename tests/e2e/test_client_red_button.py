"""The red button: two questions, then manager -> backup -> duty desk when nobody answers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from common.clock import ManualClock
from concierge.request_queue import escalate_overdue
from crm_adapter import models as m
from tests.factories import MiniBank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, DUTY = 7201, 8201, 8202, 8203


async def _bank(harness: BotHarness) -> MiniBank:
    return await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)


async def _escalate(harness: BotHarness) -> list[int]:
    async with harness.app.crm.unit_of_work() as uow:
        moved = await escalate_overdue(uow, harness.app.notifier, harness.app.clock)
        await uow.commit()
    return [e.level for e in moved]


async def _press_sos(harness: BotHarness) -> None:
    client = harness.user(CLIENT)
    await harness.send(client, "/menu")
    await harness.press_button(client, "🆘")
    assert "Что случилось" in harness.last_text(CLIENT)
    await harness.press_button(client, "Карта утеряна")
    await harness.send(client, "Италия, Милан")


async def test_unanswered_red_button_climbs_to_backup_then_duty(
    harness: BotHarness, clock: ManualClock
) -> None:
    bank = await _bank(harness)
    await _press_sos(harness)
    booked = harness.last_text(CLIENT)
    assert "Срочная заявка" in booked and "Соколов Андрей" in booked and "10 минут" in booked
    assert "🆘" in harness.last_text(MANAGER) and "Италия, Милан" in harness.last_text(MANAGER)

    clock.advance(timedelta(minutes=9))
    assert await _escalate(harness) == []  # still inside the SLA
    clock.advance(timedelta(minutes=2))
    assert await _escalate(harness) == [1]
    assert "Эскалация, уровень 1" in harness.last_text(BACKUP)
    assert "заместитель — Орлова Марина" in harness.last_text(CLIENT)
    assert await _escalate(harness) == []  # a second run at once changes nothing

    clock.advance(timedelta(minutes=11))
    assert await _escalate(harness) == [2]
    assert "Эскалация, уровень 2" in harness.last_text(DUTY)
    assert "дежурная служба" in harness.last_text(CLIENT)
    clock.advance(timedelta(minutes=30))
    assert await _escalate(harness) == []  # the duty desk is the top of the chain

    await harness.press_button(harness.user(DUTY), "Принять")
    assert "Дежурная служба взял(а) в работу" in harness.last_text(CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        request = (await uow.requests.for_client(bank.client_id))[0]
        steps = (
            await uow.session.scalars(
                select(m.InteractionRow).where(m.InteractionRow.kind == "escalation")
            )
        ).all()
        audited = (
            await uow.session.scalars(
                select(m.AuditEntryRow).where(m.AuditEntryRow.action == "request_escalated")
            )
        ).all()
        assert [s.payload["level"] for s in steps if s.payload] == [1, 2]
        assert len(audited) == 2
    assert request.urgent and request.service_code == "lost_card_abroad"
    assert request.status == "accepted" and request.assignee_id == bank.duty_id


async def test_acknowledged_red_button_does_not_escalate(
    harness: BotHarness, clock: ManualClock
) -> None:
    await _bank(harness)
    await _press_sos(harness)
    await harness.press_button(harness.user(MANAGER), "Принять")
    clock.advance(timedelta(hours=1))
    assert await _escalate(harness) == []


async def test_absent_manager_means_the_backup_is_alerted_first(
    harness: BotHarness, clock: ManualClock
) -> None:
    bank = await _bank(harness)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.staff.set_absent(bank.manager_id, absent=True)
        await uow.commit()
    await _press_sos(harness)
    assert "Орлова Марина" in harness.last_text(CLIENT)
    assert "🆘" in harness.last_text(BACKUP)
    clock.advance(timedelta(minutes=11))
    assert await _escalate(harness) == [2]
