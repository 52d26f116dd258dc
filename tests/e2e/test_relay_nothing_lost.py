"""A client's message to the manager is never lost, and the texts around the relay read right.

Regression tests for what two testers found on the demo bank: a client whose manager had no
linked messenger account (or had blocked the bot) wrote "Мой менеджер" then a message and was
told the duty desk would call, yet no one was told and no request was opened. Now the next
person in turn takes the message live (the backup, then the duty desk) and, when no one's
messenger can, it is kept in a service request for the duty desk. Also: a handed-over
question's summary reads in words (not "[client_asked]"), in the language of the staff who
take it, notes about clients are gender-neutral, and a staff member's stray text is told it
reached no one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from sqlalchemy import select, update

from common.i18n import local_time
from concierge.events.drafts import EventDraft, create_event
from concierge.staffing import DUTY_LEVEL
from crm_adapter import models as m
from tests.e2e.conftest import Channels
from tests.factories import make_bank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, DUTY, COORDINATOR, OTHER_CLIENT = 7501, 8501, 8502, 8503, 8504, 7502
CARD = "4276 1234 5678 9012"


async def _write_to_manager(harness: BotHarness, text: str) -> None:
    await harness.press_button(harness.user(CLIENT), "Мой менеджер")
    await harness.send(harness.user(CLIENT), text)


async def _rows(harness: BotHarness, row: Any, **where: Any) -> list[Any]:
    """The table's rows as read now (plain rows: they outlive the unit of work)."""
    table = row.__table__
    query = select(table).filter_by(**where).order_by(table.c.id)
    async with harness.app.crm.unit_of_work() as uow:
        return list(await uow.session.execute(query))


async def _relays(harness: BotHarness) -> list[Any]:
    return await _rows(harness, m.InteractionRow, kind="relay")


async def _requests(harness: BotHarness) -> list[Any]:
    return await _rows(harness, m.ServiceRequestRow)


def _fail_chat(
    harness: BotHarness,
    monkeypatch: pytest.MonkeyPatch,
    *chat_ids: int,
    failure: Callable[[TelegramMethod[Any]], Exception],
) -> None:
    """From now on every call to the `chat_ids` fails with what `failure` makes of it."""
    fabricate = harness.session.fabricate

    def failing(method: TelegramMethod[Any]) -> Any:
        if getattr(method, "chat_id", None) in chat_ids:
            raise failure(method)
        return fabricate(method)

    monkeypatch.setattr(harness.session, "fabricate", failing)


def _refuse_chat(harness: BotHarness, monkeypatch: pytest.MonkeyPatch, chat_id: int) -> None:
    """From now on the account in `chat_id` has blocked the bot: Telegram answers 403."""
    _fail_chat(
        harness,
        monkeypatch,
        chat_id,
        failure=lambda method: TelegramForbiddenError(
            method=method, message="Forbidden: bot was blocked by the user"
        ),
    )


async def test_manager_without_a_linked_account_the_backup_takes_the_message(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(client=CLIENT, backup=BACKUP, duty=DUTY)
    await _write_to_manager(harness, "Когда будет готова справка?")
    assert "Когда будет готова справка?" in harness.last_text(BACKUP)
    assert "вместо менеджера Соколов Андрей" in harness.last_text(BACKUP)
    assert harness.last_text(CLIENT) == (
        "Соколов Андрей сейчас не на связи, поэтому сообщение получил(а) Орлова Марина — "
        "ответят в ближайшее время."
    )
    # The backup answers by replying, as the manager would.
    await harness.send(
        harness.user(BACKUP), "Завтра к обеду", reply_to_message=harness.last_message(BACKUP)
    )
    assert harness.last_text(CLIENT).endswith("Завтра к обеду")
    first = (await _relays(harness))[0]
    assert first.staff_id == bank.backup_id
    assert first.payload["passed_over"] == [{"staff": bank.manager_id, "reason": "not_linked"}]
    assert await _requests(harness) == []


async def test_manager_who_blocked_the_bot_the_backup_takes_it_and_the_link_is_marked(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    _refuse_chat(harness, monkeypatch, MANAGER)
    await _write_to_manager(harness, "Перезвоните, пожалуйста")
    assert "Перезвоните, пожалуйста" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        link = await uow.links.for_staff(bank.manager_id)
    assert link is not None and link.blocked_at is not None
    [relay] = await _relays(harness)
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "refused", "messenger": "telegram"}
    ]
    # The next message goes straight to the backup: the blocked link is not tried again.
    await harness.send(harness.user(CLIENT), "И ещё вопрос")
    assert "И ещё вопрос" in harness.last_text(BACKUP)
    assert (await _relays(harness))[-1].payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "blocked"}
    ]


