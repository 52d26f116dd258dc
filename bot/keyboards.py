"""Inline keyboards shared by several features."""

from __future__ import annotations

from functools import lru_cache

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import ConsentCb, LanguageCb, MenuCb
from bot.i18n import Catalog, Translator

# Sections of the client's main menu, in display order; features register their handlers.
CLIENT_SECTIONS = ("services", "ask", "manager", "events", "requests", "settings")


def client_menu(t: Translator) -> InlineKeyboardMarkup:
    # The menu is the most sent keyboard and building one deep-copies every button, so it is
    # built once per catalog and language (a catalog is loaded once per process).
    return _client_menu(t.catalog, t.language)


@lru_cache(maxsize=32)
def _client_menu(catalog: Catalog, language: str) -> InlineKeyboardMarkup:
    t = catalog.translator(language)
    kb = InlineKeyboardBuilder()
    for section in CLIENT_SECTIONS:
        kb.button(text=t(f"menu.btn.{section}"), callback_data=MenuCb(section=section))
    kb.adjust(2)
    return kb.as_markup()


def consent_keyboard(t: Translator) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t("start.consent_accept"), callback_data=ConsentCb(granted=True))
    kb.button(text=t("start.consent_decline"), callback_data=ConsentCb(granted=False))
    return kb.as_markup()


def language_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="Русский", callback_data=LanguageCb(code="ru"))
    kb.button(text="English", callback_data=LanguageCb(code="en"))
    return kb.as_markup()
