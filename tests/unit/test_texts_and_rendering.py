"""Locale files, escaping and long-message splitting."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from bot.rendering import TELEGRAM_LIMIT, split_text
from common.i18n import Catalog, Raw


def test_russian_and_english_have_the_same_keys() -> None:
    catalog = Catalog.load()
    assert catalog.keys("ru") == catalog.keys("en")
    assert catalog.keys("ru")


def test_arguments_are_html_escaped_unless_raw() -> None:
    t = Catalog.load().translator("ru")
    assert "&lt;script&gt;" in t("menu.my_manager", manager="<script>")
    assert "<i>x</i>" in t("menu.my_manager", manager=Raw("<i>x</i>"))


def test_unknown_language_falls_back_to_russian() -> None:
    t = Catalog.load().translator("de")
    assert t.language == "ru"


def test_split_keeps_every_character_and_respects_the_limit() -> None:
    text = ("Абзац " * 300 + "\n\n") * 5
    parts = split_text(text)
    assert all(len(p) <= TELEGRAM_LIMIT for p in parts)
    assert len(parts) > 1
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_split_cuts_a_word_only_when_there_is_no_space() -> None:
    parts = split_text("x" * 9000)
    assert [len(p) for p in parts] == [4096, 4096, 808]


def test_short_text_is_one_part() -> None:
    assert split_text("привет") == ["привет"]


async def test_the_app_and_the_use_cases_share_one_copy_of_the_texts(app: App) -> None:
    # Regression: use cases loaded every YAML file again on the first client request.
    from concierge import briefing_delivery, request_access
    from concierge.events import messages as event_messages

    shared = app.catalog
    assert request_access.default_texts() is shared
    assert event_messages.default_catalog() is shared
    assert briefing_delivery.default_texts() is shared


# The tags Telegram's HTML parse mode knows; any other "<...>" makes it refuse the message.
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip


def test_every_text_is_html_telegram_accepts() -> None:
    # "/erase <номер заявки>" was sent with parse_mode=HTML: Telegram answers "can't parse
    # entities: unsupported start tag", so a staff member who typed /export alone got nothing.
    catalog = Catalog.load()
    bad = {}
    for language in ("ru", "en"):
        for key in sorted(catalog.keys(language)):
            template = catalog.template(language, key)
            tags = {t.lower() for t in re.findall(r"</?\s*([^\s>/]+)", template)}
            stray_amp = re.search(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-f]+);)", template, re.I)
            if tags - TELEGRAM_TAGS or stray_amp:
                bad[f"{language}:{key}"] = template
    assert bad == {}


@pytest.mark.parametrize(
    ("count", "russian", "english"),
    [
        (1, "1 год", "1 year"),
        (4, "4 года", "4 years"),
        (5, "5 лет", "5 years"),
        (11, "11 лет", "11 years"),
        (14, "14 лет", "14 years"),
        (21, "21 год", "21 years"),
        (22, "22 года", "22 years"),
        (111, "111 лет", "111 years"),
    ],
)
def test_counts_agree_with_their_word(count: int, russian: str, english: str) -> None:
    """Regression: the brief read "с банком 4 лет" (the template had one form for all)."""
    catalog = Catalog.shared()
    ru = catalog.translator("ru")(
        "manager.brief.identity", name="Алина", city="Москва", years=count, occupation=""
    )
    en = catalog.translator("en")(
        "manager.brief.identity", name="Alina", city="Moscow", years=count, occupation=""
    )
    assert ru.endswith(f"с банком {russian}")
    assert en.endswith(f"with the bank for {english}")