async def test_no_manager_and_backup_reachable_the_duty_desk_takes_it_live(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(client=CLIENT, duty=DUTY)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.staff.set_absent(bank.backup_id, absent=True)
        await uow.commit()
    await _write_to_manager(harness, "Нужна выписка по счёту")
    assert "Нужна выписка по счёту" in harness.last_text(DUTY)
    assert "Дежурная служба" in harness.last_text(CLIENT)
    await harness.send(
        harness.user(DUTY), "Пришлём сегодня", reply_to_message=harness.last_message(DUTY)
    )
    assert harness.last_text(CLIENT).endswith("Пришлём сегодня")


async def test_no_one_reachable_the_message_is_kept_in_a_request_for_the_duty_desk(
    harness: BotHarness,
) -> None:
    """C-0004 on the demo bank: no one who answers for the client has a linked account."""
    bank = await harness.linked_bank(client=CLIENT)
    sent_to_staff_before = [t for t in harness.texts() if "Волков" in t]
    await _write_to_manager(harness, f"Карта {CARD} не работает, перезвоните +7 916 123-45-67")
    [request] = await _requests(harness)
    assert request.service_code == "question" and request.status == "new"
    assert (request.assignee_id, request.escalation_level) == (bank.duty_id, DUTY_LEVEL)
    assert request.details["reason"] == "relay_undelivered"
    assert request.summary.startswith(
        "Сообщение менеджеру, которое никто не смог принять в мессенджере\n"
    )
    assert "не работает" in request.summary and "5678" not in request.summary
    # The answer, then the once-ever warning about card numbers in the chat.
    answer, warning = harness.texts(CLIENT)[-2:]
    assert "не присылайте в чат номера карт" in warning
    assert f"заявке #{request.id}" in answer and "Дежурная служба" in answer
    assert f"до {local_time(request.ack_due_at, 'Europe/Moscow')}" in answer
    assert "свяжется с вами. Попробуйте" not in answer  # the old, untrue promise
    [relay] = await _relays(harness)
    assert relay.payload["request_id"] == request.id and relay.payload["to_staff"] is None
    assert [p["reason"] for p in relay.payload["passed_over"]] == ["not_linked"] * 3
    assert relay.text is not None and "5678" not in relay.text
    assert [t for t in harness.texts() if "Волков" in t] == sent_to_staff_before
    [audit] = await _rows(harness, m.AuditEntryRow, action="request_created")
    assert audit.details["request_id"] == request.id


async def test_the_kept_request_waits_in_the_duty_desks_queue(harness: BotHarness) -> None:
    """No duty officer could be told at once; the first to link finds it in their queue."""
    bank = await harness.linked_bank(client=CLIENT)
    await _write_to_manager(harness, "Прошу связаться")
    [request] = await _requests(harness)
    await harness.link(harness.user(DUTY), staff_id=bank.duty_id)
    await harness.send(harness.user(DUTY), "/requests")
    assert f"#{request.id}" in harness.last_text(DUTY)
    assert "Волков Иван Петрович" in harness.last_text(DUTY)


async def test_a_photo_no_one_can_take_is_kept_and_the_client_told_the_file_was_not(
    harness: BotHarness,
) -> None:
    await harness.linked_bank(client=CLIENT)
    await harness.press_button(harness.user(CLIENT), "Мой менеджер")
    await harness.send_content(harness.user(CLIENT), "photo")
    [request] = await _requests(harness)
    assert "К сообщению был приложен файл" in request.summary
    assert request.details["media"] is True
    assert "Файл к заявке не приложен" in harness.last_text(CLIENT)


async def test_english_client_is_told_in_english(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.ClientRow).where(m.ClientRow.id == bank.client_id).values(language="en")
        )
        await uow.commit()
    client = harness.user(CLIENT, language_code="en")
    await harness.link(client, client_id=bank.client_id)
    await harness.send(client, "/language")
    await harness.press_button(client, "English")
    await harness.press_button(client, "manager")
    await harness.send(client, "Please call me")
    [request] = await _requests(harness)
    assert harness.last_text(CLIENT).startswith("None of the staff who look after you")
    assert f"request #{request.id}" in harness.last_text(CLIENT)
    # The request itself is for the duty desk, who read Russian: so is why it was opened.
    assert request.summary.startswith("Сообщение менеджеру, которое никто не смог принять")
    assert request.summary.endswith("Please call me")


