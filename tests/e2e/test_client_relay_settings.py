"""Talking to the manager through the bot, settings, hand-over and NPS, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, time

from aiogram.methods import CopyMessage
from sqlalchemy import select

from bot.outbound import begin_capture, end_capture
from common.clock import ManualClock
from concierge.feedback import ask_nps, ask_nps_round
from concierge.hand_over import hand_over_question
from crm_adapter import models as m
from tests.e2e.journeys import relay_round_trip
from tests.factories import MiniBank
from tests.harness import BotHarness

CLIENT, MANAGER, BACKUP, DUTY = 7301, 8301, 8302, 8303


async def _bank(harness: BotHarness) -> MiniBank:
    return await harness.linked_bank(client=CLIENT, manager=MANAGER, backup=BACKUP, duty=DUTY)


async def test_relay_both_ways_with_photo(harness: BotHarness) -> None:
    bank = await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    relayed = await relay_round_trip(harness, CLIENT, MANAGER)
    # The segment by its name, not the CRM's code.
    assert "Волков Иван Петрович</b> · стабильный хранитель" in relayed
    assert "открытых заявок: 0" in relayed

    calls = await harness.send_content(client, "photo")
    copies = [c for c in calls if isinstance(c, CopyMessage)]
    assert len(copies) == 1 and copies[0].chat_id == MANAGER

    await harness.send(manager, "Просто заметка", reply_to_message=harness.last_message(CLIENT))
    assert "Команды сотрудника" in harness.last_text(MANAGER)  # not a relayed message: skipped

    await harness.press_button(client, "Завершить")
    await harness.send(client, "Привет")
    assert "Что я умею" in harness.last_text(CLIENT)  # out of relay mode
    async with harness.app.crm.unit_of_work() as uow:
        relays = (
            await uow.session.scalars(
                select(m.InteractionRow).where(m.InteractionRow.kind == "relay")
            )
        ).all()
        assert [r.actor for r in relays] == ["client", "staff", "client"]
        assert all(r.client_id == bank.client_id for r in relays)


async def test_long_relayed_text_is_split_and_every_part_answerable(
    harness: BotHarness,
) -> None:
    await _bank(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(
        client, "слово " * 675
    )  # under the bot's limit, over Telegram's with the card
    parts = harness.texts(MANAGER)[-2:]
    assert all(len(p) <= 4096 for p in parts) and "Волков" in parts[0]
    first_part = next(
        c.result
        for c in harness.session.calls
        if getattr(c.method, "chat_id", None) == MANAGER
        and "Волков" in getattr(c.method, "text", "")
    )
    await harness.send(manager, "Принято", reply_to_message=first_part)
    assert harness.last_text(CLIENT).endswith("Принято")


async def test_absent_manager_relay_goes_to_backup_and_client_is_told(
    harness: BotHarness,
) -> None:
    bank = await _bank(harness)
    async with harness.app.crm.unit_of_work() as uow:
        await uow.staff.set_absent(bank.manager_id, absent=True)
        await uow.commit()
    client, backup = harness.user(CLIENT), harness.user(BACKUP)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, "Когда придёт карта?")
    assert "вместо менеджера Соколов Андрей" in harness.last_text(BACKUP)
    assert "не на связи" in harness.last_text(CLIENT) and "Орлова Марина" in harness.last_text(
        CLIENT
    )
    await harness.send(backup, "Завтра утром", reply_to_message=harness.last_message(BACKUP))
    assert "Орлова Марина" in harness.last_text(CLIENT)


async def test_after_hours_relay_reaches_the_backup_on_a_late_shift(
    harness: BotHarness, clock: ManualClock
) -> None:
    bank = await _bank(harness)
    async with harness.app.crm.unit_of_work() as uow:
        backup = await uow.session.get(m.StaffRow, bank.backup_id)
        assert backup is not None
        backup.work_end = time(22, 0)
        await uow.commit()
    clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))  # 20:30 in Moscow
    await harness.press_button(harness.user(CLIENT), "Мой менеджер")
    await harness.send(harness.user(CLIENT), "Успеете сегодня?")
    assert "Успеете сегодня?" in harness.last_text(BACKUP)
    assert "Орлова Марина" in harness.last_text(CLIENT)
    clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=UTC))  # 23:00: only the duty desk is on
    await harness.send(harness.user(CLIENT), "А сейчас?")
    assert "А сейчас?" in harness.last_text(DUTY)


async def test_settings_are_persisted(harness: BotHarness) -> None:
    bank = await _bank(harness)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Настройки")
    await harness.press_button(client, "Тихие часы")
    await harness.press_button(client, "23:00–08:00")
    await harness.press_button(client, "Не беспокоить")
    await harness.press_button(client, "Рекламные")
    await harness.press_button(client, "Канал связи")
    await harness.press_button(client, "телефон")
    screen = harness.last_text(CLIENT)
    assert "23:00–08:00" in screen and "отказался" in screen and "телефон" in screen
    await harness.press_button(client, "Язык / Language")
    await harness.press_button(client, "English")
    assert "Quiet hours: 23:00–08:00" in harness.last_text(CLIENT)

    await harness.press_button(client, "Export my data")
    await harness.press_button(client, "Yes, confirm")
    assert "passed to a bank employee" in harness.last_text(CLIENT)
    assert "Выгрузка персональных данных" in harness.last_text(MANAGER)
    await harness.press_button(client, "Withdraw consent")
    await harness.press_button(client, "Yes, confirm")
    assert "Consent withdrawn" in harness.last_text(CLIENT)
    await harness.send(client, "/menu")
    assert "/consent" in harness.last_text(CLIENT)

    async with harness.app.crm.unit_of_work() as uow:
        stored = await uow.clients.get(bank.client_id)
        link = await uow.links.for_client(bank.client_id)
        consent = await uow.consents.current(bank.client_id)
        tasks = await uow.requests.for_client(bank.client_id)
    assert stored is not None and link is not None and consent is not None
    assert (stored.quiet_start, stored.quiet_end) == (time(23, 0), time(8, 0))
    assert stored.do_not_disturb and stored.marketing_opt_out
    assert stored.preferred_channel == "phone" and stored.language == "en"
    assert link.language == "en" and not consent.active
    assert [t.service_code for t in tasks] == ["data_export"]


async def test_forged_settings_value_is_refused(harness: BotHarness) -> None:
    await _bank(harness)
    await harness.press(harness.user(CLIENT), "set:channel:pigeon")
    assert harness.alerts()[-1].startswith("Эта кнопка устарела")


async def test_hand_over_question_creates_task_and_tells_client(harness: BotHarness) -> None:
    bank = await _bank(harness)
    # The lead calls this from the knowledge-base answer handler; as there, the bot's own
    # outgoing calls are captured while the update's transaction is open.
    token = begin_capture()
    async with harness.app.crm.unit_of_work() as uow:
        client = await uow.clients.get(bank.client_id)
        assert client is not None
        request = await hand_over_question(
            uow,
            harness.app.notifier,
            harness.app.clock,
            client=client,
            question="Можно ли открыть счёт в юанях для ребёнка?",
            reason="low_confidence",
        )
        await uow.commit()
    assert len(end_capture(token)) == 2  # the task to the manager, the promise to the client
    assert request.service_code == "question" and request.assignee_id == bank.manager_id
    assert "юанях" in harness.last_text(MANAGER)
    assert "Соколов Андрей" in harness.last_text(CLIENT)


async def test_nps_once_per_quarter_and_low_score_alerts(
    harness: BotHarness, clock: ManualClock
) -> None:
    bank = await _bank(harness)
    for _ in range(2):
        async with harness.app.crm.unit_of_work() as uow:
            client = await uow.clients.get(bank.client_id)
            assert client is not None
            asked = await ask_nps(uow, harness.app.notifier, clock, client=client)
            await uow.commit()
        if _ == 0:
            assert asked
        else:
            assert not asked  # the same quarter: never twice
    assert "порекомендуете" in harness.last_text(CLIENT)
    await harness.press_button(harness.user(CLIENT), "4")
    assert "NPS 4" in harness.last_text(MANAGER)
    await harness.press(harness.user(CLIENT), "nps:2026Q4:10")  # answering twice is refused
    assert harness.alerts()[-1] == "Это уже сделано."


async def test_nps_round_skips_clients_without_consent(
    harness: BotHarness, clock: ManualClock
) -> None:
    await _bank(harness)  # the other client never linked nor consented
    async with harness.app.crm.unit_of_work() as uow:
        assert await ask_nps_round(uow, harness.app.notifier, clock) == 1
    async with harness.app.crm.unit_of_work() as uow:
        assert await ask_nps_round(uow, harness.app.notifier, clock) == 0
