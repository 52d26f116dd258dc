"""Sensitive data on arrival: masked in every stored row, in the relay and in every log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cli.logging_setup import configure_logging
from common.settings import Settings
from tests.factories import make_bank
from tests.harness import BotHarness

# Valid check digits: found without any word around them.
CARD = "4276 1234 5678 9014"
CARD_DIGITS = CARD.replace(" ", "")
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


def _digit_groups(number: str) -> list[str]:
    return [group for group in re.split(r"\D+", number) if len(group) >= 4]


@pytest.mark.parametrize(
    "production_logging", [True, False], indirect=True, ids=["json", "console"]
)
async def test_a_failed_note_logs_no_digit_of_the_card_it_held(
    harness: BotHarness, production_logging: Path
) -> None:
    # The statement fails (the table is gone); its error used to carry the bound values.
    bank = await make_bank(harness.app.crm)
    manager = harness.user(7001)
    await harness.link(manager, staff_id=bank.manager_id)
    async with harness.app.crm.engine.begin() as conn:
        await conn.execute(text("DROP TABLE note"))

    calls = await harness.send(manager, f"/note C-0001 карта {CARD}, паспорт {PASSPORT}")

    assert "что-то пошло не так" in calls[-1].text  # type: ignore[attr-defined]
    written = _written(production_logging)
    assert "update" in written and "failed" in written and "note" in written
    for group in [CARD_DIGITS, *_digit_groups(CARD), *_digit_groups(PASSPORT)]:
        assert group not in written, group
