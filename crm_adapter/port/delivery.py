"""Proactive delivery: the outbox, the contact policy's decisions and trigger-rule firings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from crm_adapter.dto import ContactDecisionRecord, OutboxMessage


class OutboxRepository(Protocol):
    """The persistent outbox of proactive messages (see crm_adapter.repositories_delivery)."""

    async def add(
        self,
        *,
        idempotency_key: str,
        chat_id: int,
        messenger: str = "telegram",
        client_id: int | None,
        staff_id: int | None,
        text: str,
        keyboard: dict[str, Any] | None,
        message_class: str,
        kind: str,
        occasion_key: str | None,
        now: datetime,
        not_before: datetime,
        priority: int = 100,
        document: tuple[str, bytes] | None = None,
    ) -> OutboxMessage | None: ...
    async def exists(self, idempotency_key: str) -> bool: ...
    async def marketing_times(self, client_id: int, *, since: datetime) -> list[datetime]: ...
    async def counts(self) -> dict[str, int]:
        """Messages per status (pending, sending, sent, failed, blocked)."""
        ...

    async def by_status(self, status: str) -> list[OutboxMessage]: ...


class ContactDecisionRepository(Protocol):
    async def record(
        self,
        *,
        now: datetime,
        client_id: int | None,
        staff_id: int | None,
        kind: str,
        message_class: str,
        occasion_key: str | None,
        outcome: str,
        reason: str,
        not_before: datetime | None,
        outbox_id: int | None,
    ) -> int: ...
    async def for_client(
        self, client_id: int, *, limit: int = 50
    ) -> list[ContactDecisionRecord]: ...


class RuleFiringRepository(Protocol):
    async def claim(
        self, *, rule_id: str, client_id: int, occasion_key: str, now: datetime
    ) -> bool:
        """Records the firing; False when this occasion already fired."""
        ...
