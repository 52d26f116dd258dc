"""The port through which a use case reaches a person's messenger account live (the relay),
and what a channel tells it when the account cannot take a message.

Each channel implements `Courier` (the bot: `bot.courier.BotCourier`) and maps its own errors
to the neutral exceptions here, so the core never sees a messenger library's types.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from crm_adapter.dto import MessengerLink


class Courier(Protocol):
    """Sends to a person's messenger account and returns the new message ids (the relay maps
    replies by id); a long text may become several messages. `copy` copies a message of the
    current update's chat, into any messenger."""

    async def send_text(self, to: MessengerLink, text: str) -> list[int]: ...
    async def copy(
        self,
        *,
        to: MessengerLink,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
    ) -> int:
        """Copies a message; `caption`, when given, replaces the original's."""
        ...


class RecipientBlocked(Exception):  # noqa: N818 - the messenger's word for it
    """A courier's send the recipient's messenger refused for good: the account blocked the
    bot or is gone. The relay marks the link blocked and passes the message on."""


class Unreachable(StrEnum):
    """Why a courier's send did not go through now, though the account may take the next."""

    # The account is in a messenger this process has no bot for (no token configured).
    NO_BOT = "no_bot"
    # The network, or the messenger's servers, failed (a timeout, a 5xx, flood control).
    FAILED = "failed"
    # The messenger refused this send (a chat it does not know, a file not ready, our token
    # refused): nothing says the account is gone, but the same send would fail again.
    REJECTED = "rejected"


class RecipientUnreachable(Exception):  # noqa: N818 - read beside RecipientBlocked
    """A courier's send that did not go through now, for a reason that says nothing against
    the account. The link is left as it is (not blocked) and the relay passes the message
    on: the person's other messenger, the next in turn, at last a request."""

    def __init__(self, reason: Unreachable, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