async def test_a_client_who_blocked_the_bot_the_reply_is_refused_not_an_error(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER)
    await _write_to_manager(harness, "Жду звонка")
    relayed = harness.last_message(MANAGER)
    _refuse_chat(harness, monkeypatch, CLIENT)
    await harness.send(harness.user(MANAGER), "Звоню через час", reply_to_message=relayed)
    assert "клиент сейчас недоступен в мессенджере" in harness.last_text(MANAGER)
    async with harness.app.crm.unit_of_work() as uow:
        link = await uow.links.for_client(bank.client_id)
    assert link is not None and link.blocked_at is not None
    [audit] = await _rows(harness, m.AuditEntryRow, action="relay_reply")
    assert (audit.outcome, audit.details["reason"]) == ("denied", "unreachable")


async def test_a_handed_over_question_reads_in_words(asking: BotHarness) -> None:
    await asking.linked_bank(client=CLIENT, manager=MANAGER)
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    card = asking.last_text(MANAGER)
    assert "[client_asked]" not in card
    assert "Клиент просит ответа менеджера\nхочу поговорить с менеджером" in card
    [request] = await _requests(asking)
    assert request.summary == "Клиент просит ответа менеджера\nхочу поговорить с менеджером"
    assert request.details["reason"] == "client_asked"


async def test_a_handed_over_question_reads_in_the_language_of_the_manager(
    asking: BotHarness,
) -> None:
    """A Russian-speaking client, a manager who reads English: the card and the request's
    summary (shown on the desk, sent to the CRM deal) say why in English, the question
    stays as the client wrote it."""
    bank = await asking.linked_bank(client=CLIENT, manager=MANAGER)
    async with asking.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.manager_id).values(language="en")
        )
        await uow.commit()
    await asking.send(asking.user(CLIENT), "хочу поговорить с менеджером")
    assert "The client asked for their manager\nхочу поговорить с менеджером" in (
        asking.last_text(MANAGER)
    )
    [request] = await _requests(asking)
    assert request.summary == "The client asked for their manager\nхочу поговорить с менеджером"


async def test_a_note_about_a_client_who_answered_an_invitation_is_gender_neutral(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(backup=BACKUP, coordinator=COORDINATOR)
    elena = harness.user(OTHER_CLIENT)  # Морозова Елена Сергеевна, the backup's client
    await harness.link(elena, client_id=bank.other_client_id)
    now = harness.app.clock.now()
    async with harness.app.crm.unit_of_work() as uow:
        event = await create_event(
            uow,
            clock=harness.app.clock,
            draft=EventDraft(
                title="Вечер джаза",
                description="Закрытый концерт",
                starts_at=now + timedelta(days=10),
                ends_at=now + timedelta(days=10, hours=3),
                venue="Особняк",
                city="Москва",
                capacity=10,
                plus_ones_allowed=False,
                rsvp_deadline=now + timedelta(days=8),
            ),
            coordinator_id=bank.coordinator_id,
        )
        await uow.commit()
    coordinator = harness.user(COORDINATOR)
    await harness.send(coordinator, f"/event {event.id}")
    await harness.press_button(coordinator, "Аудитория")
    await harness.press_button(coordinator, "Разослать")
    await harness.press_button(elena, "Приду")
    notice = harness.last_text(BACKUP)
    assert "Клиент Морозова Елена Сергеевна ответил(а) на приглашение" in notice


@pytest.mark.parametrize(
    ("language", "hint", "help_title"),
    [
        ("ru", "Это сообщение никому не отправлено", "Команды сотрудника"),
        ("en", "This message was not sent to anyone", "Staff commands"),
    ],
    ids=["ru", "en"],
)
async def test_staff_free_text_is_told_it_reached_no_one_then_the_help(
    harness: BotHarness, language: str, hint: str, help_title: str
) -> None:
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.manager_id).values(language=language)
        )
        await uow.commit()
    manager = harness.user(MANAGER, language_code=language)
    await harness.link(manager, staff_id=bank.manager_id)
    for fields in ({}, {"reply_to_message": harness.last_message(MANAGER)}):
        await harness.send(manager, "Позвонить Волкову завтра", **fields)
        answer = harness.last_text(MANAGER)
        assert answer.startswith(hint), answer
        assert help_title in answer  # the staff help follows


