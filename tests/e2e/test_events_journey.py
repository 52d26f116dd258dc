"""Closed events end to end: wizard, audience, invitations, RSVP, waitlist, reminders, check-in."""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram.methods import EditMessageText, SendDocument, SendPhoto
from aiogram.types import BufferedInputFile
from sqlalchemy import select

from bot.event_callbacks import RsvpCb
from common.clock import ManualClock
from concierge.events.attendance import attended_events, unanswered_invitations
from concierge.events.audience import AudienceCriteria
from concierge.events.drafts import EventDraft, create_event
from concierge.events.reminders import send_event_reminders
from crm_adapter import models as m
from crm_adapter.dto import Event
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness

# Telegram user ids of the people in these journeys.
COORDINATOR, MANAGER, BACKUP = 9001, 8001, 8002
IVAN, ELENA, PAVEL, SEMYON, OLGA, NINA = 7001, 7002, 7003, 7004, 7005, 7006
CODE = re.compile(r"<code>([A-Z0-9]{6})</code>")
# The event: 5 December 2026, 19:00–22:00 in Moscow (16:00–19:00 UTC).
STARTS = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


@dataclass
class Cast:
    bank: MiniBank
    pavel: int
    semyon: int
    olga: int
    nina: int


async def _cast(harness: BotHarness) -> Cast:
    """The mini bank plus the manager's clients that make capacity and policy interesting."""
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        extra = [
            m.ClientRow(
                external_id=external_id,
                first_name=first,
                middle_name=middle,
                last_name=last,
                manager_id=bank.manager_id,
                marketing_opt_out=opted_out,
            )
            for external_id, first, middle, last, opted_out in (
                ("C-0003", "Павел", "Ильич", "Зайцев", False),
                ("C-0004", "Семён", "Аркадьевич", "Жуков", False),
                ("C-0005", "Ольга", "Викторовна", "Белова", True),
                ("C-0006", "Нина", "Олеговна", "Соболева", False),
            )
        ]
        uow.session.add_all(extra)
        await uow.commit()
        ids = [row.id for row in extra]
    cast = Cast(bank, *ids)
    await harness.link(harness.user(COORDINATOR), staff_id=bank.coordinator_id)
    await harness.link(harness.user(MANAGER), staff_id=bank.manager_id)
    await harness.link(harness.user(BACKUP), staff_id=bank.backup_id)
    for user_id, client_id in (
        (IVAN, bank.client_id),
        (ELENA, bank.other_client_id),
        (PAVEL, cast.pavel),
        (SEMYON, cast.semyon),
        (OLGA, cast.olga),
    ):
        await harness.link(harness.user(user_id), client_id=client_id)
    # Nina linked her account but never gave consent to data processing.
    await harness.link(harness.user(NINA), client_id=cast.nina, consent=False)
    return cast


async def _event(harness: BotHarness, cast: Cast, **changes: Any) -> Event:
    fields: dict[str, Any] = {
        "title": "Вечер с главным экономистом",
        "description": "Закрытая встреча о рынках 2027 года",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=3),
        "venue": "Особняк на Пречистенке",
        "city": "Москва",
        "capacity": 2,
        "plus_ones_allowed": True,
        "rsvp_deadline": STARTS - timedelta(days=2),
        "audience": AudienceCriteria(manager_ids=frozenset({cast.bank.manager_id})),
    }
    fields.update(changes)
    async with harness.app.crm.unit_of_work() as uow:
        event = await create_event(
            uow,
            clock=harness.app.clock,
            draft=EventDraft(**fields),
            coordinator_id=cast.bank.coordinator_id,
        )
        await uow.commit()
    return event


async def _invitation_id(harness: BotHarness, event_id: int, client_id: int) -> int:
    async with harness.app.crm.unit_of_work() as uow:
        found = await uow.events.invitation_for(event_id, client_id)
    assert found is not None
    return found.id


async def _reminders(harness: BotHarness) -> int:
    async with harness.app.crm.unit_of_work() as uow:
        sent = await send_event_reminders(uow, harness.app.notifier, harness.app.clock)
        await uow.commit()
    return sent


def _codes(harness: BotHarness, chat_id: int) -> list[str]:
    return [c for text in harness.texts(chat_id) for c in CODE.findall(text)]


