"""Service requests end to end: menu -> guided steps -> confirm -> manager -> rating."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import CopyMessage, SendMessage
from sqlalchemy import select

from common.clock import ManualClock
from crm_adapter import models as m
from tests.e2e.journeys import order_cash_delivery, the_rated_request
from tests.factories import MiniBank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, DUTY, OTHER = 7101, 8101, 8102, 8103, 7102


async def _bank(harness: BotHarness) -> MiniBank:
    return await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)


async def _comment_on_a_visa_letter(harness: BotHarness, purpose: str) -> None:
    """The client asks for a visa letter, then starts a comment on it from "My requests"."""
    client = harness.user(CLIENT)
    await harness.press_button(client, "Услуги")
    await harness.press_button(client, "Справка или документ")
    await harness.press_button(client, "Справка для визы")
    await harness.send(client, purpose)
    await harness.press_button(client, "Отправить")
    await harness.press_button(client, "Мои заявки")
    await harness.press_button(client, "#")
    await harness.press_button(client, "Комментарий")


async def test_cash_delivery_from_menu_to_rating(harness: BotHarness) -> None:
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await order_cash_delivery(harness, CLIENT, MANAGER)
    assert "22.11.2026 19:00" in harness.last_text(CLIENT)  # ack 1 h, Moscow
    # The client's segment by its name, not the CRM's code.
    assert "Волков Иван Петрович</b> · стабильный хранитель" in harness.last_text(MANAGER)
    assert {"✋ Принять", "✅ Решено", "💬 Ответить"} <= set(harness.last_buttons(MANAGER))

    await harness.press_button(manager, "Принять")
    assert "взял(а) в работу" in harness.last_text(CLIENT)
    await harness.press_button(manager, "Ответить")
    await harness.send(manager, "Курьер будет в 12:00 <b>точно</b>")
    assert "Курьер будет в 12:00 &lt;b&gt;точно&lt;/b&gt;" in harness.last_text(CLIENT)
    await harness.press_button(manager, "Решено")
    assert "выполнена" in harness.last_text(CLIENT)

    await harness.press_button(client, "2 ⭐")
    assert "оценил(а) заявку" in harness.last_text(MANAGER)  # a low score alerts the manager
    await harness.press_button(client, "Добавить комментарий")
    await harness.send(client, "Курьер опоздал")
    assert "Курьер опоздал" in harness.last_text(MANAGER)

    request, feedback = await the_rated_request(harness, bank.client_id)
    assert request.status == "resolved" and request.details is not None
    assert request.details["answers"]["amount"] == "1500000.50"
    assert feedback is not None and feedback.score == 2 and feedback.comment == "Курьер опоздал"


async def test_english_wizard_back_cancel_and_retries(harness: BotHarness) -> None:
    await _bank(harness)
    client = harness.user(CLIENT)
    await harness.send(client, "/language")
    await harness.press_button(client, "English")
    await harness.send(client, "/menu")
    await harness.press_button(client, "Services")
    await harness.press_button(client, "Meeting with the manager")
    await harness.send(client, "tomorrow")
    assert "25.12.2026 14:30" in harness.last_text(CLIENT)
    await harness.send_content(client, "sticker")
    assert "text answer or a button" in harness.last_text(CLIENT)
    await harness.send(client, "24.11.2026 11:00")
    await harness.send(client, "somewhere")
    assert "choose an option with a button" in harness.last_text(CLIENT)
    await harness.press_button(client, "Back")
    assert "step 1 of 3" in harness.last_text(CLIENT)
    await harness.send(client, "24.11.2026 12:00")
    await harness.press_button(client, "Video call")
    await harness.send(client, "Succession planning")
    assert "12:00" in harness.last_text(CLIENT) and "Video call" in harness.last_text(CLIENT)
    await harness.press_button(client, "Cancel")
    assert harness.last_text(CLIENT).startswith("Cancelled")
    async with harness.app.crm.unit_of_work() as uow:
        assert (await uow.session.scalars(select(m.ServiceRequestRow))).all() == []


async def test_forged_and_stale_request_buttons_are_refused_and_audited(
    harness: BotHarness,
) -> None:
    bank = await _bank(harness)
    other = harness.user(OTHER)
    await harness.link(other, client_id=bank.other_client_id)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Срочная помощь")
    await harness.press_button(client, "Срочный перевод")
    await harness.send(client, "Дубай, ОАЭ")
    async with harness.app.crm.unit_of_work() as uow:
        request_id = (await uow.requests.for_client(bank.client_id))[0].id

    await harness.press(other, f"creq:cancel:{request_id}")
    await harness.press(other, f"creq:open:{request_id}")
    assert harness.alerts()[-1] == "Эта заявка вам недоступна."
    # Another manager's staff (the backup of someone else) may not accept it either.
    stranger = harness.user(8109)
    await harness.link(stranger, staff_id=bank.coordinator_id)
    await harness.press(stranger, f"sreq:accept:{request_id}")
    assert harness.alerts()[-1] == "У вас нет доступа к этой заявке."

    await harness.press(client, f"creq:cancel:{request_id}")
    assert "отменена" in harness.last_text(CLIENT)
    await harness.press(client, f"creq:cancel:{request_id}")
    assert harness.alerts()[-1].startswith("Заявка уже закрыта")
    await harness.press(harness.user(MANAGER), f"sreq:resolve:{request_id}")
    assert harness.alerts()[-1].startswith("Заявка уже закрыта")
    await harness.press(client, f"rate:{request_id}:5")
    assert harness.alerts()[-1].startswith("Оценить можно только")
    await harness.press(client, "svc:data_deletion")  # internal tasks are not on the menu
    assert harness.alerts()[-1].startswith("Эта услуга больше недоступна")

    async with harness.app.crm.unit_of_work() as uow:
        denied = (
            await uow.session.scalars(
                select(m.AuditEntryRow).where(m.AuditEntryRow.outcome == "denied")
            )
        ).all()
        reasons = [(a.action, (a.details or {}).get("reason")) for a in denied]
        subjects = {a.subject_client_id for a in denied if a.action.startswith("request_")}
        assert any(a.action == "service_rejected" for a in denied)
    assert ("request_cancel", "not_yours") in reasons
    assert ("request_view", "not_yours") in reasons
    assert ("request_accept", "no_access") in reasons
    assert ("request_cancel", "closed") in reasons
    assert ("request_resolve", "closed") in reasons
    assert ("request_rate", "not_resolved") in reasons
    assert subjects == {bank.client_id}


async def test_my_requests_lists_only_own_and_staff_queue_orders_overdue_first(
    harness: BotHarness,
) -> None:
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    for service, answer in (
        ("Консьерж-запрос", "Столик в ресторане на двоих"),
        ("Юридическая консультация", "Вопрос о наследстве"),
    ):
        await harness.press_button(client, "Услуги")
        await harness.press_button(client, service)
        await harness.send(client, answer)
        await harness.press_button(client, "Отправить")
    await harness.press_button(client, "Мои заявки")
    listing = harness.last_text(CLIENT)
    assert "Консьерж-запрос" in listing and "Юридическая консультация" in listing

    assert isinstance(harness.clock, ManualClock)
    harness.clock.advance(timedelta(minutes=45))
    calls = await harness.send(manager, "/requests")
    queue = [c for c in calls if isinstance(c, SendMessage)][-1].text
    # Legal: ack 30 min (overdue now) comes before the concierge request (ack 60 min).
    assert queue.index("🔴") < queue.index("Юридическая") < queue.index("Консьерж")
    other_view = await harness.send(harness.user(BACKUP), "/requests")
    assert "Волков" in [c for c in other_view if isinstance(c, SendMessage)][-1].text
    assert bank.client_id


async def test_comments_documents_and_reassignment(harness: BotHarness) -> None:
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    admin = harness.user(8199)
    await harness.link(admin, staff_id=bank.admin_id)
    await _comment_on_a_visa_letter(harness, "Для посольства Италии, на английском")
    await harness.send_content(client, "document")
    assert "Клиент Волков Иван Петрович по заявке" in harness.last_text(MANAGER)

    await harness.press_button(manager, "Ответить")
    calls = await harness.send_content(manager, "document")
    assert [c.chat_id for c in calls if isinstance(c, CopyMessage)] == [CLIENT]
    await harness.press_button(manager, "Передать")
    await harness.press_button(manager, "Администратор")
    assert "теперь ведёт Администратор" in harness.last_text(CLIENT)
    assert "Вам передана заявка" in harness.last_text(8199)
    await harness.press_button(admin, "Решено")
    assert "выполнена (Администратор)" in harness.last_text(CLIENT)

    async with harness.app.crm.unit_of_work() as uow:
        request = (await uow.requests.for_client(bank.client_id))[0]
        comments = await uow.requests.comments(request.id)
    assert [(c.author_kind, c.file_id) for c in comments] == [
        ("client", "document"),
        ("staff", "document"),
    ]
    assert request.assignee_id == bank.admin_id and request.acknowledged_at is not None


async def test_a_comment_typed_after_the_request_closed_is_refused_and_audited(
    harness: BotHarness,
) -> None:
    # Refusals are answered in one place (the update middleware) for buttons and messages.
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await _comment_on_a_visa_letter(harness, "Для посольства Италии")
    await harness.press_button(manager, "Решено")  # closed while the client is typing

    calls = await harness.send(client, "И ещё копию для банка, пожалуйста")
    assert [c.text for c in calls if isinstance(c, SendMessage)] == [
        "Заявка уже закрыта — действие недоступно."
    ]
    async with harness.app.crm.unit_of_work() as uow:
        audit = await uow.audit.recent(limit=1)
        request = (await uow.requests.for_client(bank.client_id))[0]
        assert await uow.requests.comments(request.id) == []
    assert audit[0].outcome == "denied" and (audit[0].details or {}).get("reason") == "closed"
