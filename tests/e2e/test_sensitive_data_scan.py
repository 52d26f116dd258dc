"""Issue 21's "done when": a scripted console session full of card, passport and phone
numbers, then a scan of every text column of every table and of the log: none in clear.

The session runs as a person runs it (`concierge console --script`, its own process, the
production log set-up at DEBUG), through every path a typed text takes: a stranger, the
relay both ways, a manager's note, a service request with a comment, a rating comment, a
question handed over to the manager, and messages after consent is withdrawn.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect, select, table
from sqlalchemy.sql import column

from common.settings import Settings
from crm_adapter.sql import SqlCrm
from tests.e2e.conftest import console_script
from tests.factories import make_bank

SESSION = """\
:as new
Здравствуйте, я Волков, карта 4276 1234 5678 9014, паспорт 45 12 345678, тел. +7 916 123-45-67
:as staff S-0001
/help
:as client C-0001
:press Даю согласие
:press Мой менеджер
Заблокируйте карту 4276 1234 5678 9014 и перезвоните на +7 916 123-45-67
Паспорт 45 12 345678, СНИЛС 112-233-445 95, ИНН 500100732259, счёт 40817810099991234567
:as staff S-0001
:reply Карту 4276 1234 5678 9014 заблокировали, перезвоню на 8 (916) 123-45-67
/note C-0001 продиктовал паспорт 4512 345678 и телефон 89161234567, CVV 123
:as client C-0001
:press Завершить
/menu
:press Услуги
:press Блокировка
:press Заблокировать
карта 4276123456789014, код из смс 987654
:press Отправить
:jobs
:press Мои заявки
:press #
:press Комментарий
паспорт серия 4512 номер 345678, мобильный 9161234567
:jobs
:as staff S-0001
:press Решено
:jobs
:as client C-0001
:press 1 ⭐
:press Добавить комментарий
Звонили с +44 20 7946 0958 и просили карту 2200 7012 3456 7896
:jobs
Что делать, если украли карту 4276 1234 5678 9014? Мой телефон 8 916 123 45 67
:jobs
/menu
:press Настройки
:press Отозвать согласие
:press Да, подтверждаю
А теперь карта 4276 1234 5678 9014 и паспорт 45 12 345678
:quit
"""

# Every number of the session, as digits: none may be found in any spelling.
NUMBERS = {
    "card": "427612345678",  # the last four digits may stay, as on a receipt
    "mir": "220070123456",
    "passport": "4512345678",
    "phone": "9161234567",
    "uk_phone": "2079460958",
    "snils": "11223344595",
    "inn": "500100732259",
    "account": "4081781009999",
}
# Pieces that stand on their own in the texts.
PIECES = re.compile(r"(?<!\d)(?:345678|987654)(?!\d)|CVV 123|4276 1234|123-45-67")


def in_clear(value: str) -> list[str]:
    """Which of the session's numbers `value` holds in clear, however written."""
    digits = re.sub(r"\D", "", value)
    found = [name for name, number in NUMBERS.items() if number in digits]
    return found + PIECES.findall(value)


async def _scan_database(url: str) -> dict[str, list[str]]:
    """Every value of every column of every table, as text (JSON as stored, bytes decoded)."""
    crm = SqlCrm.from_url(url)
    found: dict[str, list[str]] = {}
    try:
        async with crm.engine.connect() as conn:
            tables = await conn.run_sync(
                lambda sync: {
                    name: [c["name"] for c in inspect(sync).get_columns(name)]
                    for name in inspect(sync).get_table_names()
                }
            )
            for name, columns in tables.items():
                rows = await conn.execute(
                    select(*(column(c) for c in columns)).select_from(table(name))
                )
                for row in rows:
                    for col, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        text = (
                            value.decode("utf-8", "ignore")
                            if isinstance(value, bytes)
                            else str(value)
                        )
                        hits = in_clear(text)
                        if hits:
                            found.setdefault(f"{name}.{col}", []).extend(hits)
    finally:
        await crm.close()
    return found


async def test_a_console_session_full_of_numbers_leaves_none_in_clear(
    settings: Settings, crm: SqlCrm, tmp_path: Path
) -> None:
    await make_bank(crm)
    result = await console_script(
        settings.database.url, tmp_path, SESSION, timeout=300, LOG_LEVEL="DEBUG", LOG_JSON="false"
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    # The session went where it should: relayed, noted, requested, rated, handed over.
    assert "🔒 Пожалуйста, не присылайте в чат номера карт" in shown
    assert shown.count("защищённому каналу банка") >= 2  # the manager's relayed copies
    # Everyone in the session reads Russian: masked numbers are worded so (stored neutral).
    assert "[карта *9014]" in shown and "[паспорт]" in shown and "[телефон]" in shown
    assert "сохранена и попадёт в следующий брифинг" in shown
    assert "Заявка #1" in shown and "оценил" in shown
    assert "Согласие отозвано" in shown

    found = await _scan_database(settings.database.url)
    assert found == {}, found
    log = (tmp_path / "console.log").read_text(encoding="utf-8")
    assert log.strip(), "the session wrote no log at all"
    leaks = {n: hits for n, line in enumerate(log.splitlines()) if (hits := in_clear(line))}
    assert leaks == {}, leaks
