"""Our keyboard builder lays buttons out exactly as aiogram's builder does."""

from __future__ import annotations

import pytest
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import MenuCb
from bot.keyboards import Keyboard


@pytest.mark.parametrize("count", [0, 1, 2, 5, 9, 17])
@pytest.mark.parametrize("sizes", [(), (1,), (2,), (3,), (1, 2), (2, 1, 3), (8,)])
def test_rows_match_aiogram(count: int, sizes: tuple[int, ...]) -> None:
    ours, theirs = Keyboard(), InlineKeyboardBuilder()
    for i in range(count):
        ours.button(text=f"b{i}", callback_data=MenuCb(section=f"s{i}"))
        theirs.button(text=f"b{i}", callback_data=MenuCb(section=f"s{i}"))
    if sizes:
        ours.adjust(*sizes)
        theirs.adjust(*sizes)
    assert ours.as_markup() == theirs.as_markup()


def test_plain_string_data_and_bad_sizes() -> None:
    markup = Keyboard().button(text="x", callback_data="raw").as_markup()
    assert markup.inline_keyboard[0][0].callback_data == "raw"
    with pytest.raises(ValueError):
        Keyboard().adjust(0)
    with pytest.raises(ValueError):
        Keyboard().adjust(9)
