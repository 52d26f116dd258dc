"""A request is never left with someone no messenger can reach.

Regression tests for what testers found on the demo bank: a question the documents could not
answer, a service ordered in the wizard or the red button was assigned to the personal manager
even when the manager had no linked messenger account (or had blocked the bot), so no one was
told and the client waited for an escalation that a question never gets. The request now
starts at the first level with someone who can be told (as the relay passes a message on),
and that person is told at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from common.clock import ManualClock
from concierge.request_queue import escalate_overdue
from concierge.staffing import BACKUP_LEVEL, DUTY_LEVEL, MANAGER_LEVEL
from crm_adapter import models as m
from tests.factories import MiniBank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, DUTY = 7601, 8601, 8602, 8603


async def _requests(harness: BotHarness) -> list[Any]:
    async with harness.app.crm.unit_of_work() as uow:
        table = m.ServiceRequestRow.__table__
        return list(await uow.session.execute(select(table).order_by(table.c.id)))


async def _block_manager(harness: BotHarness, bank: MiniBank) -> None:
    """The manager's account refused the bot once (the outbox marked the link blocked)."""
    async with harness.app.crm.unit_of_work() as uow:
        link = await uow.links.for_staff(bank.manager_id)
        assert link is not None
        await uow.links.mark_blocked(
            link.chat_id, now=harness.clock.now(), messenger=link.messenger
        )
        await uow.commit()


async def _press_sos(harness: BotHarness) -> None:
    """The client reports a lost card abroad with the red button."""
    client = harness.user(CLIENT)
    await harness.send(client, "/menu")
    await harness.press_button(client, "🆘")
    await harness.press_button(client, "Карта утеряна")
    await harness.send(client, "Италия, Милан")


async def test_a_question_for_a_manager_with_no_linked_account_goes_to_the_backup(
    asking: BotHarness,
) -> None:
    bank = await asking.linked_bank(client=CLIENT, backup=BACKUP, duty=DUTY)
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    [request] = await _requests(asking)
    assert request.service_code == "question"
    assert (request.assignee_id, request.escalation_level) == (bank.backup_id, BACKUP_LEVEL)
    assert "хочу поговорить с менеджером" in asking.last_text(BACKUP)
    assert not any("хочу поговорить" in text for text in asking.texts(DUTY))
    # The client is told who will answer: the backup, not the manager no one could reach.
    handed = next(t for t in asking.texts(CLIENT) if "Орлова Марина" in t)
    assert "Соколов Андрей" not in handed


async def test_a_question_for_a_manager_who_blocked_the_bot_goes_to_the_backup(
    asking: BotHarness,
) -> None:
    bank = await asking.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    await _block_manager(asking, bank)
    sent_to_manager = len(asking.texts(MANAGER))
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    [request] = await _requests(asking)
    assert (request.assignee_id, request.escalation_level) == (bank.backup_id, BACKUP_LEVEL)
    assert "хочу поговорить с менеджером" in asking.last_text(BACKUP)
    assert len(asking.texts(MANAGER)) == sent_to_manager


async def test_a_question_no_one_before_the_duty_desk_can_receive_goes_to_the_duty_desk(
    asking: BotHarness,
) -> None:
    bank = await asking.linked_bank(client=CLIENT, duty=DUTY)
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    [request] = await _requests(asking)
    assert (request.assignee_id, request.escalation_level) == (bank.duty_id, DUTY_LEVEL)
    assert "хочу поговорить с менеджером" in asking.last_text(DUTY)


async def test_a_question_still_goes_to_a_manager_who_can_receive_it(asking: BotHarness) -> None:
    bank = await asking.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    [request] = await _requests(asking)
    assert (request.assignee_id, request.escalation_level) == (bank.manager_id, MANAGER_LEVEL)
    assert "хочу поговорить с менеджером" in asking.last_text(MANAGER)
    assert not any("хочу поговорить" in text for text in asking.texts(BACKUP))


async def test_a_service_from_the_wizard_goes_to_the_backup_when_the_manager_is_unlinked(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(client=CLIENT, backup=BACKUP, duty=DUTY)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Услуги")
    await harness.press_button(client, "Справка или документ")
    await harness.press_button(client, "Справка для визы")
    await harness.send(client, "Поездка в Италию")
    await harness.press_button(client, "Отправить")
    [request] = await _requests(harness)
    assert (request.assignee_id, request.escalation_level) == (bank.backup_id, BACKUP_LEVEL)
    assert "Волков Иван Петрович" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)


async def test_the_red_button_alerts_the_backup_at_once_when_the_manager_blocked_the_bot(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)
    await _block_manager(harness, bank)
    await _press_sos(harness)
    [request] = await _requests(harness)
    assert (request.assignee_id, request.escalation_level) == (bank.backup_id, BACKUP_LEVEL)
    assert "🆘" in harness.last_text(BACKUP) and "Италия, Милан" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)


async def test_an_escalation_passes_over_a_backup_no_messenger_reaches(
    harness: BotHarness, clock: ManualClock
) -> None:
    """The manager was told and did not answer; the backup has no linked account, so the
    request climbs straight to the duty desk instead of waiting another SLA period unseen."""
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, duty=DUTY)
    await _press_sos(harness)
    assert "🆘" in harness.last_text(MANAGER)
    clock.advance(timedelta(minutes=11))
    async with harness.app.crm.unit_of_work() as uow:
        moved = await escalate_overdue(uow, harness.app.notifier, harness.app.clock)
        await uow.commit()
    assert [(e.level, e.staff_ids) for e in moved] == [(DUTY_LEVEL, [bank.duty_id])]
    assert "Эскалация, уровень 2" in harness.last_text(DUTY)


async def test_with_no_one_to_tell_and_no_duty_roster_the_manager_keeps_the_request(
    asking: BotHarness,
) -> None:
    """Not an unassigned request: without a duty desk it stays with the first in turn."""
    bank = await asking.linked_bank(client=CLIENT)
    async with asking.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.duty_id).values(roles="")
        )
        await uow.commit()
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    [request] = await _requests(asking)
    assert (request.assignee_id, request.escalation_level) == (bank.manager_id, MANAGER_LEVEL)
