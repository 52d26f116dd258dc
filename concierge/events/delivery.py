"""How the events feature hands a message over: inside the caller's transaction when it can."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from concierge.notify import Notifier, Outgoing
from crm_adapter.port import UnitOfWork


@runtime_checkable
class EnqueuesInTransaction(Protocol):
    """A notifier that can queue inside the caller's unit of work (the scheduler's outbox).

    Not part of the `Notifier` port, so it is detected rather than required: the direct
    notifier of the tests and the console has no such method and is used as before.
    """

    async def enqueue_for_client(self, uow: Any, client_id: int, message: Outgoing) -> Any: ...
    async def enqueue_for_staff(self, uow: Any, staff_id: int, message: Outgoing) -> Any: ...


async def send_to_client(
    uow: UnitOfWork, notifier: Notifier, client_id: int, message: Outgoing
) -> bool:
    # Queuing in our own transaction makes "invitation recorded" and "invitation queued" one
    # fact, and on SQLite it avoids a second writer waiting for the lock this one holds.
    if isinstance(notifier, EnqueuesInTransaction):
        return _queued(await notifier.enqueue_for_client(uow, client_id, message))
    return await notifier.to_client(client_id, message)


async def send_to_staff(
    uow: UnitOfWork, notifier: Notifier, staff_id: int, message: Outgoing
) -> bool:
    if isinstance(notifier, EnqueuesInTransaction):
        return _queued(await notifier.enqueue_for_staff(uow, staff_id, message))
    return await notifier.to_staff(staff_id, message)


def _queued(enqueued: Any) -> bool:
    # The outbox says whether it queued (the contact policy may hold a message back); a
    # notifier that returns nothing in particular is taken at its word.
    return bool(getattr(enqueued, "queued", True))
