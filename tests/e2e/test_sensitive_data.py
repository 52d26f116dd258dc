"""Sensitive data on arrival: masked in every stored row, in the relay and in every log line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import CopyMessage
from sqlalchemy import select, text

from bot.local_session import sample_content
from cli.logging_setup import configure_logging
from common.settings import Settings
from crm_adapter import models as m
from tests.factories import MiniBank, make_bank
from tests.harness import BotHarness

# Valid check digits: found without any word around them.
CARD = "4276 1234 5678 9014"
CARD_DIGITS = CARD.replace(" ", "")
MIR = "2200 0000 0000 0004"
PASSPORT = "45 12 345678"


@pytest.fixture
def production_logging(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """The process's log set-up (JSON or console lines) writing to a file the test reads."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    log_file = tmp_path / "concierge.log"
    configure_logging(settings.model_copy(update={"log_json": request.param}), to_file=log_file)
    yield log_file
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


def _written(log_file: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return log_file.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "production_logging", [True, False], indirect=True, ids=["json", "console"]
)
async def test_a_failed_note_logs_no_digit_of_the_card_it_held(
    harness: BotHarness, production_logging: Path
) -> None:
    # The statement fails (the table is gone); its error used to carry the bound values.
    await harness.linked_bank(manager=7001)
    manager = harness.user(7001)
    async with harness.app.crm.engine.begin() as conn:
        await conn.execute(text("DROP TABLE note"))

    calls = await harness.send(manager, f"/note C-0001 карта {CARD}, паспорт {PASSPORT}")

    assert "что-то пошло не так" in calls[-1].text  # type: ignore[attr-defined]
    written = _written(production_logging)
    assert "update" in written and "failed" in written and "note" in written
    # In any spelling, line by line (a lone group of four digits also occurs in timestamps).
    for line in written.splitlines():
        digits = re.sub(r"\D", "", line)
        assert CARD_DIGITS[:8] not in digits and "4512345678" not in digits, line
    for pair in ("4276 1234", "1234 5678", "5678 9014", "12 345678"):
        assert pair not in written, pair


PHONE = "+7 916 123-45-67"
CLIENT, MANAGER = 7401, 8401


def _clear(text: str | None) -> list[str]:
    """What of the test's card (its last four digits may show), passport and phone is in
    clear in `text`, however it was written."""
    text = text or ""
    digits = re.sub(r"\D", "", text)
    whole = [n for n in ("427612345678", "4512345678", "9161234567") if n in digits]
    return whole + [piece for piece in ("4276 1234", "345678", "123-45-67") if piece in text]


async def _client_and_manager(harness: BotHarness) -> MiniBank:
    return await harness.linked_bank(client=CLIENT, manager=MANAGER)


async def _texts_of(harness: BotHarness, row: type[Any], column: Any) -> list[str]:
    async with harness.app.crm.unit_of_work() as uow:
        return [v for v in (await uow.session.scalars(select(column))).all() if v]


async def test_the_manager_sees_the_relayed_message_masked_with_the_hint(
    harness: BotHarness,
) -> None:
    bank = await _client_and_manager(harness)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, f"Заблокируйте карту {CARD}, паспорт {PASSPORT}, тел. {PHONE}")

    relayed = harness.last_text(MANAGER)
    assert "[карта *9014]" in relayed and "[паспорт]" in relayed
    assert "защищённому каналу банка" in relayed
    # The phone reaches the manager who serves the client (a number to call back), never
    # the log: stored texts are checked below.
    assert _clear(relayed) == ["9161234567", "123-45-67"]
    # The client is told once, not at every message.
    warnings = [t for t in harness.texts(CLIENT) if "не присылайте в чат номера карт" in t]
    assert len(warnings) == 1
    await harness.send(client, f"И ещё карта {MIR}")
    assert "[карта *0004]" in harness.last_text(MANAGER)
    assert len([t for t in harness.texts(CLIENT) if "не присылайте в чат" in t]) == 1
    async with harness.app.crm.unit_of_work() as uow:
        told = await uow.clients.get(bank.client_id)
    assert told is not None and told.card_data_warned_at is not None

    texts = await _texts_of(harness, m.InteractionRow, m.InteractionRow.text)
    assert any("[card *9014]" in t for t in texts)
    assert [t for t in texts if _clear(t)] == []


async def test_a_callback_number_reaches_the_manager_and_is_stored_masked(
    harness: BotHarness,
) -> None:
    """Review: "call me back on my new number" reached the manager as "[phone]", with a hint
    about the bank's secure channel that does not fit a phone number."""
    await _client_and_manager(harness)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, "Перезвоните на мой новый номер +971 50 123 4567")

    relayed = harness.last_text(MANAGER)
    assert "+971 50 123 4567" in relayed
    assert "защищённому каналу банка" not in relayed
    assert not [t for t in harness.texts(CLIENT) if "не присылайте в чат" in t]
    texts = await _texts_of(harness, m.InteractionRow, m.InteractionRow.text)
    assert texts and not [t for t in texts if "123 4567" in t]


async def test_a_photo_with_a_card_number_in_its_caption_is_copied_with_the_caption_masked(
    harness: BotHarness,
) -> None:
    await _client_and_manager(harness)
    client = harness.user(CLIENT)
    await harness.press_button(client, "Мой менеджер")
    calls = await harness.feed(
        harness.update(
            message=harness._message(  # noqa: SLF001 - a photo with a caption of our own
                client, **sample_content("photo"), caption=f"моя карта {CARD}"
            )
        )
    )
    copies = [c for c in calls if isinstance(c, CopyMessage)]
    assert len(copies) == 1 and copies[0].caption == "моя карта [карта *9014]"
    assert "защищённому каналу банка" in harness.last_text(MANAGER)


