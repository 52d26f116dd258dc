"""The narrow port to the bank's own CRM: what it owns (read) and what it is told (written).

The SQL store stays the assistant's operational store and cache; an adapter behind this port
(Bitrix24, a signed webhook, or none) is chosen by `CRM_BACKEND`. Reads feed the sync
(`crm_adapter.master.sync`); writes are drained from the store's queue by the writer
(`scheduler.crm_writer`), never called on an update's path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Protocol

from crm_adapter.master.records import (
    Chunk,
    CrmEvent,
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Outcome,
)


class MasterCrm(Protocol):
    """One external CRM.

    Reading methods yield chunks as pages arrive. `since` asks for records changed at or
    after that moment (the CRM's own clock); None asks for all of them.
    """

    @property
    def name(self) -> str: ...

    @property
    def reads_master_data(self) -> bool:
        """Whether the sync has anything to read here (a webhook only listens)."""
        ...

    @property
    def max_batch(self) -> int:
        """How many writes one `write` call may carry."""
        ...

    def staff(self) -> AsyncIterator[Chunk[MasterStaff]]: ...
    def clients(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterClient]]: ...
    def holdings(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterHolding]]: ...
    def life_events(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterLifeEvent]]: ...

    async def client_ids(self) -> set[str]:
        """The id of every client the CRM has now (removals are what is missing)."""
        ...

    async def clients_absent(self, remote_ids: Collection[str]) -> set[str]:
        """Of these ids, those the CRM confirms it no longer has (asked one by one, so a
        client shifted between pages of `client_ids` is never taken for removed)."""
        ...

    async def write(self, events: Sequence[CrmEvent]) -> list[Outcome]:
        """Writes the events, one outcome each; raises CrmUnavailable when the request as a
        whole failed. Events of one client come in their order and must land in it: after
        one that is not delivered, the client's later events are not written either
        (Deferred)."""
        ...

    async def find_delivered(self, events: Sequence[CrmEvent]) -> dict[str, str | None]:
        """Of events whose earlier send may have arrived, those the CRM has (by idempotency
        key, with what it made of them). Events that are safe to repeat may be left out."""
        ...

    async def close(self) -> None: ...
