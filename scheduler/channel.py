"""The port the delivery worker sends through: one messenger channel, whatever its API.

The worker owns the outbox's states, retries and rate limits; a channel sender only turns a
stored message into one API request and reports the outcome in these neutral terms, so the
worker's rules (what is retried, what blocks a chat, what is given up) hold for every
messenger alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivery:
    chat_id: int
    text: str
    # The stored form of the message's actions (see `concierge.actions.Actions.to_json`).
    actions: Mapping[str, Any] | None = None
    document: tuple[str, bytes] | None = None  # (file name, content)


class ChannelSender(Protocol):
    async def send(self, delivery: Delivery) -> int:
        """Sends one message; returns the messenger's id of the message it created."""
        ...


class SendFailure(Exception):
    """A send did not go through; the subclass says what the worker should do about it."""


class RetryLater(SendFailure):
    """Flood control: the messenger asks everyone to wait this long (the send is refunded)."""

    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(detail or f"retry after {retry_after}s")
        self.retry_after = retry_after


class RecipientBlocked(SendFailure):
    """The person blocked the bot or left the chat: nothing more is sent there."""


class TransientFailure(SendFailure):
    """Network or server trouble: retried with backoff."""


class Rejected(SendFailure):
    """The messenger refused this very message (bad request): retrying cannot help."""