def _documents(harness: BotHarness, chat_id: int) -> list[bytes]:
    return [
        c.method.document.data
        for c in harness.session.calls
        if isinstance(c.method, SendDocument)
        and c.method.chat_id == chat_id
        and isinstance(c.method.document, BufferedInputFile)
    ]


async def test_coordinator_creates_event_with_the_wizard(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    coordinator = harness.user(COORDINATOR)
    await harness.link(coordinator, staff_id=bank.coordinator_id)
    for answer in (
        "/newevent",
        "Мастер-класс шеф-повара",
        "Ужин из пяти блюд",
        "-",
        "2026-12-05 19:00",
        "25:00",  # a wrong time is refused and asked again
        "22:00",
        "Ресторан «Белуга»",
        "Москва",
        "ноль",  # so is a capacity that is not a number
        "12",
    ):
        await harness.send(coordinator, answer)
    assert "Не понял время" in harness.texts(COORDINATOR)[-6]
    assert "Вместимость" in harness.texts(COORDINATOR)[-2]
    await harness.press_button(coordinator, "Да")
    await harness.send(coordinator, "2026-12-03 18:00")
    await harness.send(coordinator, "segments=stable_keeper; min=10000000; city=Москва")
    assert "Проверьте мероприятие" in harness.last_text(COORDINATOR)
    assert "05.12.2026, 19:00–22:00 (Europe/Moscow)" in harness.last_text(COORDINATOR)
    await harness.press_button(coordinator, "Создать")
    assert "создано" in harness.last_text(COORDINATOR)

    async with harness.app.crm.unit_of_work() as uow:
        (event,) = await uow.events.list_events()
    assert event.starts_at == STARTS and event.ends_at == STARTS + timedelta(hours=3)
    assert event.capacity == 12 and event.plus_ones_allowed and event.status == "draft"
    assert event.rsvp_deadline == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert AudienceCriteria.from_json(event.audience).cities == {"Москва"}

    # Creating events is the coordinator's job: a manager's /newevent is not taken.
    manager = harness.user(MANAGER)
    await harness.link(manager, staff_id=bank.manager_id)
    await harness.send(manager, "/newevent")
    assert "Такой команды нет" in harness.last_text(MANAGER)


async def test_full_event_cycle(harness: BotHarness) -> None:
    clock = harness.app.clock
    assert isinstance(clock, ManualClock)
    cast = await _cast(harness)
    event = await _event(harness, cast)
    coordinator, manager, backup = (harness.user(u) for u in (COORDINATOR, MANAGER, BACKUP))

    # The coordinator's card: counts, buttons and a chart rendered as a photo.
    calls = await harness.send(coordinator, f"/event {event.id}")
    assert "Приглашено: 0" in harness.texts(COORDINATOR)[-1]
    assert any(isinstance(c, SendPhoto) for c in calls)

    # The backup manager adds their client Elena, who did not match the criteria.
    await harness.send(backup, f"/event {event.id}")
    assert "Морозова Елена Сергеевна" in harness.last_text(BACKUP)
    await harness.press_button(backup, "➕ Морозова")
    # A manager cannot put someone else's client in (a forged button): refused and audited.
    forged = await harness.press(backup, f"evaud:{event.id}:{cast.pavel}:0")
    assert any("только для своих" in a for a in harness.alerts()), forged

    # The personal manager takes Pavel out and puts him back before anything is sent.
    await harness.send(manager, f"/eventaudience {event.id}")
    assert "✅ Зайцев Павел Ильич" in harness.last_text(MANAGER)
    assert "⛔ Белова Ольга Викторовна — отказ от рекламных сообщений" in harness.last_text(
        MANAGER
    )
    await harness.press_button(manager, "➖ Зайцев")
    edited = [c.method for c in harness.session.calls if isinstance(c.method, EditMessageText)]
    assert "▫️ Зайцев Павел Ильич" in edited[-1].text
    await harness.press_button(manager, "➕ Зайцев")

    # Preview: four invited, the opted-out and the unconsented shown with the reason.
    await harness.press_button(coordinator, "Аудитория")
    preview = harness.last_text(COORDINATOR)
    assert "Аудитория «Вечер с главным экономистом»: 4" in preview
    assert "Белова Ольга Викторовна — отказ от рекламных сообщений" in preview
    assert "Соболева Нина Олеговна — нет согласия" in preview

    await harness.press_button(coordinator, "Разослать")
    assert "поставлены в отправку: 4" in harness.last_text(COORDINATOR)
    invitation = harness.last_text(IVAN)
    assert "Иван Петрович" in invitation and "Соколов Андрей" in invitation
    assert not harness.texts(OLGA)[-1].startswith("<b>Ольга")
    # Sending again invites nobody twice.
    await harness.press_button(coordinator, "Разослать")
    assert "поставлены в отправку: 0. Уже были приглашены: 4" in harness.last_text(COORDINATOR)

    # Ivan comes with a companion: both seats; a code and a calendar file in Moscow time.
    ivan = harness.user(IVAN)
    await harness.press_button(ivan, "+1")
    assert "Ваш код для входа" in harness.texts(IVAN)[-2]
    (ivan_code,) = _codes(harness, IVAN)
    assert b"DTSTART;TZID=Europe/Moscow:20261205T190000" in _documents(harness, IVAN)[-1]
    assert "Волков Иван Петрович" in harness.last_text(MANAGER)
    await harness.press_button(ivan, "+1")
    assert harness.alerts()[-1] == "Ваш ответ уже записан."

    # The hall is full: Pavel, then Elena, wait in that order.
    await harness.press_button(harness.user(PAVEL), "Приду")
    assert "листе ожидания" in harness.last_text(PAVEL)
    await harness.press_button(harness.user(ELENA), "Приду")
    assert "листе ожидания" in harness.last_text(ELENA)

    # Elena pressing Ivan's button (e.g. a forwarded message) is refused and audited.
    ivan_invitation = await _invitation_id(harness, event.id, cast.bank.client_id)
    await harness.press(
        harness.user(ELENA), RsvpCb(invitation_id=ivan_invitation, answer="decline").pack()
    )
    assert harness.alerts()[-1] == "Это приглашение адресовано не вам."
    async with harness.app.crm.unit_of_work() as uow:
        denied = await uow.session.scalar(
            select(m.AuditEntryRow.subject_client_id).where(
                m.AuditEntryRow.action == "event_rsvp", m.AuditEntryRow.outcome == "denied"
            )
        )
    assert denied == cast.bank.client_id

    # Ivan declines: his two seats go to Pavel and Elena, in order, each with a code.
    await harness.press_button(ivan, "Не смогу")
    assert "Для вас освободилось место" in harness.last_text(PAVEL)
    assert "Для вас освободилось место" in harness.last_text(ELENA)
    (pavel_code,) = _codes(harness, PAVEL)
    assert pavel_code != ivan_code

    # Ivan's old code died with his seat.
    await harness.send(coordinator, f"/checkin {ivan_code}")
    assert "Код не найден" in harness.last_text(COORDINATOR)

    # Reminders: Semyon never answered; one nudge after three days, and only one.
    assert await _reminders(harness) == 0
    clock.advance(timedelta(days=3, minutes=1))
    assert await _reminders(harness) == 1
    assert "напоминаем о приглашении" in harness.last_text(SEMYON)
    assert await _reminders(harness) == 0
    async with harness.app.crm.unit_of_work() as uow:
        since = clock.now() - timedelta(days=30)
        assert await unanswered_invitations(uow, cast.semyon, since=since) == 1
        assert await unanswered_invitations(uow, cast.pavel, since=since) == 0
        # Before the deadline, silence is not yet a signal.
        assert await unanswered_invitations(uow, cast.semyon, since=since, as_of=clock.now()) == 0
        later = STARTS - timedelta(days=1)
        assert await unanswered_invitations(uow, cast.semyon, since=since, as_of=later) == 1

    # After the deadline Semyon's answer is refused politely.
    clock.set(STARTS - timedelta(hours=23))
    await harness.press_button(harness.user(SEMYON), "Приду")
    assert "Приём ответов на это мероприятие завершён" in harness.alerts()[-1]

    # The day before and two hours before, to the attending guests only, once each.
    assert await _reminders(harness) == 2
    assert "ждём вас завтра" in harness.last_text(PAVEL)
    assert await _reminders(harness) == 0
    clock.set(STARTS - timedelta(hours=1, minutes=30))
    assert await _reminders(harness) == 2
    assert "совсем скоро начинается" in harness.last_text(ELENA)
    assert await _reminders(harness) == 0

    # At the door: right code, the same code twice, a wrong code.
    clock.set(STARTS + timedelta(minutes=10))
    await harness.send(coordinator, f"/checkin {pavel_code.lower()}")
    assert "Вход: <b>Зайцев Павел Ильич</b>" in harness.last_text(COORDINATOR)
    await harness.send(coordinator, f"/checkin {pavel_code}")
    assert "уже использован" in harness.last_text(COORDINATOR)
    await harness.send(coordinator, "/checkin ZZZZZZ")
    assert "Код не найден" in harness.last_text(COORDINATOR)

    # After the event: thanks and a one-tap rating to those who came, once.
    clock.set(STARTS + timedelta(hours=3, minutes=30))
    assert await _reminders(harness) == 1
    assert "спасибо, что были с нами" in harness.last_text(PAVEL)
    assert await _reminders(harness) == 0
    await harness.press_button(harness.user(PAVEL), "★★★★★")
    assert harness.alerts()[-1] == "Спасибо за оценку!"
    await harness.press_button(harness.user(PAVEL), "★★")
    assert harness.alerts()[-1] == "Ваша оценка уже записана."
    async with harness.app.crm.unit_of_work() as uow:
        ratings = (
            await uow.session.execute(
                select(m.FeedbackRow.kind, m.FeedbackRow.subject_id, m.FeedbackRow.score)
            )
        ).all()
    assert [tuple(r) for r in ratings] == [("event", event.id, 5)]
    async with harness.app.crm.unit_of_work() as uow:
        since = STARTS - timedelta(days=30)
        assert await attended_events(uow, cast.pavel, since=since) == 1
        assert await attended_events(uow, cast.bank.other_client_id, since=since) == 0

    # Tracking: the card and the CSV tell the same story.
    await harness.send(coordinator, f"/event {event.id}")
    card = [t for t in harness.texts(COORDINATOR) if t.startswith("<b>#")][-1]
    assert "придут: 1" in card and "отказ: 1" in card and "нет ответа: 1" in card
    assert "пришли: 1" in card
    await harness.press_button(coordinator, "CSV")
    # In the coordinator's language, as a Russian Excel opens it: a BOM, ';' between the
    # columns, headers and statuses in Russian, times day first.
    content = _documents(harness, COORDINATOR)[-1]
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert text.splitlines()[0] == (
        "Гость;Статус;С сопровождающим;Время ответа;Время прихода;Менеджер"
    )
    by_name = {r["Гость"]: r for r in csv.DictReader(io.StringIO(text), delimiter=";")}
    assert by_name["Зайцев Павел Ильич"]["Статус"] == "пришёл"
    assert by_name["Зайцев Павел Ильич"]["Время прихода"] == "05.12.2026 19:10"
    assert by_name["Зайцев Павел Ильич"]["С сопровождающим"] == "нет"
    assert by_name["Волков Иван Петрович"]["Статус"] == "отказ"
    assert by_name["Морозова Елена Сергеевна"]["Менеджер"] == "Орлова Марина"
    assert by_name["Жуков Семён Аркадьевич"]["Время ответа"] == ""
    await harness.press_button(coordinator, "ожидания")
    assert "Никого" in harness.last_text(COORDINATOR)
    await harness.send(coordinator, "/events")
    assert f"#{event.id} <b>Вечер с главным экономистом</b>" in harness.last_text(COORDINATOR)


async def _invite_from_the_card(harness: BotHarness, event: Event) -> None:
    """The coordinator opens the event's card and presses Send."""
    await harness.send(harness.user(COORDINATOR), f"/event {event.id}")
    await harness.press_button(harness.user(COORDINATOR), "Разослать")


async def test_reminders_outside_an_update_do_not_wait_for_the_database_lock(
    harness: BotHarness,
) -> None:
    # Regression: the reminders job held SQLite's write lock while the notifier sent, and the
    # interaction log of each sent message waited 30 s for that lock.
    cast = await _cast(harness)
    event = await _event(harness, cast)
    await _invite_from_the_card(harness, event)
    clock = harness.app.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=3))
    started = time.monotonic()
    assert await _reminders(harness) == 3  # Ivan, Pavel, Semyon: none answered
    assert time.monotonic() - started < 10


