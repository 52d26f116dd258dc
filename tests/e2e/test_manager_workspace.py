"""The manager workspace through the real dispatcher: search, card, brief, note, portfolio,
access control with its audit trail, and automatic briefings before meetings."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiogram.methods import AnswerCallbackQuery, SendDocument, SendMessage, SendPhoto
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select

from common.clock import ManualClock
from common.settings import Settings
from concierge.briefing import Fact
from concierge.briefing_delivery import send_due_briefings
from concierge.watchlist import send_watchlist_digest
from crm_adapter import models as m
from crm_adapter.dto import AuditEntry
from crm_adapter.sql import SqlCrm
from handlers.manager_render import ClientCb
from tests.factories import MiniBank, add_dated_facts, make_bank
from tests.harness import BotHarness, recorded_harness

MANAGER, BACKUP, ADMIN, COORDINATOR = 8001, 8002, 8003, 8004


class FakeFacts:
    def facts(self, family: str, *, language: str) -> list[Fact]:
        return [
            Fact(
                text=f"Факт о продукте {family}",
                doc_id=f"{family}-1",
                title="Условия",
                section="3",
            )
        ]


@pytest.fixture
async def h(settings: Settings, crm: SqlCrm, clock: ManualClock) -> AsyncIterator[BotHarness]:
    """The assistant whose briefs quote the product facts of `FakeFacts`."""
    harness = recorded_harness(settings, clock=clock, crm=crm, product_facts=FakeFacts())
    yield harness
    await harness.session.close()


async def staffed_bank(h: BotHarness) -> MiniBank:
    return await h.linked_bank(
        manager=MANAGER, backup=BACKUP, admin=ADMIN, coordinator=COORDINATOR
    )


def _meeting(
    h: BotHarness, bank: MiniBank, starts_in: timedelta, *, topic: str | None = None
) -> m.MeetingRow:
    """A meeting of the bank's client with their manager, `starts_in` from now."""
    now = h.clock.now()
    return m.MeetingRow(
        client_id=bank.client_id,
        manager_id=bank.manager_id,
        starts_at=now + starts_in,
        topic=topic,
        created_at=now,
    )


async def audit(h: BotHarness, action: str) -> list[AuditEntry]:
    async with h.app.crm.unit_of_work() as uow:
        return [e for e in await uow.audit.recent(limit=200) if e.action == action]


def buttons(method: object) -> list[str]:
    markup = getattr(method, "reply_markup", None)
    assert isinstance(markup, InlineKeyboardMarkup)
    return [b.text for row in markup.inline_keyboard for b in row]


def card(client_id: int, action: str = "card") -> str:
    return ClientCb(action=action, client_id=client_id).pack()


async def test_clients_lists_portfolio_with_flags_and_search_tolerates_typos(
    h: BotHarness,
) -> None:
    bank = await staffed_bank(h)
    async with h.app.crm.unit_of_work() as uow:
        uow.session.add(
            m.ServiceRequestRow(
                client_id=bank.client_id,
                service_code="cash_delivery",
                summary="Доставка наличных",
                created_at=h.clock.now(),
                ack_due_at=h.clock.now(),
                resolve_due_at=h.clock.now() + timedelta(days=1),
            )
        )
        await uow.commit()
    manager = h.user(MANAGER)
    calls = await h.send(manager, "/clients")
    assert "Мой портфель" in calls[-1].text  # type: ignore[attr-defined]
    assert buttons(calls[-1]) == ["Волков Иван 📋"]  # the backup's client is not in my list

    for query in ("Valkov", "Волкв"):
        calls = await h.send(manager, f"/clients {query}")
        assert buttons(calls[-1]) == ["Волков Иван"]
    calls = await h.send(manager, "/clients Морозова")
    assert "никого нет" in calls[-1].text  # type: ignore[attr-defined]
    assert len(await audit(h, "search_clients")) == 3


