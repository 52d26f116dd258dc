"""Bad input gets a clear answer, a log entry and no crash: content, commands, buttons, codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram import Router
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import Message
from sqlalchemy import func, select

from bot.callbacks import StaffRequestCb
from bot.event_callbacks import EventAdminCb
from common.clock import ManualClock
from common.settings import BehaviourSettings, Settings
from concierge.linking import issue_link_code
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from handlers.manager_render import ClientCb
from tests.factories import make_bank
from tests.harness import BotHarness, recorded_harness


@pytest.fixture
async def client_user(harness: BotHarness) -> object:
    await harness.linked_bank(client=6001)
    return harness.user(6001)


@pytest.mark.parametrize("content", ["sticker", "voice", "photo", "document"])
async def test_unsupported_content_is_answered(
    harness: BotHarness, client_user: object, content: str
) -> None:
    calls = await harness.send_content(client_user, content)  # type: ignore[arg-type]
    assert len(calls) == 1 and isinstance(calls[0], SendMessage)
    assert "только текст и кнопки" in calls[0].text
    async with harness.app.crm.unit_of_work() as uow:
        logged = await uow.interactions.for_client(1, limit=2)
    assert logged[1].payload is not None and logged[1].payload["content_type"] == content


async def test_unknown_command(harness: BotHarness, client_user: object) -> None:
    calls = await harness.send(client_user, "/balance")  # type: ignore[arg-type]
    assert "Такой команды нет" in calls[0].text  # type: ignore[attr-defined]


async def test_very_long_text(harness: BotHarness, client_user: object) -> None:
    calls = await harness.send(client_user, "а" * 4090)  # type: ignore[arg-type]
    assert "слишком длинное" in calls[0].text  # type: ignore[attr-defined]


@pytest.mark.parametrize("data", ["menu:", "consent:maybe", "garbage", "request:999:accept"])
async def test_forged_or_malformed_button_is_refused_and_audited(
    harness: BotHarness, client_user: object, data: str
) -> None:
    calls = await harness.press(client_user, data)  # type: ignore[arg-type]
    assert isinstance(calls[0], AnswerCallbackQuery) and calls[0].show_alert
    async with harness.app.crm.unit_of_work() as uow:
        audit = await uow.audit.recent(limit=1)
    assert audit[0].action == "callback_rejected" and audit[0].outcome == "denied"


async def test_stranger_pressing_a_button_is_refused(harness: BotHarness) -> None:
    calls = await harness.press(harness.user(6100), "menu:services")
    assert isinstance(calls[0], AnswerCallbackQuery) and calls[0].show_alert


async def test_reused_and_expired_codes(harness: BotHarness, clock: ManualClock) -> None:
    bank = await make_bank(harness.app.crm)
    async with harness.app.crm.unit_of_work() as uow:
        used = await issue_link_code(uow, clock=clock, client_id=bank.client_id)
        expiring = await issue_link_code(uow, clock=clock, client_id=bank.other_client_id)
        await uow.commit()
    await harness.send(harness.user(6201), f"/start {used.code}")
    calls = await harness.send(harness.user(6202), f"/start {used.code}")
    assert "уже использован" in calls[0].text  # type: ignore[attr-defined]
    clock.advance(timedelta(hours=25))
    calls = await harness.send(harness.user(6203), f"/start {expiring.code}")
    assert "Срок действия кода истёк" in calls[0].text  # type: ignore[attr-defined]
    calls = await harness.send(harness.user(6204), "/start not-a-real-code")
    assert "не подошёл" in calls[0].text  # type: ignore[attr-defined]


async def test_client_without_consent_gets_minimal_service(harness: BotHarness) -> None:
    bank = await make_bank(harness.app.crm)
    user = harness.user(6301)
    await harness.link(user, client_id=bank.client_id, consent=False)
    await harness.press_button(user, "Не сейчас")
    assert "Без согласия" in harness.last_text(6301)
    calls = await harness.send(user, "/menu")
    assert "нужно согласие" in calls[0].text  # type: ignore[attr-defined]
    calls = await harness.press(user, "menu:manager")
    assert isinstance(calls[0], AnswerCallbackQuery) and calls[0].show_alert


async def test_redelivered_update_is_processed_once(harness: BotHarness) -> None:
    update = harness.update(message=harness._message(harness.user(6401), text="/help"))
    first = await harness.feed(update)
    second = await harness.feed(update)
    assert len(first) == 1 and second == []
    async with harness.app.crm.unit_of_work() as uow:
        count = await uow.session.scalar(
            select(func.count()).where(m.InteractionRow.update_id == update.update_id)
        )
    assert count == 1


async def test_flood_gets_one_polite_answer(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    tight = settings.model_copy(update={"behaviour": BehaviourSettings(throttle_burst=3)})
    harness = recorded_harness(tight, clock=clock, crm=crm)
    user = harness.user(6501)
    for _ in range(6):
        await harness.send(user, "/help")
    texts = harness.texts(6501)
    assert len(texts) == 4
    assert "очень часто" in texts[-1]


async def test_a_failing_handler_is_answered_and_the_update_still_logged(
    harness: BotHarness,
) -> None:
    boom = Router(name="boom")

    @boom.message(lambda m: m.text == "boom")
    async def explode(message: Message) -> None:
        raise RuntimeError("handler bug")

    harness.app.dispatcher.sub_routers.insert(0, boom)
    boom._parent_router = harness.app.dispatcher
    calls = await harness.send(harness.user(6601), "boom")
    assert "что-то пошло не так" in calls[-1].text  # type: ignore[attr-defined]
    async with harness.app.crm.unit_of_work() as uow:
        count = await uow.session.scalar(
            # A stranger's text is not kept (metadata only); the update is.
            select(func.count()).where(
                m.InteractionRow.chat_id == 6601, m.InteractionRow.direction == "in"
            )
        )
    assert count == 1


@pytest.mark.parametrize("command", ["/clients", "/brief", "/requests", "/newevent", "/events"])
async def test_a_client_typing_a_staff_command_is_told_it_does_not_exist(
    harness: BotHarness, client_user: object, command: str
) -> None:
    calls = await harness.send(client_user, command)  # type: ignore[arg-type]
    assert len(calls) == 1 and "Такой команды нет" in calls[0].text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "data",
    [
        StaffRequestCb(action="accept", request_id=1).pack(),
        ClientCb(action="card", client_id=2).pack(),
        EventAdminCb(event_id=1, action="csv").pack(),
    ],
)
async def test_a_client_pressing_a_staff_button_is_refused_and_audited(
    harness: BotHarness, client_user: object, data: str
) -> None:
    # Staff routers check the role once for all their handlers (bot.filters.staff_only).
    calls = await harness.press(client_user, data)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert isinstance(calls[0], AnswerCallbackQuery) and calls[0].show_alert
    async with harness.app.crm.unit_of_work() as uow:
        audit = await uow.audit.recent(limit=1)
    assert audit[0].action == "callback_rejected" and audit[0].outcome == "denied"


HUGE = "99999999999999999999"  # more than any id column holds


@pytest.mark.parametrize(
    "data",
    [
        f"sreq:open:{HUGE}",
        f"creq:open:{HUGE}",
        f"rate:{HUGE}:5",
        f"rate:1:{HUGE}",
        f"cl:card:{HUGE}",
        f"rsvp:{HUGE}:accept",
        f"evrate:1:{HUGE}",
        f"evadm:{HUGE}:list:",
        f"evaud:1:{HUGE}:1",
        f"fbc:{HUGE}",
        f"reasg:1:{HUGE}",
        f"nps:2026Q4:{HUGE}",
        f"wiz:opt:{HUGE}",
        "sreq:open:-1",
    ],
)
async def test_an_oversized_id_in_a_button_is_a_stale_button_for_everyone(
    harness: BotHarness, data: str
) -> None:
    # A forged number larger than the database holds used to reach it and fail there.
    await harness.linked_bank(client=6001, admin=7001)
    staff, client = harness.user(7001), harness.user(6001)
    for person in (staff, client):
        calls = await harness.press(person, data)
        assert len(calls) == 1, calls
        assert isinstance(calls[0], AnswerCallbackQuery) and calls[0].show_alert
        assert calls[0].text == "Эта кнопка устарела или недоступна. Откройте /menu."
        async with harness.app.crm.unit_of_work() as uow:
            audit = await uow.audit.recent(limit=1)
        assert audit[0].action == "callback_rejected" and audit[0].outcome == "denied"


@pytest.mark.parametrize(
    "command",
    [f"/event {HUGE}", f"/event #{HUGE}", "/event ²", f"/eventedit {HUGE} capacity 5"],
)
async def test_an_oversized_id_in_a_command_is_answered_with_its_usage(
    harness: BotHarness, command: str
) -> None:
    await harness.linked_bank(coordinator=7001)
    coordinator = harness.user(7001)
    calls = await harness.send(coordinator, command)
    assert len(calls) == 1 and "что-то пошло не так" not in calls[0].text  # type: ignore[attr-defined]
