"""The whole CRM port: a unit of work composed of every part, and the `Crm` entry point.

Callers that need everything (the update middleware, commands, scheduler jobs) take a
`UnitOfWork`; a use case that needs one part takes that part (`PeopleUnit`, ...), which says
in its signature what it may touch.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from crm_adapter.port.activity import ActivityUnit
from crm_adapter.port.client_desk import ClientDeskUnit
from crm_adapter.port.delivery import DeliveryUnit
from crm_adapter.port.events import EventUnit
from crm_adapter.port.ledger import UpdateLedger
from crm_adapter.port.people import PeopleUnit
from crm_adapter.workspace import WorkspaceUnit


class UnitOfWork(
    PeopleUnit, ActivityUnit, DeliveryUnit, ClientDeskUnit, EventUnit, WorkspaceUnit, Protocol
):
    """One business transaction; nothing is stored until `commit`."""

    @property
    def relinked(self) -> bool:
        """Whether an account was (re)bound in this unit of work."""
        ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class Crm(Protocol):
    """Entry point to the CRM: hands out units of work and the per-update ledger."""

    @property
    def ledger(self) -> UpdateLedger:
        """Every update's own bookkeeping, outside any unit of work (crm_adapter.update_ledger)."""
        ...

    def unit_of_work(
        self, *, interactive: bool = False
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        """`interactive`: the unit of work of an update's handler (short statements)."""
        ...

    async def close(self) -> None: ...
