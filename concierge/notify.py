"""How use cases reach people outside the current conversation (managers, clients, duty desk).

Use cases depend on the `Notifier` port only; whether a message goes straight to the messenger
or through the persistent outbox under the contact policy is the wiring's choice.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from concierge.actions import Actions


class MessageClass(StrEnum):
    # Service messages (request status, escalations) bypass marketing caps, never consent.
    SERVICE = "service"
    MARKETING = "marketing"


@dataclass(frozen=True)
class Outgoing:
    """A message for one person, already rendered in their language."""

    text: str
    actions: Actions | None = None  # rendered by the channel that delivers the message
    message_class: MessageClass = MessageClass.SERVICE
    # Same occasion key ⇒ the same message: used to dedupe (e.g. "birthday:2026:client:7").
    occasion_key: str | None = None
    kind: str = "notification"
    document: tuple[str, bytes] | None = None  # (file name, content)
    payload: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    async def to_staff(self, staff_id: int, message: Outgoing) -> bool:
        """Delivers to a staff member's linked messenger; False when they cannot be reached."""
        ...

    async def to_client(self, client_id: int, message: Outgoing) -> bool:
        """Delivers to a client, subject to consent and the contact policy."""
        ...


# The unit of work of the update being handled. A notifier that queues messages (the outbox)
# writes into it, so "request created" and "manager notified" commit together, and on SQLite
# no second writer waits for the lock the handler holds.
_current_uow: ContextVar[Any] = ContextVar("current_unit_of_work", default=None)


def bind_unit_of_work(uow: Any) -> Token[Any]:
    return _current_uow.set(uow)


def release_unit_of_work(token: Token[Any]) -> None:
    _current_uow.reset(token)


def current_unit_of_work() -> Any:
    """The handler's unit of work while an update is handled, else None."""
    return _current_uow.get()
