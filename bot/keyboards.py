"""Inline keyboards shared by several features."""

from __future__ import annotations

from functools import lru_cache

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import (
    ClientRequestCb,
    ConsentCb,
    LanguageCb,
    MenuCb,
    RateCb,
    StaffRequestCb,
)
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
    # The red button sits alone on top: one tap, impossible to miss in an emergency.
    kb.button(text=t("menu.btn.sos"), callback_data=MenuCb(section="sos"))
    for section in CLIENT_SECTIONS:
        kb.button(text=t(f"menu.btn.{section}"), callback_data=MenuCb(section=section))
    kb.adjust(1, 2)
    return kb.as_markup()


def staff_request_actions(t: Translator, request_id: int, *, status: str) -> InlineKeyboardMarkup:
    """Accept / Resolve / Reply (and Reassign) under a request shown to staff."""
    kb = InlineKeyboardBuilder()
    actions = ["accept"] if status == "new" else []
    actions += ["resolve", "reply", "reassign"]
    for action in actions:
        kb.button(
            text=t(f"requests.btn.{action}"),
            callback_data=StaffRequestCb(action=action, request_id=request_id),
        )
    kb.adjust(3)
    return kb.as_markup()


def client_request_actions(t: Translator, request_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for action in ("comment", "cancel"):
        kb.button(
            text=t(f"requests.btn.{action}"),
            callback_data=ClientRequestCb(action=action, request_id=request_id),
        )
    return kb.as_markup()


def rating_keyboard(request_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for score in range(1, 6):
        kb.button(text=f"{score} ⭐", callback_data=RateCb(request_id=request_id, score=score))
    kb.adjust(5)
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
