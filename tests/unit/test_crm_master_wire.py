"""Bitrix24's wire details: batch commands as PHP-style queries, record checks, BB-code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.bitrix24_standin import parse_query
from crm_adapter.master.bitrix24 import fields
from crm_adapter.master.bitrix24.adapter import marker
from crm_adapter.master.bitrix24.bbcode import neutral
from crm_adapter.master.bitrix24.rest import encode_query
from crm_adapter.master.records import MasterClient, MasterStaff, Skipped, Stream


def test_a_batch_command_survives_the_trip_through_a_php_query_string() -> None:
    params = {
        "filter": {">=DATE_MODIFY": "2026-11-22T18:00:00+03:00", "@ID": [5, 7]},
        "select": ["ID", "NAME"],
        "order": {"ID": "ASC"},
        "start": 50,
        "fields": {"COMMENT": "Строка 1\nстрока & 2 = [b]3[/b]", "OPENED": False},
    }
    parsed = parse_query(encode_query(params))
    assert parsed == {
        "filter": {">=DATE_MODIFY": "2026-11-22T18:00:00+03:00", "@ID": ["5", "7"]},
        "select": ["ID", "NAME"],
        "order": {"ID": "ASC"},
        "start": "50",
        "fields": {"COMMENT": "Строка 1\nстрока & 2 = [b]3[/b]", "OPENED": "N"},
    }


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("+7 (495) 123-45-67", "+74951234567"),
        ("8 916 000 00 00", "+89160000000"),
        ("+971 4 123 4567", "+97141234567"),
        ("звонить секретарю", None),
        ("123", None),
        ("+7 495 123 45 67 89 10 11", None),
    ],
)
def test_phones_are_taken_only_when_they_are_numbers(raw: str, number: str | None) -> None:
    assert fields.phone(raw) == number


def test_a_user_without_a_vip_role_is_not_staff_and_a_bad_phone_is_left_out() -> None:
    warnings: list[Skipped] = []
    assert fields.user({"ID": "3", "NAME": "Иван", "UF_USR_VIP_ROLES": ""}, warnings) is None
    staff = fields.user(
        {
            "ID": "4",
            "XML_ID": "S-0004",
            "LAST_NAME": "Лебедева",
            "NAME": "Анна",
            "UF_USR_VIP_ROLES": ["Manager", "unknown"],
            "WORK_PHONE": "доб. 15",
            "ACTIVE": "N",
        },
        warnings,
    )
    assert isinstance(staff, MasterStaff)
    assert staff.roles == frozenset({"manager"}) and staff.phone is None and not staff.active
    assert warnings == [Skipped(Stream.STAFF, "4", "malformed_phone", "WORK_PHONE")]


def test_contacts_and_holdings_are_checked_field_by_field() -> None:
    client = fields.contact(
        {
            "ID": "9",
            "NAME": "Виктор",
            "LAST_NAME": "Громов",
            "UF_CRM_VIP_CLIENT_ID": "C-0001",
            "ASSIGNED_BY_ID": "2",
            "BIRTHDATE": "1961-05-14T00:00:00+03:00",
            "UF_CRM_VIP_LANGUAGE": "EN",
            "DATE_MODIFY": "2026-11-22T18:00:00+03:00",
        }
    )
    assert isinstance(client, MasterClient)
    assert client.birthday is not None and client.birthday.isoformat() == "1961-05-14"
    assert client.language == "en" and client.manager_remote_id == "2"
    assert fields.contact({"ID": "10", "NAME": "Без", "LAST_NAME": "Номера"}) == Skipped(
        Stream.CLIENTS, "10", "missing_field", "UF_CRM_VIP_CLIENT_ID"
    )
    holding = fields.holding(
        {
            "id": 5,
            "contactId": 9,
            "title": "Вклад",
            "opportunity": "1500000.50",
            "ufCrmVipProductType": "deposit",
            "ufCrmVipRate": "12.5",
        }
    )
    assert not isinstance(holding, Skipped)
    assert holding.balance == Decimal("1500000.50") and holding.rate_percent == Decimal("12.5")
    assert fields.holding(
        {
            "id": 6,
            "contactId": 9,
            "title": "Вклад",
            "opportunity": "много",
            "ufCrmVipProductType": "deposit",
        }
    ) == Skipped(Stream.HOLDINGS, "6", "malformed_field", "opportunity")


def test_a_clients_text_cannot_become_a_link_and_our_marker_closes_each_comment() -> None:
    shown = neutral("Подтвердите: [URL=http://evil.example]банк[/URL]")
    assert "[URL=" not in shown and shown.replace("\u200b", "") == (
        "Подтвердите: [URL=http://evil.example]банк[/URL]"
    )
    assert marker("interaction:42") == "[vip-concierge:interaction:42]"
