"""A reply to an old relayed message is checked against the staff member's access of now.

Regression tests for issue 21: a manager whose client was reassigned, or whose role became
coordinator, could still write to the client by replying to an old relayed message, and the
reply left no audit entry. Relay mappings now expire too.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from common.clock import ManualClock
from concierge.access import client_chat
from concierge.relay import ReplyRefusal, relay_to_client
from crm_adapter import models as m
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP = 7401, 8401, 8402


async def _relayed(harness: BotHarness) -> MiniBank:
    """The client wrote to the manager; the manager holds the relayed message."""
    bank = await make_bank(harness.app.crm)
    await harness.link(harness.user(CLIENT), client_id=bank.client_id)
    await harness.link(harness.user(MANAGER), staff_id=bank.manager_id)
    await harness.link(harness.user(BACKUP), staff_id=bank.backup_id)
    await harness.press_button(harness.user(CLIENT), "Мой менеджер")
    await harness.send(harness.user(CLIENT), "Прошу перезвонить завтра утром")
    assert "Прошу перезвонить" in harness.last_text(MANAGER)
    return bank


async def _reply(harness: BotHarness, text: str) -> None:
    relayed = next(
        c.result
        for c in reversed(harness.session.calls)
        if getattr(c.method, "chat_id", None) == MANAGER
        and "Прошу перезвонить" in getattr(c.method, "text", "")
    )
    await harness.send(harness.user(MANAGER), text, reply_to_message=relayed)


async def _relay_audit(harness: BotHarness) -> list[tuple[str, int | None, dict[str, object]]]:
    async with harness.app.crm.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(
                m.AuditEntryRow.outcome, m.AuditEntryRow.subject_client_id, m.AuditEntryRow.details
            ).where(m.AuditEntryRow.action == "relay_reply")
        )
        return [(o, s, d or {}) for o, s, d in rows]


async def _staff_change(harness: BotHarness, staff_id: int, **values: object) -> None:
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == staff_id).values(**values)
        )
        await uow.commit()


async def test_a_reply_in_scope_is_delivered_and_audited(harness: BotHarness) -> None:
    bank = await _relayed(harness)
    await _reply(harness, "Конечно, в десять")
    assert harness.last_text(CLIENT).endswith("Конечно, в десять")
    [(outcome, subject, details)] = await _relay_audit(harness)
    assert (outcome, subject, details["media"]) == ("ok", bank.client_id, False)


async def test_reply_after_the_client_was_reassigned_is_refused_and_audited(
    harness: BotHarness,
) -> None:
    bank = await _relayed(harness)
    async with harness.app.crm.unit_of_work() as uow:
        # Another manager (not one the old manager backs up) takes the client over.
        await uow.session.execute(
            update(m.ClientRow)
            .where(m.ClientRow.id == bank.client_id)
            .values(manager_id=bank.admin_id)
        )
        await uow.commit()
    sent_before = len(harness.texts(CLIENT))
    await _reply(harness, "Отвечаю по старой переписке")
    assert len(harness.texts(CLIENT)) == sent_before, "the client must get nothing"
    assert "больше не в вашем доступе" in harness.last_text(MANAGER)
    [(outcome, subject, details)] = await _relay_audit(harness)
    assert (outcome, subject, details["reason"]) == ("denied", bank.client_id, "no_access")


async def test_reply_after_the_role_became_coordinator_is_refused_and_audited(
    harness: BotHarness,
) -> None:
    bank = await _relayed(harness)
    await _staff_change(harness, bank.manager_id, roles="coordinator")
    sent_before = len(harness.texts(CLIENT))
    await _reply(harness, "Я теперь координатор, но отвечу")
    assert len(harness.texts(CLIENT)) == sent_before
    assert "больше не в вашем доступе" in harness.last_text(MANAGER)
    [(outcome, _, details)] = await _relay_audit(harness)
    assert (outcome, details["reason"]) == ("denied", "no_access")


async def test_a_relayed_message_past_its_reply_window_is_refused(
    harness: BotHarness, clock: ManualClock
) -> None:
    await _relayed(harness)
    days = harness.app.settings.behaviour.relay_reply_days
    clock.advance(timedelta(days=days, minutes=1))
    sent_before = len(harness.texts(CLIENT))
    await _reply(harness, "Ответ через много дней")
    assert len(harness.texts(CLIENT)) == sent_before
    assert f"больше {days} дн" in harness.last_text(MANAGER)
    [(outcome, _, details)] = await _relay_audit(harness)
    assert (outcome, details["reason"]) == ("denied", ReplyRefusal.EXPIRED.value)


async def test_a_deactivated_member_is_refused_by_the_use_case(harness: BotHarness) -> None:
    """The bot already treats a deactivated account as a stranger; the use case, which the
    web desk and other channels call too, refuses on its own."""
    bank = await _relayed(harness)
    await _staff_change(harness, bank.manager_id, active=False)
    async with harness.app.crm.unit_of_work() as uow:
        manager = await uow.staff.get(bank.manager_id)
        mapping = await uow.session.scalar(select(m.RelayedMessageRow))
        assert manager is not None and mapping is not None

        class NoCourier:
            async def send_text(self, chat_id: int, text: str) -> list[int]:
                raise AssertionError("nothing may be sent")

            async def copy(self, *, to_chat_id: int, from_chat_id: int, message_id: int) -> int:
                raise AssertionError("nothing may be sent")

        outcome = await relay_to_client(
            uow,
            NoCourier(),
            harness.clock,
            staff=manager,
            staff_chat_id=mapping.staff_chat_id,
            reply_to_message_id=mapping.message_id,
            message_id=999,
            text="Пишу после увольнения",
            has_media=False,
        )
        await uow.commit()
    assert outcome is not None and outcome.refusal is ReplyRefusal.NO_ACCESS
    [(outcome_name, _, _)] = await _relay_audit(harness)
    assert outcome_name == "denied"


async def test_the_backup_still_answers_for_the_absent_manager(harness: BotHarness) -> None:
    bank = await _relayed(harness)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.staff.set_absent(bank.manager_id, absent=True)
        await uow.commit()
    await harness.send(harness.user(CLIENT), "Кто меня слышит сегодня?")
    await harness.send(
        harness.user(BACKUP), "Я, дублёр", reply_to_message=harness.last_message(BACKUP)
    )
    assert harness.last_text(CLIENT).endswith("Я, дублёр")


async def test_a_request_reply_after_the_role_became_coordinator_is_refused(
    harness: BotHarness,
) -> None:
    """The request card's Reply button: the assignee whose role changed acts no more."""
    bank = await make_bank(harness.app.crm)
    await harness.link(harness.user(CLIENT), client_id=bank.client_id)
    await harness.link(harness.user(MANAGER), staff_id=bank.manager_id)
    await harness.send(harness.user(CLIENT), "/menu")
    await harness.press_button(harness.user(CLIENT), "Настройки")
    await harness.press_button(harness.user(CLIENT), "Выгрузить мои данные")
    await harness.press_button(harness.user(CLIENT), "Да, подтверждаю")
    assert "💬 Ответить" in harness.last_buttons(MANAGER)
    # While the manager still serves clients the reply works; then the role changes.
    await _staff_change(harness, bank.manager_id, roles="manager,coordinator")
    await harness.press_button(harness.user(MANAGER), "Ответить")
    await _staff_change(harness, bank.manager_id, roles="coordinator")
    sent_before = len(harness.texts(CLIENT))
    await harness.send(harness.user(MANAGER), "Готовлю выгрузку")
    assert len(harness.texts(CLIENT)) == sent_before
    async with harness.app.crm.unit_of_work() as uow:
        outcomes = list(
            await uow.session.execute(
                select(m.AuditEntryRow.outcome).where(m.AuditEntryRow.action == "request_comment")
            )
        )
    assert [o for (o,) in outcomes] == ["denied"]


