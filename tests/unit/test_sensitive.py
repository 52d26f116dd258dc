"""The sensitive-data detector: what it masks, what it leaves alone, and how fast it gives up."""

from __future__ import annotations

from typing import Any

import pytest

from common import sensitive
from common.sensitive import (
    Kind,
    inn_ok,
    luhn_ok,
    mask,
    mask_text,
    scrub_log_line,
    snils_ok,
)

# Valid check digits, so each is found on its own merits (no context word needed).
CARD = "4276 1234 5678 9014"
MIR = "2200000000000004"
SNILS = "112-233-445 95"
INN_PERSON = "500100732259"
INN_COMPANY = "7707083893"


def test_check_digits() -> None:
    assert luhn_ok("4276123456789014") and not luhn_ok("4276123456789012")
    assert snils_ok("11223344595") and not snils_ok("11223344596")
    assert inn_ok(INN_PERSON) and inn_ok(INN_COMPANY) and not inn_ok("7707083894")


@pytest.mark.parametrize(
    ("text", "kind", "left"),
    [
        (f"карта {CARD}, спасибо", Kind.CARD, "[card *9014]"),
        (f"вот {MIR}", Kind.CARD, "[card *0004]"),
        ("Моя карта 4276 1234 5678 9012 (с опечаткой)", Kind.CARD, "[card *9012]"),
        ("паспорт 45 12 345678 выдан", Kind.PASSPORT, "[passport]"),
        ("4512 № 345678", Kind.PASSPORT, "[passport]"),
        ("серия 4512 номер 345678", Kind.PASSPORT, "серия [passport]"),
        ("мой паспорт: 4512345678", Kind.PASSPORT, "[passport]"),
        (f"СНИЛС {SNILS}", Kind.SNILS, "[snils]"),
        ("11223344595", Kind.SNILS, "[snils]"),
        (f"ИНН {INN_PERSON}", Kind.INN, "[inn]"),
        (f"реквизиты: {INN_COMPANY}", Kind.INN, "[inn]"),
        ("на счёт 40817810099991234567", Kind.ACCOUNT, "[account *4567]"),
        ("40817 810 0 9999 1234567", Kind.ACCOUNT, "[account *4567]"),
        ("+7 (916) 123-45-67", Kind.PHONE, "[phone]"),
        ("8 916 123 45 67", Kind.PHONE, "[phone]"),
        ("звоните 89161234567", Kind.PHONE, "[phone]"),
        ("916 123-45-67", Kind.PHONE, "[phone]"),
        ("9161234567", Kind.PHONE, "[phone]"),
        ("London +44 20 7946 0958", Kind.PHONE, "London [phone]"),
        ("NY +1 (212) 555-0199", Kind.PHONE, "NY [phone]"),
        ("Dubai +971 50 123 4567", Kind.PHONE, "Dubai [phone]"),
        ("00 44 20 7946 0958", Kind.PHONE, "[phone]"),
        ("(212) 555-0199", Kind.PHONE, "[phone]"),
        ("CVV 123", Kind.CODE, "CVV [code]"),
        ("cvc2: 9876", Kind.CODE, "cvc2: [code]"),
        ("три цифры на обороте 321", Kind.CODE, "[code]"),
        ("мой пин-код 1234", Kind.CODE, "[code]"),
        ("код из смс 987654", Kind.CODE, "код из смс [code]"),
        ("пароль: hunter2", Kind.CODE, "пароль: [code]"),
        ("my password is qwerty", Kind.CODE, "[code]"),
        ("номер заказа 1234567890", Kind.NUMBER, "[number]"),
    ],
)
def test_each_kind_is_masked(text: str, kind: Kind, left: str) -> None:
    masked = mask(text)
    assert kind in masked.kinds, masked
    assert left in masked.text
    digits = [d for d in text.split() if sum(c.isdigit() for c in d) >= 5]
    for group in digits:
        assert group not in masked.text


@pytest.mark.parametrize(
    "text",
    [
        "Перевод 1 500 000 000 руб. 05.12.2026 в 19:00",
        "встреча 2026-12-05 19:00, зал 3",
        "ставка 15.5 % на 3 месяца, сумма 3 000 000",
        "/eventedit 12 start 2026-12-06 19:00",
        "заявка 42, событие 7, 12/27",
        "пин-код забыл, что делать?",
        "pinged the server",
    ],
)
def test_ordinary_numbers_stay(text: str) -> None:
    assert mask(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        # One date range in eight gave a Luhn-valid run: "01.[card *2026]".
        "Трансфер 01.12.2026-04.12.2026, отель на 3 ночи",
        "Поездка 01.12.2026 – 04.12.2026",
        "Рейсы 01.12.2026 04.12.2026",
        # Amounts in thousands read as a phone (eleven digits from 7 or 8) or, after "00",
        # as a phone with the international prefix.
        "Перевести 80 000 000 000 руб. на брокерский",
        "сделка на 75 500 000 000",
        "капитал группы 4 276 000 000 000 000 руб.",
        # Times in a list: sixteen digits that passed the Luhn check, then an "00" prefix.
        "Сеансы 10.00 12.00 14.00 16.00",
    ],
)
def test_dates_amounts_and_times_are_not_cards_or_phones(text: str) -> None:
    assert mask(text).text == text


def test_cards_and_phones_in_their_own_groupings_are_still_found() -> None:
    assert mask("4276 12345678 9014").text == "[card *9014]"
    assert mask("3782 822463 10005").text == "[card *0005]"
    assert mask("тел 8 916 123 45 67").text == "тел [phone]"


def test_numbers_written_together_are_split() -> None:
    masked = mask(f"карта 4111111111111111 тел 89161234567 и +7 916 123 45 67 {CARD}")
    assert masked.text == "карта [card *1111] тел [phone] и [phone] [card *9014]"
    assert masked.secret and masked.kinds == {Kind.CARD, Kind.PHONE}


def test_phone_alone_is_not_secret() -> None:
    masked = mask("мой телефон +7 916 123-45-67")
    assert masked.found and not masked.secret


def test_llm_form_keeps_no_digits_and_masks_emails() -> None:
    masked = mask(f"{CARD} ivan.p@mail.example", keep_tail=False, emails=True)
    assert masked.text == "[card] [email]"


def test_mask_text_keeps_none_and_empty() -> None:
    assert mask_text(None) is None and mask_text("") == ""
    assert mask_text(f"карта {CARD}") == "карта [card *9014]"


def test_log_lines_keep_their_ids() -> None:
    line = (
        "update 123456789 failed user_id=5123456789 chat=-1001234567890 "
        f"text='{CARD}' +79161234567"
    )
    assert scrub_log_line(line) == (
        "update 123456789 failed user_id=5123456789 chat=-1001234567890 text='[card]' [phone]"
    )


def test_hostile_input_is_read_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Thousands of one-digit groups in one run: the split into kinds must not go quadratic.
    calls = 0
    classify = sensitive._kind_of

    def counted(*args: Any, **kwargs: Any) -> Kind | None:
        nonlocal calls
        calls += 1
        return classify(*args, **kwargs)

    monkeypatch.setattr(sensitive, "_kind_of", counted)
    masked = mask("1 " * 4000)
    # Every twenty digits in a row are taken for an account number, none is left behind.
    assert masked.text == "[account *1111] " * 200
    assert calls <= 4000 * 20
    calls = 0
    mask("1-2 " * 2000)
    assert calls <= 4000 * 20
