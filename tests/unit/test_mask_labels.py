"""Placeholders of masked numbers are stored neutral and shown in the reader's language."""

from __future__ import annotations

import pytest

from common.i18n import Catalog, Raw, localize_masks
from common.sensitive import Kind, find_sensitive, mask, mask_text

NEUTRAL = "Карта [card *9014], паспорт [passport], тел. [phone], счёт [account *0001]"


def test_russian_reader_sees_russian_labels() -> None:
    assert localize_masks(NEUTRAL, "ru") == (
        "Карта [карта *9014], паспорт [паспорт], тел. [телефон], счёт [счёт *0001]"
    )
    assert localize_masks("[snils] [inn] [code] [number] [email] [card]", "ru") == (
        "[СНИЛС] [ИНН] [код] [номер] [эл. почта] [карта]"
    )


def test_english_reader_sees_the_neutral_forms() -> None:
    assert localize_masks(NEUTRAL, "en") == NEUTRAL


def test_every_kind_has_a_label_in_both_languages() -> None:
    catalog = Catalog.load()
    for language in ("ru", "en"):
        keys = catalog.keys(language)
        assert {f"sensitive.mask.{kind.value}" for kind in Kind} <= keys, language


@pytest.mark.parametrize(
    "text",
    [
        "[ссылка]",
        "[Card *9014]",
        "[cards]",
        "[card 9014]",
        "[card *901]",
        "[card *90145]",
        "[ card ]",
        "[phone number]",
        "[паспорт]",
    ],
)
def test_ordinary_bracketed_text_is_left_alone(text: str) -> None:
    assert localize_masks(f"см. {text} ниже", "ru") == f"см. {text} ниже"


def test_tokens_inside_escaped_html_are_worded() -> None:
    escaped = "&lt;b&gt;[card *9014]&lt;/b&gt; &amp; [phone]"
    assert localize_masks(escaped, "ru") == "&lt;b&gt;[карта *9014]&lt;/b&gt; &amp; [телефон]"


def test_the_translator_words_and_escapes_every_argument() -> None:
    catalog = Catalog(
        {
            "ru": {"x.y": "Клиент: {text}", **_labels(Catalog.load(), "ru")},
            "en": {"x.y": "Client: {text}", **_labels(Catalog.load(), "en")},
        }
    )
    client_text = "<i>карта</i> [card *9014]"
    assert catalog.translator("ru")("x.y", text=client_text) == (
        "Клиент: &lt;i&gt;карта&lt;/i&gt; [карта *9014]"
    )
    assert catalog.translator("en")("x.y", text=client_text) == (
        "Client: &lt;i&gt;карта&lt;/i&gt; [card *9014]"
    )
    # Our own HTML passes as it is.
    assert catalog.translator("ru")("x.y", text=Raw("<b>[card]</b>")) == "Клиент: <b>[card]</b>"
    assert catalog.translator("ru").localize_masks("[passport]") == "[паспорт]"


def _labels(catalog: Catalog, language: str) -> dict[str, str]:
    t = catalog.translator(language)
    return {f"sensitive.mask.{kind.value}": t(f"sensitive.mask.{kind.value}") for kind in Kind}


@pytest.mark.parametrize(
    "neutral",
    [
        "[card *9014] 4276123456789014",
        "[phone] 916 123 45 67",
        "[passport] 4512 345678",
        "[inn] 7707083893",
        "[snils] 112-233-445 95",
        "[code] 123456",
        "[account *0001] 40817810099910004312",
        "[number] 12345678901234",
        "перезвоните [phone], карта [card *9014], 12.12.2026 в 10.00",
    ],
)
def test_the_detector_reads_worded_placeholders_as_it_reads_neutral_ones(neutral: str) -> None:
    # A shown text may come back through the detector (the outgoing-call log stores what was
    # sent): the labels neither hide a number from it nor make it see one.
    worded = localize_masks(neutral, "ru")
    assert worded != neutral
    assert [f.kind for f in find_sensitive(worded)] == [f.kind for f in find_sensitive(neutral)]
    assert mask(worded).kinds == mask(neutral).kinds


def test_a_worded_placeholder_is_not_masked_again() -> None:
    worded = localize_masks("[card *9014] [passport] [phone] [snils] [inn] [code]", "ru")
    assert mask_text(worded) == worded
