"""Small helpers shared by the handlers."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.rendering import send_long


async def reply(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answers a button press in the private chat (the pressed message may be too old)."""
    assert query.bot is not None
    await send_long(query.bot, query.from_user.id, text, reply_markup=reply_markup)


async def ask_for_text(
    query: CallbackQuery, state: FSMContext, waiting: State, prompt: str, **kept: int
) -> None:
    """Answers the press and asks for the person's next message, keeping `kept` until then."""
    await query.answer()
    await state.set_state(waiting)
    await state.set_data(kept)
    await reply(query, prompt)


async def take_kept(state: FSMContext, key: str) -> int:
    """The id `ask_for_text` kept for the awaited message; the wait ends here."""
    value = int((await state.get_data())[key])
    await state.clear()
    return value
