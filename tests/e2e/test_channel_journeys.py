"""The client journeys in either messenger: the same dispatcher, routers and handlers.

Each journey runs once with Telegram (recorded in-process) and once with MAX (the real
transport over HTTP to the MAX stand-in on loopback), written once against the harnesses'
shared methods: link, consent, menu, the service wizard, a question, the relay with the
manager, RSVP to an event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from concierge.events.audience import AudienceCriteria
from concierge.events.drafts import EventDraft, create_event
from concierge.events.invitations import send_invitations
from crm_adapter import models as m
from tests.e2e.conftest import Channels
from tests.e2e.journeys import order_cash_delivery, relay_round_trip, the_rated_request
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness
from tests.max_harness import MaxHarness

CLIENT, OTHER, MANAGER, BACKUP, DUTY = 7601, 7602, 8601, 8602, 8603
MESSENGERS = ("telegram", "max")

Harness = BotHarness | MaxHarness


@pytest.fixture(params=MESSENGERS)
def messenger(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _bank(harness: Harness) -> MiniBank:
    return await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)


async def _logged_messengers(harness: Harness, client_id: int) -> set[str | None]:
    async with harness.app.crm.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(m.InteractionRow.messenger).where(
                m.InteractionRow.client_id == client_id, m.InteractionRow.direction == "in"
            )
        )
        return set(rows)


async def test_link_consent_and_menu(channels: Channels, messenger: str) -> None:
    harness = channels.of(messenger)
    bank = await make_bank(harness.app.crm)
    client = harness.user(CLIENT)
    await harness.link(client, client_id=bank.client_id, consent=False)
    texts = harness.texts(CLIENT)
    assert "Иван Петрович" in texts[0] and "Соколов Андрей" in texts[0]
    assert "Согласие на обработку персональных данных" in texts[1]

    await harness.press_button(client, "Даю согласие")
    assert "согласие записано" in harness.texts(CLIENT)[-2]
    assert "Главное меню" in harness.last_text(CLIENT)
    assert "👤 Мой менеджер" in harness.last_buttons(CLIENT)

    await harness.send(client, "/help")
    assert "Что я умею" in harness.last_text(CLIENT)
    await harness.send(client, "/language")
    await harness.press_button(client, "English")
    assert "Main menu" in harness.last_text(CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        link = await uow.links.for_client(bank.client_id)
        consent = await uow.consents.current(bank.client_id)
    assert link is not None and link.messenger == messenger and link.language == "en"
    assert consent is not None and consent.active
    assert await _logged_messengers(harness, bank.client_id) == {messenger}
    # A press is logged with the label the client read (for the bank's CRM), once they
    # have consented: the consent press itself keeps no more than that it happened.
    async with harness.app.crm.unit_of_work() as uow:
        presses = await uow.session.scalars(
            select(m.InteractionRow)
            .where(
                m.InteractionRow.client_id == bank.client_id, m.InteractionRow.kind == "callback"
            )
            .order_by(m.InteractionRow.id)
        )
        logged = [(p.text, (p.payload or {}).get("button")) for p in presses]
    assert logged == [(None, None), ("lang:en", "English")]


async def test_service_wizard_to_the_manager_and_back(channels: Channels, messenger: str) -> None:
    harness = channels.of(messenger)
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await order_cash_delivery(harness, CLIENT, MANAGER)
    await harness.press_button(manager, "Принять")
    assert "взял(а) в работу" in harness.last_text(CLIENT)
    await harness.press_button(manager, "Решено")
    assert "выполнена" in harness.last_text(CLIENT)
    await harness.press_button(client, "5 ⭐")
    request, feedback = await the_rated_request(harness, bank.client_id)
    assert request.status == "resolved" and request.details is not None
    assert request.details["answers"]["amount"] == "1500000.50"
    assert feedback is not None and feedback.score == 5


async def test_question_gets_a_cited_answer(asking_channels: Channels, messenger: str) -> None:
    harness = asking_channels.of(messenger)
    bank = await _bank(harness)
    client = harness.user(CLIENT)
    await harness.send(client, "хочу вложиться в альтернативные инвестиции, что у вас есть?")
    assert "Источники:" in harness.last_text(CLIENT)
    assert "интересуется" in harness.last_text(MANAGER)
    await harness.press_button(client, "📄")
    assert harness.last_text(CLIENT).startswith("<b>")
    await harness.send(client, "хочу поговорить с менеджером")
    assert "хочу поговорить с менеджером" in harness.last_text(MANAGER)
    async with harness.app.crm.unit_of_work() as uow:
        codes = list(await uow.session.scalars(select(m.ServiceRequestRow.service_code)))
    assert codes == ["question"] and bank.client_id


async def test_relay_with_the_manager_both_ways(channels: Channels, messenger: str) -> None:
    harness = channels.of(messenger)
    bank = await _bank(harness)
    client = harness.user(CLIENT)
    await relay_round_trip(harness, CLIENT, MANAGER)

    # A long message, over either messenger's limit with the card: every part answerable.
    await harness.send(client, "слово " * 675)
    first_part = next(text for text in reversed(harness.texts(MANAGER)) if "Волков" in text)
    assert all(len(text) <= 4096 for text in harness.texts(MANAGER))
    assert first_part != harness.last_text(MANAGER)

    await harness.send_content(client, "photo")
    await harness.press_button(client, "Завершить")
    await harness.send(client, "Привет")
    assert "Что я умею" in harness.last_text(CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        relays = (
            await uow.session.execute(
                select(
                    m.InteractionRow.actor,
                    m.InteractionRow.messenger,
                    m.InteractionRow.client_id,
                ).where(m.InteractionRow.kind == "relay")
            )
        ).all()
    assert [actor for actor, _, _ in relays] == ["client", "staff", "client", "client"]
    assert {(used, client_id) for _, used, client_id in relays} == {(messenger, bank.client_id)}


async def test_relay_no_one_can_take_is_kept_for_the_duty_desk(
    channels: Channels, messenger: str
) -> None:
    """No one who answers for the client has a linked account: the message is kept in a
    request for the duty desk, and the client is told its number in their messenger."""
    harness = channels.of(messenger)
    bank = await harness.linked_bank(client=CLIENT)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, "Прошу перезвонить сегодня")
    async with harness.app.crm.unit_of_work() as uow:
        [(request_id, summary, level, assignee)] = (
            await uow.session.execute(
                select(
                    m.ServiceRequestRow.id,
                    m.ServiceRequestRow.summary,
                    m.ServiceRequestRow.escalation_level,
                    m.ServiceRequestRow.assignee_id,
                )
            )
        ).all()
    assert summary.endswith("\nПрошу перезвонить сегодня")
    assert (level, assignee) == (2, bank.duty_id)
    assert f"сохранено в заявке #{request_id}: её получил(а) Дежурная служба" in harness.last_text(
        CLIENT
    )


async def test_rsvp_to_a_closed_event(channels: Channels, messenger: str) -> None:
    harness = channels.of(messenger)
    bank = await _bank(harness)
    starts = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
    async with harness.app.crm.unit_of_work() as uow:
        event = await create_event(
            uow,
            clock=harness.app.clock,
            draft=EventDraft(
                title="Вечер с главным экономистом",
                description="Закрытая встреча",
                starts_at=starts,
                ends_at=starts + timedelta(hours=3),
                venue="Особняк на Пречистенке",
                city="Москва",
                capacity=10,
                plus_ones_allowed=True,
                rsvp_deadline=starts - timedelta(days=2),
                audience=AudienceCriteria(manager_ids=frozenset({bank.manager_id})),
            ),
            coordinator_id=bank.coordinator_id,
        )
        await uow.commit()
    async with harness.job_unit() as uow:
        await send_invitations(uow, harness.app.notifier, harness.app.clock, event.id)
        await uow.commit()
    assert "Вечер с главным экономистом" in harness.last_text(CLIENT)

    client = harness.user(CLIENT)
    await harness.press_button(client, "+1")
    assert any("Ваш код для входа" in text for text in harness.texts(CLIENT)[-3:])
    await harness.press_button(client, "+1")
    assert harness.alerts()[-1] == "Ваш ответ уже записан."
    async with harness.app.crm.unit_of_work() as uow:
        invitation = await uow.events.invitation_for(event.id, bank.client_id)
    assert invitation is not None and invitation.status == "accepted" and invitation.plus_one
