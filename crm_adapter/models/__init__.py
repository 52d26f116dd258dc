"""SQLAlchemy tables of the CRM store; importing this package registers every table."""

from crm_adapter.models.activity import (
    AuditEntryRow,
    FeedbackRow,
    InteractionRow,
    LifeEventRow,
    NoteRow,
    ProductHoldingRow,
    TransactionRow,
)
from crm_adapter.models.base import Base
from crm_adapter.models.client_desk import RelayedMessageRow, SurveyRow
from crm_adapter.models.crm_master import CrmRefRow, CrmSyncStateRow, CrmWriteRow
from crm_adapter.models.delivery import (
    ContactDecisionRow,
    OutboxMessageRow,
    RuleFiringRow,
    SchedulerJobRow,
    SchedulerLeaseRow,
)
from crm_adapter.models.events import AudienceOverrideRow
from crm_adapter.models.people import (
    ClientRow,
    ConsentRow,
    HoldingGroupRow,
    HoldingMemberRow,
    LinkCodeRow,
    MessengerLinkRow,
    StaffRow,
)
from crm_adapter.models.web import WebLoginCodeRow, WebSessionRow
from crm_adapter.models.work import (
    EventRow,
    InvitationRow,
    MeetingRow,
    RequestCommentRow,
    ServiceRequestRow,
)

__all__ = [
    "AudienceOverrideRow",
    "AuditEntryRow",
    "Base",
    "ClientRow",
    "ConsentRow",
    "ContactDecisionRow",
    "CrmRefRow",
    "CrmSyncStateRow",
    "CrmWriteRow",
    "EventRow",
    "FeedbackRow",
    "HoldingGroupRow",
    "HoldingMemberRow",
    "InteractionRow",
    "InvitationRow",
    "LifeEventRow",
    "LinkCodeRow",
    "MeetingRow",
    "MessengerLinkRow",
    "NoteRow",
    "OutboxMessageRow",
    "ProductHoldingRow",
    "RelayedMessageRow",
    "RequestCommentRow",
    "RuleFiringRow",
    "SchedulerJobRow",
    "SchedulerLeaseRow",
    "ServiceRequestRow",
    "StaffRow",
    "SurveyRow",
    "TransactionRow",
    "WebLoginCodeRow",
    "WebSessionRow",
]