async def test_the_duty_desk_cannot_reply_to_a_client_removed_in_the_crm(
    harness: BotHarness, clock: ManualClock
) -> None:
    # The duty desk answers for every client, so its check skipped the client's own state:
    # a client the bank's CRM no longer has (out of service) still got its replies.
    bank = await _relayed(harness)
    await _staff_change(harness, bank.manager_id, roles="manager,duty")
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.ClientRow)
            .where(m.ClientRow.id == bank.client_id)
            .values(crm_removed_at=clock.now(), manager_id=None)
        )
        await uow.commit()
    sent_before = len(harness.texts(CLIENT))
    await _reply(harness, "Отвечаю как дежурный")
    assert len(harness.texts(CLIENT)) == sent_before, "the client must get nothing"
    [(outcome, _, details)] = await _relay_audit(harness)
    assert outcome == "denied", details


async def test_no_document_is_copied_to_a_client_removed_in_the_crm(
    harness: BotHarness, clock: ManualClock
) -> None:
    # A staff member's document on a request is copied straight to the client's chat (not
    # through the outbox, which holds back messages to clients out of service): the chat
    # was handed out for a client the bank's CRM no longer has.
    bank = await _relayed(harness)
    async with harness.app.crm.unit_of_work() as uow:
        chat = await client_chat(uow, bank.client_id)
        assert chat is not None and chat.chat_id == CLIENT
        await uow.session.execute(
            update(m.ClientRow)
            .where(m.ClientRow.id == bank.client_id)
            .values(crm_removed_at=clock.now())
        )
        await uow.commit()
    async with harness.app.crm.unit_of_work() as uow:
        assert await client_chat(uow, bank.client_id) is None
