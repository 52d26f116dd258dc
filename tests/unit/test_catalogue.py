"""The service catalogue file and the validation of a client's typed answers."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from concierge.catalogue import (
    CATALOGUE_PATH,
    InvalidAnswer,
    StepKind,
    load_catalogue,
    parse_amount,
    parse_answer,
)
from concierge.staffing import is_working
from crm_adapter.dto import Staff

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 18:00 in Moscow
MSK = ZoneInfo("Europe/Moscow")


def _step(code: str, field: str):  # type: ignore[no-untyped-def]
    service = load_catalogue().get(code)
    assert service is not None
    return next(s for s in service.steps if s.field == field)


def test_shipped_catalogue_has_every_service_the_bank_offers() -> None:
    catalogue = load_catalogue()
    codes = {s.code for s in catalogue.menu()}
    assert codes >= {
        "urgent_transfer",
        "card_block",
        "lost_card_abroad",
        "airport_vip",
        "legal_consultation",
        "cash_delivery",
        "fx_preferential",
        "manager_meeting",
        "certificate",
        "safe_deposit",
        "concierge",
    }
    assert all(s.sla.ack_minutes > 0 for s in catalogue.services)
    assert catalogue.sos().steps[0].kind is StepKind.CHOICE


def test_broken_catalogue_is_refused_at_start_up(tmp_path: Path) -> None:
    raw = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    raw["services"][0]["steps"][0]["kind"] = "choice"  # a choice without options
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match="needs options"):
        load_catalogue(broken)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 500 000", "1500000"),
        ("1,500,000.50", "1500000.50"),
        ("1.500.000,50", "1500000.50"),
        ("250000,5", "250000.5"),
        ("12 000 руб.", "12000"),
    ],
)
def test_amounts_with_spaces_and_commas(raw: str, expected: str) -> None:
    assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("code", "field", "raw", "reason"),
    [
        ("cash_delivery", "amount", "много", "amount"),
        ("cash_delivery", "amount", "10", "amount_range"),
        ("cash_delivery", "date", "31.02.2027", "date"),
        ("cash_delivery", "date", "21.11.2026", "past"),
        ("cash_delivery", "date", "01.06.2027", "too_far"),
        ("cash_delivery", "currency", "USB", "currency"),
        ("cash_delivery", "city", "12345", "place"),
        ("manager_meeting", "when", "22.11.2026 17:59", "past"),
        ("manager_meeting", "when", "завтра", "datetime"),
        ("manager_meeting", "place", "в бане", "choose_button"),
        ("concierge", "wish", "ой", "length"),
    ],
)
def test_bad_answers_name_their_reason(code: str, field: str, raw: str, reason: str) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(_step(code, field), raw, language="ru", tz=MSK, now=NOW)
    assert caught.value.reason == reason


def test_dates_are_read_in_the_clients_time_zone() -> None:
    # 18:30 in Moscow is still in the future at 18:00 Moscow time, though 15:30 UTC < 18:00.
    answer = parse_answer(
        _step("manager_meeting", "when"), "22.11.2026 18:30", language="ru", tz=MSK, now=NOW
    )
    assert answer.value == "2026-11-22T15:30:00+00:00" and answer.shown == "22.11.2026 18:30"
    day = parse_answer(_step("cash_delivery", "date"), "25.11", language="en", tz=MSK, now=NOW)
    assert day.value == "2026-11-25"


def test_choice_accepts_the_typed_title() -> None:
    answer = parse_answer(
        _step("manager_meeting", "place"), "video call", language="en", tz=MSK, now=NOW
    )
    assert answer.value == "video"


def _staff(**changes: object) -> Staff:
    fields: dict[str, object] = {
        "id": 1,
        "external_id": "S",
        "full_name": "S",
        "roles": "manager",
        "backup_id": None,
        "timezone": "Europe/Moscow",
        "language": "ru",
        "work_start": time(9),
        "work_end": time(19),
        "absent": False,
        "active": True,
    }
    return Staff.model_validate({**fields, **changes})


def test_working_hours_in_the_staff_members_zone() -> None:
    assert is_working(_staff(), NOW)
    assert not is_working(_staff(absent=True), NOW)
    assert not is_working(_staff(timezone="Asia/Vladivostok"), NOW)  # 01:00 there
    assert is_working(_staff(work_start=time(17), work_end=time(8)), NOW)  # a night shift
