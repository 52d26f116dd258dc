"""The local console messenger, non-interactively: link, consent, menu, language, help."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from common.clock import ManualClock
from common.settings import Settings
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from tests.e2e.conftest import CONSOLE_CLIENT_JOURNEY, console_script, console_transcript
from tests.factories import make_bank

SCRIPT = f"""\
# a new visitor first, then the client linked by the bank's one-time link
:as new
Здравствуйте
{CONSOLE_CLIENT_JOURNEY}:send sticker
:as staff S-0001
/help
:quit
"""


async def _console(settings: Settings, crm: SqlCrm, clock: ManualClock, script: str) -> str:
    """What the console shows for `script`, run in-process against the demo bank."""
    await make_bank(crm)
    return await console_transcript(settings, crm, clock, script, with_max=True)


async def test_console_session_link_consent_menu(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    text = await _console(settings, crm, clock, SCRIPT)
    assert "ссылку-приглашение" in text  # the stranger got linking instructions only
    assert "Здравствуйте, Иван Петрович! Ваш аккаунт подключён" in text
    assert "[1] Даю согласие  [2] Не сейчас" in text
    assert "Ваш персональный менеджер — *Соколов Андрей*" in text
    assert "Диалог с менеджером завершён" in text
    assert "Language switched to English." in text
    assert "What I can do" in text
    assert "I understand text and buttons only" in text
    assert "Рабочий доступ подключён" in text and "Staff commands" not in text

    async with crm.unit_of_work() as uow:
        inbound = await uow.session.scalar(
            select(func.count()).where(m.InteractionRow.direction == "in")
        )
        duplicates = await uow.session.scalar(
            select(func.count() - func.count(func.distinct(m.InteractionRow.update_id))).where(
                m.InteractionRow.update_id.is_not(None)
            )
        )
    # One logged update per line that reached the bot: 9 script lines and 2 /start codes.
    assert inbound == 11
    assert duplicates == 0


async def test_console_presses_a_button_of_an_earlier_message(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    # After the relay's own keyboard, the main menu above it is still on screen, as in
    # Telegram: pressing "Мой менеджер" again used to answer "no such button".
    script = (
        ":as client C-0001\n:press Даю согласие\n:press Мой менеджер\n:press Завершить\n"
        ":press Мой менеджер\n:press 1\n:press Нет такой\n:quit\n"
    )
    text = await _console(settings, crm, clock, script)
    assert text.count("Ваш персональный менеджер — *Соколов Андрей*") == 2
    # A number still means the last keyboard: [1] of the relay's is "Завершить".
    assert text.count("Диалог с менеджером завершён") == 2
    assert "(no such button on your messages)" in text


async def test_console_plays_a_client_in_max_beside_telegram(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    script = (
        ":as staff S-0001\n"
        ":as client C-0001 --channel max\n:press Даю согласие\n:press Мой менеджер\n"
        "Можно перенести встречу?\n:as staff S-0001\n:reply Да, на четверг\n"
        ":as client C-0001 --channel pigeon\n:quit\n"
    )
    text = await _console(settings, crm, clock, script)
    client_in_max = "Волков Иван Петрович (client C-0001) in MAX"
    assert f"(you are now {client_in_max})" in text
    # The manager (linked in Telegram) gets the relay; the answer goes back to MAX.
    relayed = text.index("── to Соколов Андрей")
    assert "Можно перенести встречу?" in text[relayed:]
    answered = text.index(f"── to {client_in_max} · MAX ──\n👤 *Соколов Андрей*:\nДа, на четверг")
    assert answered > relayed
    assert "(usage: :as client C-0001 [--channel max]" in text
    async with crm.unit_of_work() as uow:
        messengers = set(
            await uow.session.scalars(
                select(m.MessengerLinkRow.messenger).where(m.MessengerLinkRow.client_id == 1)
            )
        )
        answered = await uow.session.scalar(
            select(m.InteractionRow.messenger).where(
                m.InteractionRow.kind == "relay", m.InteractionRow.actor == "staff"
            )
        )
    assert messengers == {"max"} and answered == "telegram"


async def test_concierge_console_runs_a_quick_script_without_flood_control(
    settings: Settings, crm: SqlCrm, tmp_path: Path
) -> None:
    """The `concierge console --script` entry point, in its own process, as a user runs it.

    Regression: a script of about nine quick lines tripped flood control (8 updates per 10 s
    by default), so a demo script lost its last answers to "you are sending too often".
    """
    await make_bank(crm)
    menus = "/menu\n" * 12
    result = await console_script(
        settings.database.url, tmp_path, f":as client C-0001\n:press Даю\n{menus}:quit\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Вы отправляете сообщения очень часто" not in result.stdout
    # The consent's own menu, then one per /menu line.
    assert result.stdout.count("Главное меню") == 13
    assert "[2] 🛎 Услуги" in result.stdout


async def test_second_console_session_is_not_taken_for_redelivery(
    settings: Settings, crm: SqlCrm, clock: ManualClock
) -> None:
    """Regression: update ids restarted at 1 in every console, so a second session on the
    same database had all its updates ignored as duplicates."""
    await make_bank(crm)
    outputs = [
        await console_transcript(settings, crm, clock, ":as new\n/help\n:quit\n") for _ in range(2)
    ]
    assert all("подключите аккаунт" in text for text in outputs)