async def test_cancel_change_and_capacity(harness: BotHarness) -> None:
    cast = await _cast(harness)
    event = await _event(harness, cast, capacity=3)
    coordinator = harness.user(COORDINATOR)
    await _invite_from_the_card(harness, event)
    await harness.press_button(harness.user(IVAN), "+1")
    await harness.press_button(harness.user(PAVEL), "Возможно")

    # The client's Events menu shows the invitation and the answer.
    await harness.send(harness.user(IVAN), "/menu")
    await harness.press_button(harness.user(IVAN), "Мероприятия")
    assert "Ваш ответ: придёт +1" in harness.last_text(IVAN)

    # Below the confirmed seats: refused with the reason; nobody is dropped.
    await harness.send(coordinator, f"/eventedit {event.id} capacity 1")
    assert "уже подтверждено мест — 2" in harness.last_text(COORDINATOR)

    # A new venue: the attending guest hears about it with a new calendar file.
    before = len(_documents(harness, IVAN))
    await harness.send(coordinator, f"/eventedit {event.id} venue Галерея на Остоженке")
    assert "Сообщили гостям: 1" in harness.last_text(COORDINATOR)
    assert "Галерея на Остоженке" in harness.last_text(IVAN)
    documents = _documents(harness, IVAN)
    assert len(documents) == before + 1 and b"SEQUENCE:1" in documents[-1]

    # Cancelled: the guest is told; later presses are refused.
    await harness.send(coordinator, f"/cancelevent {event.id}")
    assert "отменено" in harness.last_text(COORDINATOR)
    assert "отменено" in harness.last_text(IVAN)
    # "Maybe" held no seat: the cancellation is news only to those who expected to come.
    assert "отменено" not in harness.last_text(PAVEL)
    await harness.press_button(harness.user(PAVEL), "Приду")
    assert harness.alerts()[-1] == "К сожалению, это мероприятие отменено."
    await harness.send(coordinator, f"/cancelevent {event.id}")
    assert "уже отменено или завершено" in harness.last_text(COORDINATOR)

    # Nothing here may be driven by a client.
    await harness.send(harness.user(IVAN), f"/cancelevent {event.id}")
    assert "Такой команды нет" in harness.last_text(IVAN)


