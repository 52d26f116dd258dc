"""The queue of writes to the bank's own CRM, as admins see it: counts, dead letters, retry.

Called by the admins' bot command (`/crm_queue`), the CLI (`concierge crm queue`) and the web
desk alike; the result is plain data each of them renders. Only admins see it, and every look
or retry is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock
from crm_adapter.dto import Role, Staff
from crm_adapter.master.records import QueueStatus
from crm_adapter.port import UnitOfWork


@dataclass(frozen=True)
class CrmQueueReport:
    """`status` is None when no external CRM is configured (CRM_BACKEND=local)."""

    backend: str
    status: QueueStatus | None


async def crm_queue_report(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, backend: str, dead_letters: int = 10
) -> CrmQueueReport | None:
    """The queue at a glance for an admin; None (audited as denied) for anyone else."""
    allowed = staff.active and staff.has_role(Role.ADMIN)
    await uow.audit.record(
        now=clock.now(),
        action="crm_queue_view",
        outcome="ok" if allowed else "denied",
        actor_staff_id=staff.id,
    )
    if not allowed:
        return None
    if backend == "local":
        return CrmQueueReport(backend=backend, status=None)
    status = await uow.crm_writes.status(dead_letters=dead_letters)
    return CrmQueueReport(backend=backend, status=status)


async def retry_dead_letters(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, ids: list[int] | None = None
) -> int | None:
    """Puts dead letters back in the queue (all, or `ids`); None when refused."""
    allowed = staff.active and staff.has_role(Role.ADMIN)
    requeued = await uow.crm_writes.requeue_dead(now=clock.now(), ids=ids) if allowed else 0
    await uow.audit.record(
        now=clock.now(),
        action="crm_queue_retry",
        outcome="ok" if allowed else "denied",
        actor_staff_id=staff.id,
        details={"requeued": requeued, "ids": ids},
    )
    return requeued if allowed else None