# --- cannot receive now: no bot for their messenger here, or the messenger failed -------------

INTERNAL_ERROR = "что-то пошло не так"


async def _link_staff_in_max(
    harness: BotHarness, staff_id: int, user_id: int, *, later: timedelta = timedelta(0)
) -> None:
    """A MAX account for the staff member, as linking in MAX would leave it (`later`: linked
    after the Telegram one, so it is the one their messages go to first)."""
    async with harness.app.crm.unit_of_work() as uow:
        await uow.links.bind(
            user_id=user_id,
            chat_id=user_id,
            client_id=None,
            staff_id=staff_id,
            now=harness.clock.now() + later,
            language="ru",
            messenger="max",
        )
        await uow.commit()


async def _staff_link(harness: BotHarness, staff_id: int, messenger: str) -> Any:
    async with harness.app.crm.unit_of_work() as uow:
        return await uow.links.for_staff(staff_id, messenger=messenger)


async def test_manager_linked_only_in_max_without_a_max_bot_the_backup_takes_it(
    harness: BotHarness,
) -> None:
    """This process has no MAX token: the manager's MAX account cannot be written to here."""
    assert "max" not in harness.app.messengers
    bank = await harness.linked_bank(client=CLIENT, backup=BACKUP)
    await _link_staff_in_max(harness, bank.manager_id, MANAGER)
    await _write_to_manager(harness, "Нужна справка о доходах")
    assert "Нужна справка о доходах" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)
    assert INTERNAL_ERROR not in harness.last_text(CLIENT)
    [relay] = await _relays(harness)
    assert relay.staff_id == bank.backup_id
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "no_bot", "messenger": "max"}
    ]
    # Nothing wrong with the account itself: it stays as it is for a process that has the bot.
    link = await _staff_link(harness, bank.manager_id, "max")
    assert link is not None and link.blocked_at is None


async def test_manager_in_both_messengers_gets_it_in_the_one_this_process_reaches(
    harness: BotHarness,
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    # Linked in MAX last, so MAX is tried first; Telegram takes it.
    await _link_staff_in_max(harness, bank.manager_id, 5801, later=timedelta(minutes=1))
    await _write_to_manager(harness, "Когда придёт карта?")
    assert "Когда придёт карта?" in harness.last_text(MANAGER)
    assert harness.last_text(CLIENT) == "Сообщение передано: Соколов Андрей."
    [relay] = await _relays(harness)
    assert relay.staff_id == bank.manager_id
    assert relay.payload["staff_messenger"] == "telegram"
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "no_bot", "messenger": "max"}
    ]
    # The manager answers by replying in Telegram, as ever.
    await harness.send(
        harness.user(MANAGER),
        "На следующей неделе",
        reply_to_message=harness.last_message(MANAGER),
    )
    assert harness.last_text(CLIENT).endswith("На следующей неделе")


async def test_a_server_error_for_the_manager_passes_the_message_on_without_blocking(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    _fail_chat(
        harness,
        monkeypatch,
        MANAGER,
        failure=lambda method: TelegramServerError(method=method, message="Bad Gateway"),
    )
    await _write_to_manager(harness, "Прошу перезвонить")
    assert "Прошу перезвонить" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)
    [relay] = await _relays(harness)
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "failed", "messenger": "telegram"}
    ]
    # A failure for now, not a refusal: once Telegram answers again, the manager gets it.
    link = await _staff_link(harness, bank.manager_id, "telegram")
    assert link is not None and link.blocked_at is None
    monkeypatch.undo()
    await harness.send(harness.user(CLIENT), "И ещё вопрос")
    assert "И ещё вопрос" in harness.last_text(MANAGER)
    assert harness.last_text(CLIENT) == "Сообщение передано: Соколов Андрей."