async def test_card_shows_the_360_view_and_is_audited(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    manager = h.user(MANAGER)
    await h.send(manager, "/clients Волков")
    calls = await h.press_button(manager, "Волков")
    text = next(c for c in calls if isinstance(c, SendMessage)).text
    assert "Волков Иван Петрович" in text and "C-0001" in text
    assert "Вклад «Капитал»" in text and "25 000 000" in text
    assert "Инвестиционный портфель" in text  # a big deposit and no investments
    assert "Риск ухода" in text
    assert buttons(calls[-1]) == ["📝 Брифинг", "✏️ Заметка", "🗂 История переписки"]
    [entry] = await audit(h, "view_card")
    assert (entry.actor_staff_id, entry.subject_client_id, entry.outcome) == (
        bank.manager_id,
        bank.client_id,
        "ok",
    )


async def test_manager_asking_for_another_managers_client_is_refused_and_audited(
    h: BotHarness,
) -> None:
    bank = await staffed_bank(h)
    manager = h.user(MANAGER)
    await h.press(manager, card(bank.other_client_id))
    assert "нет в вашем портфеле" in h.last_text(MANAGER)
    await h.send(manager, "/brief Морозова")
    assert "нет в вашем портфеле" in h.last_text(MANAGER)
    denied = await audit(h, "view_card") + await audit(h, "view_briefing")
    assert {(e.outcome, e.subject_client_id, e.actor_staff_id) for e in denied} == {
        ("denied", bank.other_client_id, bank.manager_id)
    }
    assert len(denied) == 2


async def test_backup_sees_backed_up_clients_and_admin_sees_all(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    await h.press(h.user(BACKUP), card(bank.client_id))  # Орлова backs Соколов up
    assert "Волков Иван Петрович" in h.last_text(BACKUP)
    calls = await h.send(h.user(BACKUP), "/clients")
    assert sorted(buttons(calls[-1])) == ["Волков Иван", "Морозова Елена"]
    await h.press(h.user(ADMIN), card(bank.other_client_id))
    assert "Морозова Елена Сергеевна" in h.last_text(ADMIN)


async def test_coordinator_gets_no_card_and_no_briefing(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    coordinator = h.user(COORDINATOR)
    await h.send(coordinator, "/clients")
    assert "доступно персональным менеджерам" in h.last_text(COORDINATOR)
    calls = await h.press(coordinator, card(bank.client_id, "brief"))
    assert isinstance(calls[-1], AnswerCallbackQuery) and calls[-1].show_alert
    [entry] = await audit(h, "client_brief")
    assert (entry.outcome, entry.subject_client_id) == ("denied", bank.client_id)
    assert not any(isinstance(c.method, SendDocument) for c in h.session.calls)


async def test_brief_command_sends_the_brief_and_a_markdown_document(h: BotHarness) -> None:
    await staffed_bank(h)
    calls = await h.send(h.user(MANAGER), "/brief Volkov")
    text = "\n".join(c.text for c in calls if isinstance(c, SendMessage))
    assert "Брифинг: Волков Иван Петрович" in text
    assert "Факт о продукте investments [Условия, 3]" in text
    [doc] = [c for c in calls if isinstance(c, SendDocument)]
    assert doc.document.filename == "briefing-C-0001-2026-11-22.md"  # type: ignore[union-attr]
    content = doc.document.data.decode()  # type: ignore[union-attr]
    assert content.startswith("# Брифинг: Волков Иван Петрович")
    assert len(await audit(h, "view_briefing")) == 1


async def test_the_card_and_the_brief_write_dates_day_first(h: BotHarness) -> None:
    # Regression: the card's "клиент с", maturity and life-event dates were ISO.
    bank = await staffed_bank(h)
    await add_dated_facts(h.app.crm, bank.client_id)
    manager = h.user(MANAGER)
    await h.send(manager, "/clients Волков")
    calls = await h.press_button(manager, "Волков")
    card = next(c for c in calls if isinstance(c, SendMessage)).text
    assert "клиент с 01.05.2012" in card and "до 20.12.2026" in card
    assert "01.11.2026 Рождение внука" in card
    calls = await h.send(manager, "/brief Volkov")
    brief = "\n".join(c.text for c in calls if isinstance(c, SendMessage))
    assert "20.12.2026" in brief and "01.11.2026" in brief
    for text in (card, brief):
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text), re.findall(r".{30}\d{4}-\d\d-\d\d", text)


async def test_the_card_dates_an_upcoming_event_by_its_own_time_zone(h: BotHarness) -> None:
    """Regression: the card took the event's day in UTC, so an evening in New York showed
    the next day and a Moscow night gala the day before."""
    bank = await staffed_bank(h)
    now = h.clock.now()
    async with h.app.crm.unit_of_work() as uow:
        for title, starts_at, zone in (
            # 21:00 on 25.11 in New York: 02:00 on 26.11 in UTC.
            ("Джаз в Нью-Йорке", datetime(2026, 11, 26, 2, tzinfo=UTC), "America/New_York"),
            # 00:30 on 28.11 in Moscow: 21:30 on 27.11 in UTC.
            ("Ночной гала-ужин", datetime(2026, 11, 27, 21, 30, tzinfo=UTC), "Europe/Moscow"),
        ):
            event = m.EventRow(
                title=title,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                timezone=zone,
                capacity=10,
                status="open",
                created_at=now,
            )
            uow.session.add(event)
            await uow.session.flush()
            uow.session.add(
                m.InvitationRow(
                    event_id=event.id, client_id=bank.client_id, status="sent", sent_at=now
                )
            )
        await uow.commit()
    manager = h.user(MANAGER)
    await h.send(manager, "/clients Волков")
    calls = await h.press_button(manager, "Волков")
    text = next(c for c in calls if isinstance(c, SendMessage)).text
    assert "25.11.2026 Джаз в Нью-Йорке" in text, text
    assert "28.11.2026 Ночной гала-ужин" in text, text


async def test_note_by_command_and_by_button_reaches_the_next_brief(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    manager = h.user(MANAGER)
    await h.send(manager, "/note Волков любит встречи утром")
    assert "Заметка о клиенте Волков Иван Петрович сохранена" in h.last_text(MANAGER)

    await h.press(manager, card(bank.client_id))
    await h.press_button(manager, "Заметка")
    assert "Напишите заметку" in h.last_text(MANAGER)
    await h.send(manager, "Супруга — <главный> советник")
    assert "сохранена" in h.last_text(MANAGER)

    async with h.app.crm.unit_of_work() as uow:
        notes = await uow.profiles.notes(bank.client_id)
        logged = await uow.session.scalars(
            select(m.InteractionRow).where(m.InteractionRow.kind == "note")
        )
        logged_as = {(r.direction, r.actor, r.staff_id) for r in logged}
    assert [n.text for n in notes] == ["Супруга — <главный> советник", "любит встречи утром"]
    assert logged_as == {("internal", "staff", bank.manager_id)}
    await h.press_button(manager, "Брифинг")
    assert "любит встречи утром" in "\n".join(h.texts(MANAGER)[-3:])
    assert "Супруга — &lt;главный&gt; советник" in "\n".join(h.texts(MANAGER)[-3:])


async def test_note_cancel_and_foreign_note_refused(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    manager = h.user(MANAGER)
    await h.press(manager, card(bank.client_id, "note"))
    await h.send(manager, "/cancel")
    assert "Отменено" in h.last_text(MANAGER)
    await h.send(manager, "/note Морозова секрет")
    assert "нет в вашем портфеле" in h.last_text(MANAGER)
    async with h.app.crm.unit_of_work() as uow:
        assert await uow.profiles.notes(bank.other_client_id) == []


async def test_portfolio_overview_with_chart(h: BotHarness) -> None:
    await staffed_bank(h)
    calls = await h.send(h.user(ADMIN), "/portfolio")
    summary = next(c for c in calls if isinstance(c, SendMessage)).text
    assert "Обзор портфеля" in summary and "2 клиентов" in summary
    assert "Инвестиционный портфель" in summary
    [photo] = [c for c in calls if isinstance(c, SendPhoto)]
    assert photo.photo.data.startswith(b"\x89PNG")  # type: ignore[union-attr]


async def test_due_briefings_are_sent_once_before_the_meeting(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    clock = h.clock
    assert isinstance(clock, ManualClock)
    async with h.app.crm.unit_of_work() as uow:
        uow.session.add_all(
            [
                _meeting(h, bank, timedelta(hours=1), topic="Размещение средств"),
                _meeting(h, bank, timedelta(hours=5)),
            ]
        )
        uow.session.add(
            m.ProductHoldingRow(
                client_id=bank.client_id,
                product_type="brokerage",
                name="Брокерский счёт",
                balance=Decimal(1),
            )
        )
        await uow.commit()
    before = len(h.session.calls)

    sent = await send_due_briefings(h.app.crm, h.app.notifier, clock, facts=FakeFacts())
    assert sent == 1
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 0
    docs = [c.method for c in h.session.calls[before:] if isinstance(c.method, SendDocument)]
    assert [d.chat_id for d in docs] == [MANAGER]
    assert "Брифинг к встрече" in (docs[0].caption or "")
    content = docs[0].document.data.decode()  # type: ignore[union-attr]
    assert "Размещение средств" in content and "Факт о продукте insurance" in content

    clock.advance(timedelta(hours=3, minutes=30))
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 1
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 0


async def test_undelivered_briefing_is_retried(h: BotHarness) -> None:
    bank = await make_bank(h.app.crm)  # nobody linked: the manager cannot be reached yet
    clock = h.clock
    async with h.app.crm.unit_of_work() as uow:
        uow.session.add(_meeting(h, bank, timedelta(minutes=30)))
        await uow.commit()
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 0
    await h.link(h.user(MANAGER), staff_id=bank.manager_id)
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 1


async def test_briefing_goes_to_the_backup_while_the_manager_is_away(h: BotHarness) -> None:
    bank = await staffed_bank(h)
    clock = h.clock
    async with h.app.crm.unit_of_work() as uow:
        await uow.staff.set_absent(bank.manager_id, absent=True)
        uow.session.add(_meeting(h, bank, timedelta(minutes=90)))
        await uow.commit()
    before = len(h.session.calls)
    assert await send_due_briefings(h.app.crm, h.app.notifier, clock) == 1
    docs = [c.method for c in h.session.calls[before:] if isinstance(c.method, SendDocument)]
    assert [d.chat_id for d in docs] == [BACKUP]
    [entry] = await audit(h, "view_briefing")
    assert (entry.actor_staff_id, entry.outcome) == (bank.backup_id, "ok")


async def test_silent_client_after_manager_change_reaches_the_admins_watchlist(
    h: BotHarness,
) -> None:
    bank = await staffed_bank(h)
    clock = h.clock
    async with h.app.crm.unit_of_work() as uow:
        row = await uow.session.get(m.ClientRow, bank.client_id)
        assert row is not None
        row.previous_manager_id = bank.backup_id
        row.manager_since = (clock.now() - timedelta(days=100)).date()
        await uow.commit()
    before = len(h.session.calls)
    assert await send_watchlist_digest(h.app.crm, h.app.notifier, clock) == 1
    [digest] = [c.method for c in h.session.calls[before:] if isinstance(c.method, SendMessage)]
    assert digest.chat_id == ADMIN
    assert "На контроле руководства" in digest.text
    assert "⚠️ Волков Иван Петрович (C-0001)" in digest.text
    assert "смены менеджера" in digest.text
    assert "Морозова" not in digest.text