async def test_requests_comments_notes_and_feedback_hold_masked_forms(
    harness: BotHarness,
) -> None:
    bank = await _client_and_manager(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await harness.send(client, "/menu")
    await harness.press_button(client, "Услуги")
    await harness.press_button(client, "Блокировка")
    await harness.press_button(client, "Заблокировать")
    await harness.send(client, f"карта {CARD}")
    assert _clear(harness.last_text(CLIENT)) == []  # the confirmation shows it masked
    await harness.press_button(client, "Отправить")
    assert (
        "[карта *9014]" in harness.last_text(MANAGER) and _clear(harness.last_text(MANAGER)) == []
    )

    await harness.press_button(client, "Мои заявки")
    await harness.press_button(client, "#")
    await harness.press_button(client, "Комментарий")
    await harness.send(client, f"перезвоните {PHONE}")
    assert "[телефон]" in harness.last_text(MANAGER) and _clear(harness.last_text(MANAGER)) == []

    await harness.press_button(manager, "Решено")
    await harness.press_button(client, "1 ⭐")
    await harness.press_button(client, "Добавить комментарий")
    await harness.send(client, f"паспорт {PASSPORT} так и не вернули")
    assert "[паспорт]" in harness.last_text(MANAGER)
    await harness.send(manager, f"/note C-0001 клиент продиктовал карту {CARD} и {PHONE}")

    async with harness.app.crm.unit_of_work() as uow:
        s = uow.session
        stored = [
            *(await s.scalars(select(m.ServiceRequestRow.summary))).all(),
            *[
                json.dumps(d, ensure_ascii=False)
                for d in (await s.scalars(select(m.ServiceRequestRow.details))).all()
            ],
            *(await s.scalars(select(m.RequestCommentRow.text))).all(),
            *(await s.scalars(select(m.FeedbackRow.comment))).all(),
            *(await s.scalars(select(m.NoteRow.text))).all(),
            *(await s.scalars(select(m.InteractionRow.text))).all(),
            *(await s.scalars(select(m.OutboxMessageRow.text))).all(),
        ]
    assert any("[card *9014]" in (t or "") for t in stored)
    assert any("[passport]" in (t or "") for t in stored)
    assert [t for t in stored if _clear(t)] == []
    notes = await _texts_of(harness, m.NoteRow, m.NoteRow.text)
    assert notes == ["клиент продиктовал карту [card *9014] и [phone]"]
    assert bank.client_id


async def test_strangers_and_clients_without_consent_leave_metadata_only(
    harness: BotHarness,
) -> None:
    bank = await make_bank(harness.app.crm)
    stranger, refusing = harness.user(7501), harness.user(7502)
    await harness.send(stranger, f"Я Волков, карта {CARD}")
    await harness.press(stranger, "menu:services")
    await harness.link(refusing, client_id=bank.other_client_id, consent=False)
    await harness.send(refusing, f"Морозова, паспорт {PASSPORT}")
    await harness.send(refusing, "/start some-old-code")

    async with harness.app.crm.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(m.InteractionRow).where(
                    m.InteractionRow.direction == "in",
                    m.InteractionRow.chat_id.in_([7501, 7502]),
                )
            )
        ).all()
        kept = [(r.chat_id, r.kind, r.text, r.update_id is not None) for r in rows]
        payloads = [set(r.payload or {}) for r in rows]
    assert kept == [
        (7501, "message", None, True),
        (7501, "callback", None, True),
        (7502, "command", "/start", True),  # the link code the stranger used: not kept
        (7502, "message", None, True),
        (7502, "command", "/start", True),
    ]
    assert all(p <= {"content_type", "message_id", "callback_id"} for p in payloads)


async def test_a_link_code_is_never_stored_in_clear(harness: BotHarness) -> None:
    await harness.linked_bank(manager=MANAGER)
    manager = harness.user(MANAGER)
    await harness.send(manager, "/start Xy7-secret_code")
    texts = await _texts_of(harness, m.InteractionRow, m.InteractionRow.text)
    assert "/start [code]" in texts
    assert not any("Xy7-secret_code" in t for t in texts)


async def test_the_managers_interest_signal_quotes_the_question_masked(asking: BotHarness) -> None:
    bank = await asking.linked_bank(client=7101, manager=8101)
    client = asking.user(7101)
    await asking.send(
        client, f"хочу вложиться в альтернативные инвестиции, перезвоните на {PHONE}"
    )
    [signal] = [t for t in asking.texts(8101) if "интересуется" in t]
    assert "[телефон]" in signal and _clear(signal) == []
    assert [t for t in asking.texts(8101) if _clear(t)] == []  # the hand-over card too
    async with asking.app.crm.unit_of_work() as uow:
        notes = await uow.profiles.notes(bank.client_id)
    assert notes[0].kind == "interest" and "[phone]" in notes[0].text


async def test_a_card_number_a_manager_types_back_reaches_the_client_masked(
    harness: BotHarness,
) -> None:
    await _client_and_manager(harness)
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, "Заблокируйте, пожалуйста, карту")
    await harness.send(
        manager,
        f"Карта {CARD} заблокирована, звоните на {PHONE}",
        reply_to_message=harness.last_message(MANAGER),
    )
    delivered = harness.last_text(CLIENT)
    # A phone the manager gives is delivered; the card number only as on a receipt.
    assert "[карта *9014]" in delivered and PHONE in delivered
    assert "4276 1234" not in delivered
