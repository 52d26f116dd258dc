"""The queue of writes to the bank's own CRM, as use cases see it (crm_adapter.master).

The writer on the scheduler works on the SQL queue itself; use cases (the admins' view of
the queue) only read its status and put dead letters back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from crm_adapter.master.records import QueueStatus


class CrmWriteQueueRepository(Protocol):
    async def status(self, *, dead_letters: int = 10) -> QueueStatus: ...
    async def requeue_dead(self, *, now: datetime, ids: list[int] | None = None) -> int: ...
