"""Inline keyboards shared by several features."""

from __future__ import annotations

from functools import lru_cache
from itertools import chain, repeat
from typing import Self

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import (
    ClientRequestCb,
    ConsentCb,
    LanguageCb,
    MenuCb,
)
from common.i18n import Catalog, Translator

# Telegram's limit of buttons in one row; a keyboard without `adjust` fills rows up to it.
ROW_WIDTH = 8


class Keyboard:
    """An inline keyboard built button by button, then cut into rows.

    The subset of aiogram's InlineKeyboardBuilder we use (`button`, `adjust`, `as_markup`),
    with the same row rules, without its cost: the builder deep-copies every button it holds
    each time one is added or exported, which made a ten-service menu cost a millisecond.
    """

    def __init__(self) -> None:
        self._buttons: list[InlineKeyboardButton] = []
        self._sizes: tuple[int, ...] = (ROW_WIDTH,)

    def button(self, *, text: str, callback_data: str | CallbackData) -> Self:
        data = callback_data.pack() if isinstance(callback_data, CallbackData) else callback_data
        self._buttons.append(InlineKeyboardButton(text=text, callback_data=data))
        return self

    def adjust(self, *sizes: int) -> Self:
        """Rows of these sizes in turn, the last size repeated for the remaining buttons."""
        if any(not 1 <= size <= ROW_WIDTH for size in sizes):
            raise ValueError(f"row sizes must be 1..{ROW_WIDTH}: {sizes}")
        self._sizes = sizes or (ROW_WIDTH,)
        return self

    def as_markup(self) -> InlineKeyboardMarkup:
        rows: list[list[InlineKeyboardButton]] = []
        sizes = chain(self._sizes, repeat(self._sizes[-1]))
        start = 0
        while start < len(self._buttons):
            size = next(sizes)
            rows.append(self._buttons[start : start + size])
            start += size
        return InlineKeyboardMarkup(inline_keyboard=rows)


# Sections of the client's main menu, in display order; features register their handlers.
CLIENT_SECTIONS = ("services", "ask", "manager", "events", "requests", "settings")


def client_menu(t: Translator) -> InlineKeyboardMarkup:
    # The menu is the most sent keyboard and building one deep-copies every button, so it is
    # built once per catalog and language (a catalog is loaded once per process).
    return _client_menu(t.catalog, t.language)


@lru_cache(maxsize=32)
def _client_menu(catalog: Catalog, language: str) -> InlineKeyboardMarkup:
    t = catalog.translator(language)
    kb = Keyboard()
    # The red button sits alone on top: one tap, impossible to miss in an emergency.
    kb.button(text=t("menu.btn.sos"), callback_data=MenuCb(section="sos"))
    for section in CLIENT_SECTIONS:
        kb.button(text=t(f"menu.btn.{section}"), callback_data=MenuCb(section=section))
    kb.adjust(1, 2)
    return kb.as_markup()


def client_request_actions(t: Translator, request_id: int) -> InlineKeyboardMarkup:
    kb = Keyboard()
    for action in ("comment", "cancel"):
        kb.button(
            text=t(f"requests.btn.{action}"),
            callback_data=ClientRequestCb(action=action, request_id=request_id),
        )
    return kb.as_markup()


def consent_keyboard(t: Translator) -> InlineKeyboardMarkup:
    kb = Keyboard()
    kb.button(text=t("start.consent_accept"), callback_data=ConsentCb(granted=True))
    kb.button(text=t("start.consent_decline"), callback_data=ConsentCb(granted=False))
    return kb.as_markup()


def language_keyboard() -> InlineKeyboardMarkup:
    kb = Keyboard()
    kb.button(text="Русский", callback_data=LanguageCb(code="ru"))
    kb.button(text="English", callback_data=LanguageCb(code="en"))
    return kb.as_markup()
