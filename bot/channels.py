"""Which messenger a bot talks to, and the bots of every messenger this process can reach.

One dispatcher serves every messenger; a handler answers through the update's own bot, and
whatever must reach a person in another messenger (a relay, a notification) picks that
messenger's bot here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aiogram import Bot

from bot.replica_state import shared_key
from crm_adapter.dto import Messenger

__all__ = ["MAX", "MESSENGER_NAMES", "TELEGRAM", "Messengers", "messenger_of", "shared_key"]

TELEGRAM = Messenger.TELEGRAM.value
MAX = Messenger.MAX.value

# Labels for people (history, settings); the same in every language.
MESSENGER_NAMES = {TELEGRAM: "Telegram", MAX: "MAX"}
# The longest text one message may carry: Telegram's 4096; MAX refuses 4000 and more (the
# maxapi client checks it before sending).
TEXT_LIMITS = {TELEGRAM: 4096, MAX: 3999}


def text_limit(messenger: str) -> int:
    return TEXT_LIMITS.get(messenger, TEXT_LIMITS[TELEGRAM])


def messenger_of(bot: Bot) -> str:
    """The messenger behind `bot`: its session says so (the MAX transport, a console or test
    session playing MAX); every other session speaks Telegram's Bot API."""
    return str(getattr(bot.session, "messenger", TELEGRAM))


class Messengers(Mapping[str, Bot]):
    """The bots of this process by messenger; Telegram's first when present."""

    def __init__(self, bots: Mapping[str, Bot]) -> None:
        self._bots = dict(bots)

    @classmethod
    def of(cls, *bots: Bot) -> Messengers:
        return cls({messenger_of(bot): bot for bot in bots})

    def __getitem__(self, messenger: str) -> Bot:
        return self._bots[messenger]

    def __iter__(self) -> Iterator[str]:
        return iter(self._bots)

    def __len__(self) -> int:
        return len(self._bots)
