"""A client's activity and profile: logged interactions, holdings, life events and notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from crm_adapter.dto import Interaction, LifeEvent, Note, ProductHolding


class DuplicateUpdate(Exception):
    """The messenger delivered an update that was already recorded."""


class InteractionRepository(Protocol):
    async def record(
        self,
        *,
        occurred_at: datetime,
        channel: str,
        direction: str,
        kind: str,
        actor: str,
        client_id: int | None = None,
        staff_id: int | None = None,
        chat_id: int | None = None,
        text: str | None = None,
        payload: dict[str, Any] | None = None,
        update_id: int | None = None,
        messenger: str | None = None,
    ) -> int:
        """Stores one interaction; raises DuplicateUpdate when the messenger's update_id was
        seen before."""
        ...

    async def last_messenger(self, client_id: int) -> str | None:
        """The messenger the client last wrote from, if any."""
        ...

    async def for_client(self, client_id: int, *, limit: int = 50) -> list[Interaction]: ...
    async def count(self) -> int: ...
    async def purge_before(self, moment: datetime) -> int:
        """Deletes interactions older than `moment`; returns how many were deleted."""
        ...


class ProfileRepository(Protocol):
    """The rest of what the CRM knows about a client, read-mostly."""

    async def holdings(self, client_id: int) -> list[ProductHolding]: ...
    async def life_events(self, client_id: int) -> list[LifeEvent]: ...
    async def notes(self, client_id: int, *, limit: int = 20) -> list[Note]: ...
    async def add_note(
        self, *, client_id: int, author_id: int | None, text: str, kind: str, now: datetime
    ) -> Note: ...
