"""The units of work: one per part of the CRM, their composition, and the `Crm` entry point.

Callers that need everything (the update middleware, commands, scheduler jobs) take a
`UnitOfWork`; a use case that needs one part takes that part (`PeopleUnit`, ...), which says
in its signature what it may touch. Members are read-only properties so that an
implementation may narrow the repository types (the SQL store's are its own classes).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from crm_adapter.personal_data import PersonalDataRepository
from crm_adapter.port.activity import InteractionRepository, ProfileRepository
from crm_adapter.port.client_desk import (
    FeedbackRepository,
    RelayRepository,
    ServiceRequestRepository,
)
from crm_adapter.port.delivery import (
    ContactDecisionRepository,
    OutboxRepository,
    RuleFiringRepository,
)
from crm_adapter.port.events import EventRepository
from crm_adapter.port.ledger import UpdateLedger
from crm_adapter.port.master import CrmWriteQueueRepository
from crm_adapter.port.people import (
    AuditRepository,
    ClientRepository,
    ConsentRepository,
    LinkCodeRepository,
    LinkRepository,
    StaffRepository,
)
from crm_adapter.web_access import WebAccessRepository
from crm_adapter.workspace import WorkspaceRepository


class PeopleUnit(Protocol):
    """People, their messenger links and consent, and the audit of who saw whose data."""

    @property
    def staff(self) -> StaffRepository: ...
    @property
    def clients(self) -> ClientRepository: ...
    @property
    def links(self) -> LinkRepository: ...
    @property
    def link_codes(self) -> LinkCodeRepository: ...
    @property
    def consents(self) -> ConsentRepository: ...
    @property
    def audit(self) -> AuditRepository: ...


class ActivityUnit(Protocol):
    """The interaction log and client profiles (holdings, life events, notes)."""

    @property
    def interactions(self) -> InteractionRepository: ...
    @property
    def profiles(self) -> ProfileRepository: ...


class DeliveryUnit(Protocol):
    """The outbox, the contact policy's decisions and trigger-rule firings."""

    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def contact_decisions(self) -> ContactDecisionRepository: ...
    @property
    def rule_firings(self) -> RuleFiringRepository: ...


class ClientDeskUnit(Protocol):
    """Service requests, relayed messages and feedback."""

    @property
    def requests(self) -> ServiceRequestRepository: ...
    @property
    def relay(self) -> RelayRepository: ...
    @property
    def feedback(self) -> FeedbackRepository: ...


class EventUnit(Protocol):
    """Closed events, their invitations, audience overrides and ratings."""

    @property
    def events(self) -> EventRepository: ...


class WorkspaceUnit(Protocol):
    """The read-mostly views behind the client card, insights and briefings."""

    @property
    def workspace(self) -> WorkspaceRepository: ...


class WebDeskUnit(Protocol):
    """The staff web desk's login links and signed-in sessions."""

    @property
    def web_access(self) -> WebAccessRepository: ...


class CrmQueueUnit(Protocol):
    """The queue of writes to the bank's own CRM (CRM_BACKEND other than local)."""

    @property
    def crm_writes(self) -> CrmWriteQueueRepository: ...


class PersonalDataUnit(Protocol):
    """Everything held about one client at once: 152-FZ export, erasure and retention."""

    @property
    def personal_data(self) -> PersonalDataRepository: ...


class UnitOfWork(
    PeopleUnit,
    ActivityUnit,
    DeliveryUnit,
    ClientDeskUnit,
    EventUnit,
    WorkspaceUnit,
    WebDeskUnit,
    CrmQueueUnit,
    PersonalDataUnit,
    Protocol,
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