async def test_wizard_can_be_stopped_and_staff_without_the_role_are_refused(
    harness: BotHarness,
) -> None:
    bank = await make_bank(harness.app.crm)
    coordinator, duty = harness.user(COORDINATOR), harness.user(9100)
    await harness.link(coordinator, staff_id=bank.coordinator_id)
    await harness.link(duty, staff_id=bank.duty_id)
    await harness.send(coordinator, "/newevent")
    await harness.send(coordinator, "Турнир по теннису")
    await harness.send(coordinator, "/cancel")
    assert "прервано" in harness.last_text(COORDINATOR)
    # The wizard is over: the next text is an ordinary message, not a description.
    await harness.send(coordinator, "Описание")
    assert "Команды сотрудника" in harness.last_text(COORDINATOR)
    async with harness.app.crm.unit_of_work() as uow:
        assert await uow.events.list_events() == []

    await harness.send(duty, "/event 1")
    assert harness.last_text(9100) == "Это действие вам недоступно."
    await harness.send(coordinator, "/event 99")
    assert "Мероприятие #99 не найдено" in harness.last_text(COORDINATOR)
    await harness.send(coordinator, "/checkin")
    assert "Укажите код" in harness.last_text(COORDINATOR)


async def test_rsvp_button_from_a_client_without_consent_is_refused_and_audited(
    harness: BotHarness,
) -> None:
    cast = await _cast(harness)
    event = await _event(harness, cast)
    await _invite_from_the_card(harness, event)
    pavel_invitation = await _invitation_id(harness, event.id, cast.pavel)
    # Nina (no consent) replays Pavel's button: no router of events takes it.
    await harness.press(
        harness.user(NINA), RsvpCb(invitation_id=pavel_invitation, answer="accept").pack()
    )
    assert "устарела или недоступна" in harness.alerts()[-1]
    async with harness.app.crm.unit_of_work() as uow:
        invitation = await uow.events.invitation(pavel_invitation)
        rejected = await uow.session.scalar(
            select(m.AuditEntryRow.outcome).where(m.AuditEntryRow.action == "callback_rejected")
        )
    assert invitation is not None and invitation.status == "sent"
    assert rejected == "denied"
