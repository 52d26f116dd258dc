"""Plain read-only views of CRM records that the rest of the code receives (never ORM rows)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Role(StrEnum):
    MANAGER = "manager"
    COORDINATOR = "coordinator"
    DUTY = "duty"
    ADMIN = "admin"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"
    INTERNAL = "internal"


class Messenger(StrEnum):
    """The secure messengers a person may link; each is a channel of its own."""

    TELEGRAM = "telegram"
    MAX = "max"


class Actor(StrEnum):
    CLIENT = "client"
    STAFF = "staff"
    BOT = "bot"
    SYSTEM = "system"
    UNKNOWN = "unknown"


class Dto(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class Staff(Dto):
    id: int
    external_id: str
    full_name: str
    roles: frozenset[Role]
    backup_id: int | None
    timezone: str
    language: str
    work_start: time
    work_end: time
    absent: bool
    active: bool

    @field_validator("roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        # The CRM stores roles as a comma-separated column.
        if isinstance(value, str):
            return frozenset(r.strip() for r in value.split(",") if r.strip())
        return value

    def has_role(self, role: Role) -> bool:
        return role in self.roles


class Client(Dto):
    id: int
    external_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    birthday: date | None
    city: str | None
    timezone: str
    language: str
    preferred_channel: str
    quiet_start: time
    quiet_end: time
    do_not_disturb: bool
    marketing_opt_out: bool
    financial_segment: str | None
    values_segment: str | None
    manager_id: int | None
    holding_group_id: int | None
    client_since: date | None
    erased_at: datetime | None = None
    card_data_warned_at: datetime | None = None
    crm_removed_at: datetime | None = None

    @property
    def erased_at_marker(self) -> bool:
        """True once staff have erased the client's data on a data-subject request."""
        return self.erased_at is not None

    @property
    def out_of_service(self) -> bool:
        """Erased, or gone from the bank's CRM: nobody serves, shows or contacts the client."""
        return self.erased_at is not None or self.crm_removed_at is not None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def polite_name(self) -> str:
        """How the bank addresses the client: first name and patronymic, Russian style."""
        return " ".join(p for p in (self.first_name, self.middle_name) if p)


class MessengerLink(Dto):
    id: int
    messenger: str
    user_id: int
    chat_id: int
    client_id: int | None
    staff_id: int | None
    linked_at: datetime
    language: str | None
    blocked_at: datetime | None
    preferred: bool = False


class Consent(Dto):
    id: int
    client_id: int
    purpose: str
    document_version: str
    granted: bool
    channel: str
    recorded_at: datetime
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        return self.granted and self.withdrawn_at is None


class LinkedAccount(BaseModel):
    """A messenger account with the person it belongs to, as read for every update."""

    model_config = ConfigDict(frozen=True)

    link: MessengerLink
    client: Client | None = None
    staff: Staff | None = None
    # The client's current personal-data consent is granted and not withdrawn.
    consent_active: bool = False


class LinkCode(Dto):
    id: int
    client_id: int | None
    staff_id: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class Interaction(Dto):
    id: int
    occurred_at: datetime
    channel: str
    direction: str
    kind: str
    actor: str
    client_id: int | None
    staff_id: int | None
    chat_id: int | None
    text: str | None
    payload: dict[str, Any] | None
    update_id: int | None
    messenger: str | None = None


class ProductHolding(Dto):
    id: int
    client_id: int
    product_type: str
    name: str
    balance: Decimal
    currency: str
    rate_percent: Decimal | None
    opened_on: date | None
    matures_on: date | None
    expires_on: date | None
    status: str


class LifeEvent(Dto):
    id: int
    client_id: int
    kind: str
    happened_on: date | None
    description: str


class Note(Dto):
    id: int
    client_id: int
    author_id: int | None
    created_at: datetime
    text: str
    kind: str


class AuditEntry(Dto):
    id: int
    occurred_at: datetime
    actor_staff_id: int | None
    actor_client_id: int | None
    action: str
    subject_client_id: int | None
    outcome: str
    details: dict[str, Any] | None


class OutboxMessage(Dto):
    id: int
    idempotency_key: str
    chat_id: int
    messenger: str = Messenger.TELEGRAM.value
    client_id: int | None
    staff_id: int | None
    text: str
    keyboard: dict[str, Any] | None
    document_name: str | None
    message_class: str
    kind: str
    occasion_key: str | None
    not_before: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    last_error: str | None
    telegram_message_id: int | None
    sent_at: datetime | None


class ContactDecisionRecord(Dto):
    id: int
    decided_at: datetime
    client_id: int | None
    staff_id: int | None
    kind: str
    message_class: str
    occasion_key: str | None
    outcome: str
    reason: str
    not_before: datetime | None
    outbox_id: int | None


# --- client desk: service requests, comments, feedback, relayed messages -------------------


class RequestStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class ServiceRequest(Dto):
    id: int
    client_id: int
    service_code: str
    status: RequestStatus
    urgent: bool
    summary: str
    details: dict[str, Any] | None
    assignee_id: int | None
    created_at: datetime
    ack_due_at: datetime
    resolve_due_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalation_level: int

    @property
    def closed(self) -> bool:
        return self.status in (RequestStatus.RESOLVED, RequestStatus.CANCELLED)

    @property
    def deadline(self) -> datetime:
        """The next promise to keep: acknowledgement while new, resolution afterwards."""
        return self.ack_due_at if self.status is RequestStatus.NEW else self.resolve_due_at


class RequestComment(Dto):
    id: int
    request_id: int
    author_kind: str
    author_staff_id: int | None
    text: str | None
    file_id: str | None
    created_at: datetime


class Feedback(Dto):
    id: int
    client_id: int
    kind: str
    subject_id: int | None
    score: int
    comment: str | None
    created_at: datetime


class RelayedMessage(Dto):
    id: int
    staff_id: int
    messenger: str
    staff_chat_id: int
    message_id: int
    client_id: int
    created_at: datetime


class Event(Dto):
    id: int
    title: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: str | None
    city: str | None
    capacity: int
    plus_ones_allowed: bool
    rsvp_deadline: datetime | None
    audience: dict[str, Any] | None
    status: str
    coordinator_id: int | None
    created_at: datetime
    reminder_delay_hours: int
    sequence: int
    sent_at: datetime | None
    cancelled_at: datetime | None

    @property
    def answers_close_at(self) -> datetime:
        """Answers are taken until the RSVP deadline, or until the start when there is none."""
        return self.rsvp_deadline or self.starts_at


class Invitation(Dto):
    id: int
    event_id: int
    client_id: int
    status: str
    plus_one: bool
    sent_at: datetime | None
    answered_at: datetime | None
    waitlisted_at: datetime | None
    checkin_code_hash: str | None
    checked_in_at: datetime | None
    reminder_sent_at: datetime | None
    day_before_sent_at: datetime | None
    two_hours_sent_at: datetime | None
    thanks_sent_at: datetime | None

    @property
    def seats(self) -> int:
        """Seats the guest takes when attending: themselves and, if allowed, a companion."""
        return 2 if self.plus_one else 1


class AudienceOverride(Dto):
    id: int
    event_id: int
    client_id: int
    include: bool
    staff_id: int
    decided_at: datetime
