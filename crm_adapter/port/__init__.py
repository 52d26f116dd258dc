"""The CRM port: what the rest of the assistant may ask of the CRM, whatever stores it.

One module per part of the CRM with its repository protocols (`people`, `activity`,
`delivery`, `client_desk`, `events`; the workspace's views are in `crm_adapter.workspace`,
a data subject's holdings in `crm_adapter.personal_data`),
the update ledger (`ledger`), and the units of work that reach them (`unit_of_work`).
Callers import the units, `Crm` and the ledger from here.
"""

from crm_adapter.port.activity import DuplicateUpdate
from crm_adapter.port.ledger import ChatKey, Owner, UpdateLedger
from crm_adapter.port.unit_of_work import (
    ActivityUnit,
    ClientDeskUnit,
    Crm,
    CrmQueueUnit,
    DeliveryUnit,
    EventUnit,
    PeopleUnit,
    PersonalDataUnit,
    UnitOfWork,
    WebDeskUnit,
    WorkspaceUnit,
)

__all__ = [
    "ActivityUnit",
    "ClientDeskUnit",
    "Crm",
    "CrmQueueUnit",
    "DeliveryUnit",
    "DuplicateUpdate",
    "EventUnit",
    "ChatKey",
    "Owner",
    "PeopleUnit",
    "PersonalDataUnit",
    "UnitOfWork",
    "UpdateLedger",
    "WebDeskUnit",
    "WorkspaceUnit",
]
