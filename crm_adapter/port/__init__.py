"""The CRM port: what the rest of the assistant may ask of the CRM, whatever stores it.

One module per part of the CRM, each with its repository protocols and the part of a unit of
work that reaches them; `unit_of_work` composes them. Import from here.
"""

from crm_adapter.port.activity import (
    ActivityUnit,
    DuplicateUpdate,
    InteractionRepository,
    ProfileRepository,
)
from crm_adapter.port.client_desk import (
    ClientDeskUnit,
    FeedbackRepository,
    RelayRepository,
    ServiceRequestRepository,
)
from crm_adapter.port.delivery import (
    ContactDecisionRepository,
    DeliveryUnit,
    OutboxRepository,
    RuleFiringRepository,
)
from crm_adapter.port.events import EventRepository, EventUnit
from crm_adapter.port.ledger import Owner, UpdateLedger
from crm_adapter.port.people import (
    AuditRepository,
    ClientRepository,
    ConsentRepository,
    LinkCodeRepository,
    LinkRepository,
    PeopleUnit,
    StaffRepository,
)
from crm_adapter.port.unit_of_work import Crm, UnitOfWork
from crm_adapter.workspace import WorkspaceRepository, WorkspaceUnit

__all__ = [
    "ActivityUnit",
    "AuditRepository",
    "ClientDeskUnit",
    "ClientRepository",
    "ConsentRepository",
    "ContactDecisionRepository",
    "Crm",
    "DeliveryUnit",
    "DuplicateUpdate",
    "EventRepository",
    "EventUnit",
    "FeedbackRepository",
    "InteractionRepository",
    "LinkCodeRepository",
    "LinkRepository",
    "Owner",
    "OutboxRepository",
    "PeopleUnit",
    "ProfileRepository",
    "RelayRepository",
    "RuleFiringRepository",
    "ServiceRequestRepository",
    "StaffRepository",
    "UnitOfWork",
    "UpdateLedger",
    "WorkspaceRepository",
    "WorkspaceUnit",
]