async def test_a_network_failure_for_everyone_keeps_the_message_in_a_request(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)
    _fail_chat(
        harness,
        monkeypatch,
        MANAGER,
        BACKUP,
        DUTY,
        failure=lambda method: TelegramNetworkError(method=method, message="timeout"),
    )
    await _write_to_manager(harness, "Заблокируйте, пожалуйста, старую карту")
    [request] = await _requests(harness)
    assert request.details["reason"] == "relay_undelivered"
    assert "старую карту" in request.summary
    # Only failed for now: the manager holds it, alerted through the notifier (the outbox
    # in production, which retries), as the client is told.
    assert request.assignee_id == bank.manager_id
    assert "Волков" not in harness.last_text(CLIENT) and "получил(а)" in harness.last_text(CLIENT)
    assert f"заявке #{request.id}" in harness.last_text(CLIENT)
    assert INTERNAL_ERROR not in harness.last_text(CLIENT)
    [relay] = await _relays(harness)
    assert relay.payload["request_id"] == request.id
    assert relay.payload["passed_over"] == [
        {"staff": staff_id, "reason": "failed", "messenger": "telegram"}
        for staff_id in (bank.manager_id, bank.backup_id, bank.duty_id)
    ]


async def test_max_answering_5xx_for_the_manager_the_backup_in_telegram_takes_it(
    channels: Channels,
) -> None:
    """The MAX twin: MAX's server errors reach the relay as a failure for now."""
    tg, mx = channels.telegram, channels.max
    bank = await tg.linked_bank(client=CLIENT, backup=BACKUP)
    await mx.link(mx.user(5802), staff_id=bank.manager_id)
    mx.api.limits.error_rate = 1.0  # every MAX call answers 503 from now on
    await _write_to_manager(tg, "Нужна выписка")
    assert "Нужна выписка" in tg.last_text(BACKUP)
    assert "Орлова Марина" in tg.last_text(CLIENT)
    [relay] = await _relays(tg)
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "failed", "messenger": "max"}
    ]


async def test_with_no_duty_roster_the_kept_request_stays_with_the_manager(
    harness: BotHarness,
) -> None:
    """Review finding: starting the kept request at the duty level left it with no one (and
    never escalated) when the bank has no duty desk."""
    bank = await harness.linked_bank(client=CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.session.execute(
            update(m.StaffRow).where(m.StaffRow.id == bank.duty_id).values(active=False)
        )
        await uow.commit()
    await _write_to_manager(harness, "Прошу перезвонить")
    [request] = await _requests(harness)
    assert request.assignee_id == bank.manager_id
    assert f"заявке #{request.id}" in harness.last_text(CLIENT)


async def test_a_send_the_messenger_refuses_passes_the_message_on(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 ("chat not found") for the manager ended in an internal error and the message
    was gone; the backup takes it and the manager's link is not marked blocked."""
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP)
    _fail_chat(
        harness,
        monkeypatch,
        MANAGER,
        failure=lambda method: TelegramBadRequest(
            method=method, message="Bad Request: chat not found"
        ),
    )
    await _write_to_manager(harness, "Нужна справка")
    assert "Нужна справка" in harness.last_text(BACKUP)
    assert INTERNAL_ERROR not in harness.last_text(CLIENT)
    [relay] = await _relays(harness)
    assert relay.payload["passed_over"] == [
        {"staff": bank.manager_id, "reason": "rejected", "messenger": "telegram"}
    ]


async def test_a_reply_the_clients_messenger_cannot_take_now_is_refused_and_audited(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding: a network failure towards the client ended the staff reply in an
    internal error and its audit row was rolled back."""
    bank = await harness.linked_bank(client=CLIENT, manager=MANAGER)
    await _write_to_manager(harness, "Жду звонка")
    relayed = harness.last_message(MANAGER)
    _fail_chat(
        harness,
        monkeypatch,
        CLIENT,
        failure=lambda method: TelegramNetworkError(method=method, message="timeout"),
    )
    await harness.send(harness.user(MANAGER), "Звоню через час", reply_to_message=relayed)
    assert "Ответ не передан" in harness.last_text(MANAGER)
    async with harness.app.crm.unit_of_work() as uow:
        link = await uow.links.for_client(bank.client_id)
    assert link is not None and link.blocked_at is None  # only for now: not blocked
    [audit] = await _rows(harness, m.AuditEntryRow, action="relay_reply")
    assert (audit.outcome, audit.details["reason"]) == ("denied", "unreachable")
