"""Renders the use cases' neutral actions as Telegram inline keyboards.

Each action name maps to one callback-data class; the action's parameters are that class's
fields, so a pressed button comes back through the same filters and ownership checks as any
button the handlers build themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import NpsCb, RateCb, StaffRequestCb
from bot.event_callbacks import EventRateCb, RsvpCb
from concierge.actions import Action, Actions

CALLBACKS: Mapping[str, type[CallbackData]] = {
    "staff_request": StaffRequestCb,
    "request_rating": RateCb,
    "rsvp": RsvpCb,
    "event_rating": EventRateCb,
    "nps": NpsCb,
}


def callback_data(action: Action) -> str:
    try:
        factory = CALLBACKS[action.name]
    except KeyError:
        raise ValueError(f"no button for action {action.name!r}") from None
    return factory(**action.arguments).pack()


def render(actions: Actions | None) -> InlineKeyboardMarkup | None:
    if not actions:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=a.label, callback_data=callback_data(a)) for a in row]
            for row in actions.rows
        ]
    )


def render_stored(stored: Mapping[str, Any] | None) -> InlineKeyboardMarkup | None:
    """A keyboard kept in the outbox: neutral actions, or Telegram's own form in rows queued
    before actions existed (they are still delivered as they were)."""
    if not stored:
        return None
    if "inline_keyboard" in stored:
        return InlineKeyboardMarkup.model_validate(stored)
    return render(Actions.from_json(stored))
