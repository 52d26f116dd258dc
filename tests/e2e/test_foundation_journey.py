"""Linking, consent, menu, help and language through the real dispatcher."""

from __future__ import annotations

from aiogram.methods import SendMessage
from sqlalchemy import func, select

from crm_adapter import models as m
from tests.factories import make_bank
from tests.harness import BotHarness


async def test_unknown_account_gets_linking_instructions_only(harness: BotHarness) -> None:
    stranger = harness.user(5001)
    calls = await harness.send(stranger, "Покажите мой баланс")
    assert len(calls) == 1
    assert isinstance(calls[0], SendMessage)
    assert "ссылку-приглашение" in calls[0].text


async def test_client_links_gives_consent_and_sees_menu(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    client = harness.user(7001)
    await harness.link(client, client_id=bank.client_id, consent=False)
    texts = harness.texts(7001)
    assert "Иван Петрович" in texts[0] and "Соколов Андрей" in texts[0]
    assert "Согласие на обработку персональных данных" in texts[1]

    await harness.press_button(client, "Даю согласие")
    assert "согласие записано" in harness.texts(7001)[-2]
    assert "Главное меню" in harness.last_text(7001)

    async with harness.app.crm.unit_of_work() as uow:
        consent = await uow.consents.current(bank.client_id)
    assert consent is not None and consent.active and consent.document_version == "2025-09-01"


async def test_english_on_request(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    client = harness.user(7002)
    await harness.link(client, client_id=bank.client_id)
    await harness.send(client, "/language")
    await harness.press_button(client, "English")
    assert harness.texts(7002)[-2] == "Language switched to English."
    await harness.send(client, "/help")
    assert "What I can do" in harness.last_text(7002)


async def test_every_update_and_reply_logged_once(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    client = harness.user(7003)
    await harness.link(client, client_id=bank.client_id)
    await harness.send(client, "/menu")
    sent = [c for c in harness.session.calls if c.method.__api_method__ != "getMe"]
    async with harness.app.crm.unit_of_work() as uow:
        inbound = await uow.session.scalar(
            select(func.count()).where(m.InteractionRow.direction == "in")
        )
        outbound = await uow.session.scalar(
            select(func.count()).where(m.InteractionRow.direction == "out")
        )
        linked = await uow.session.scalar(
            select(func.count()).where(m.InteractionRow.client_id == bank.client_id)
        )
    assert inbound == 3  # /start code, consent button, /menu
    assert outbound == len(sent)
    # After linking, everything in this chat is attributed to the client.
    assert linked == (inbound or 0) + (outbound or 0) - 1  # the /start itself came from nobody


async def test_client_recorded_as_english_is_greeted_in_english(harness: BotHarness) -> None:
    """Regression: the greeting after linking used the stranger's default (Russian) even for a
    client whose CRM language is English."""
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.clients.update_preferences(bank.other_client_id, language="en")
        await uow.commit()
    user = harness.user(7004, language_code="en")
    await harness.link(user, client_id=bank.other_client_id)
    texts = harness.texts(7004)
    assert texts[0].startswith("Hello, Елена Сергеевна! Your account is connected.")
    assert "Main menu" in texts[-1]
