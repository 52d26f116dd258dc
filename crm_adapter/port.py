"""The CRM port: what the rest of the assistant may ask of the CRM, whatever stores it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from crm_adapter.dto import (
    AudienceOverride,
    AuditEntry,
    Client,
    Consent,
    ContactDecisionRecord,
    Event,
    Feedback,
    Interaction,
    Invitation,
    LifeEvent,
    LinkCode,
    LinkedAccount,
    MessengerLink,
    Note,
    OutboxMessage,
    ProductHolding,
    RelayedMessage,
    RequestComment,
    Role,
    ServiceRequest,
    Staff,
)
from crm_adapter.web_access import WebAccessRepository
from crm_adapter.workspace import (
    WorkspaceRepository,
)


class DuplicateUpdate(Exception):
    """The messenger delivered an update that was already recorded."""


class StaffRepository(Protocol):
    async def get(self, staff_id: int) -> Staff | None: ...
    async def by_external_id(self, external_id: str) -> Staff | None: ...
    async def with_role(self, role: Role) -> list[Staff]: ...
    async def backed_up_by(self, staff_id: int) -> list[Staff]: ...
    async def set_absent(self, staff_id: int, *, absent: bool) -> None: ...


class ClientRepository(Protocol):
    async def get(self, client_id: int) -> Client | None: ...
    async def by_external_id(self, external_id: str) -> Client | None: ...
    async def for_managers(self, manager_ids: list[int]) -> list[Client]: ...
    async def all(self) -> list[Client]: ...
    async def update_preferences(self, client_id: int, **changes: Any) -> Client: ...


class LinkRepository(Protocol):
    async def by_user(
        self, user_id: int, *, messenger: str = "telegram"
    ) -> MessengerLink | None: ...
    async def with_owner(
        self, user_id: int, *, messenger: str = "telegram"
    ) -> LinkedAccount | None:
        """The account's link, its owner and the owner's consent, in one lookup."""
        ...

    async def for_client(self, client_id: int) -> MessengerLink | None: ...
    async def for_staff(self, staff_id: int) -> MessengerLink | None: ...
    async def bind(
        self,
        *,
        user_id: int,
        chat_id: int,
        client_id: int | None,
        staff_id: int | None,
        now: datetime,
        language: str | None,
    ) -> MessengerLink: ...
    async def set_language(self, link_id: int, language: str) -> None: ...
    async def mark_blocked(self, chat_id: int, *, now: datetime) -> None: ...


class LinkCodeRepository(Protocol):
    async def add(
        self,
        *,
        code_hash: str,
        client_id: int | None,
        staff_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> LinkCode: ...
    async def by_hash(self, code_hash: str) -> LinkCode | None: ...
    async def claim(self, code_id: int, *, user_id: int, now: datetime) -> bool:
        """Marks the code used; False when another claim won the race."""
        ...


class ConsentRepository(Protocol):
    async def current(
        self, client_id: int, *, purpose: str = "personal_data"
    ) -> Consent | None: ...
    async def record(
        self,
        *,
        client_id: int,
        granted: bool,
        document_version: str,
        channel: str,
        now: datetime,
        purpose: str = "personal_data",
    ) -> Consent: ...
    async def withdraw(self, client_id: int, *, now: datetime) -> None: ...


class InteractionRepository(Protocol):
    async def record(
        self,
        *,
        occurred_at: datetime,
        channel: str,
        direction: str,
        kind: str,
        actor: str,
        client_id: int | None = None,
        staff_id: int | None = None,
        chat_id: int | None = None,
        text: str | None = None,
        payload: dict[str, Any] | None = None,
        update_id: int | None = None,
    ) -> int:
        """Stores one interaction; raises DuplicateUpdate when update_id was seen before."""
        ...

    async def for_client(self, client_id: int, *, limit: int = 50) -> list[Interaction]: ...
    async def count(self) -> int: ...
    async def purge_before(self, moment: datetime) -> int:
        """Deletes interactions older than `moment`; returns how many were deleted."""
        ...


class ProfileRepository(Protocol):
    """The rest of what the CRM knows about a client, read-mostly."""

    async def holdings(self, client_id: int) -> list[ProductHolding]: ...
    async def life_events(self, client_id: int) -> list[LifeEvent]: ...
    async def notes(self, client_id: int, *, limit: int = 20) -> list[Note]: ...
    async def add_note(
        self, *, client_id: int, author_id: int | None, text: str, kind: str, now: datetime
    ) -> Note: ...


class AuditRepository(Protocol):
    async def record(
        self,
        *,
        now: datetime,
        action: str,
        outcome: str = "ok",
        actor_staff_id: int | None = None,
        actor_client_id: int | None = None,
        actor_user_id: int | None = None,
        subject_client_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None: ...
    async def recent(self, *, limit: int = 50) -> list[AuditEntry]: ...


class OutboxRepository(Protocol):
    """The persistent outbox of proactive messages (see crm_adapter.repositories_delivery)."""

    async def add(
        self,
        *,
        idempotency_key: str,
        chat_id: int,
        client_id: int | None,
        staff_id: int | None,
        text: str,
        keyboard: dict[str, Any] | None,
        message_class: str,
        kind: str,
        occasion_key: str | None,
        now: datetime,
        not_before: datetime,
        priority: int = 100,
        document: tuple[str, bytes] | None = None,
    ) -> OutboxMessage | None: ...
    async def exists(self, idempotency_key: str) -> bool: ...
    async def marketing_times(self, client_id: int, *, since: datetime) -> list[datetime]: ...
    async def counts(self) -> dict[str, int]:
        """Messages per status (pending, sending, sent, failed, blocked)."""
        ...

    async def by_status(self, status: str) -> list[OutboxMessage]: ...


class ContactDecisionRepository(Protocol):
    async def record(
        self,
        *,
        now: datetime,
        client_id: int | None,
        staff_id: int | None,
        kind: str,
        message_class: str,
        occasion_key: str | None,
        outcome: str,
        reason: str,
        not_before: datetime | None,
        outbox_id: int | None,
    ) -> int: ...
    async def for_client(
        self, client_id: int, *, limit: int = 50
    ) -> list[ContactDecisionRecord]: ...


class RuleFiringRepository(Protocol):
    async def claim(
        self, *, rule_id: str, client_id: int, occasion_key: str, now: datetime
    ) -> bool:
        """Records the firing; False when this occasion already fired."""
        ...


class ServiceRequestRepository(Protocol):
    async def add(self, **fields: Any) -> ServiceRequest: ...
    async def get(self, request_id: int) -> ServiceRequest | None: ...
    async def update(self, request_id: int, **changes: Any) -> ServiceRequest: ...
    async def for_client(self, client_id: int, *, limit: int = 30) -> list[ServiceRequest]: ...
    async def open_queue(
        self, *, client_ids: list[int], assignee_id: int | None
    ) -> list[ServiceRequest]:
        """Open requests of these clients or assigned to this staff member."""
        ...

    async def open_for_managers(
        self, *, manager_ids: list[int], assignee_id: int | None
    ) -> list[tuple[ServiceRequest, Client]]:
        """Open requests, each with its client, of these managers' clients or assigned to
        this staff member."""
        ...

    async def unacknowledged_due(self, now: datetime) -> list[ServiceRequest]:
        """Urgent requests still waiting for acknowledgement past their deadline."""
        ...

    async def count_open(self, client_id: int) -> int: ...
    async def add_comment(
        self,
        *,
        request_id: int,
        author_kind: str,
        author_staff_id: int | None,
        text: str | None,
        file_id: str | None,
        now: datetime,
    ) -> RequestComment: ...
    async def comments(self, request_id: int) -> list[RequestComment]: ...


class RelayRepository(Protocol):
    async def add(
        self, *, staff_id: int, staff_chat_id: int, message_id: int, client_id: int, now: datetime
    ) -> RelayedMessage: ...
    async def find(self, *, staff_chat_id: int, message_id: int) -> RelayedMessage | None: ...


class FeedbackRepository(Protocol):
    async def add(
        self,
        *,
        client_id: int,
        kind: str,
        subject_id: int | None,
        score: int,
        now: datetime,
        comment: str | None = None,
    ) -> Feedback: ...
    async def find(
        self, *, client_id: int, kind: str, subject_id: int | None
    ) -> Feedback | None: ...
    async def get(self, feedback_id: int) -> Feedback | None: ...
    async def set_comment(self, feedback_id: int, comment: str) -> None: ...
    async def claim_survey(self, *, client_id: int, kind: str, period: str, now: datetime) -> bool:
        """Records that a survey was put for the period; False when it already was."""
        ...

    async def answer_survey(
        self, *, client_id: int, kind: str, period: str, now: datetime
    ) -> bool:
        """Marks the survey answered; False when it was never asked or is already answered."""
        ...


class EventRepository(Protocol):
    """Closed events, their invitations, audience overrides and event ratings."""

    async def add(self, **fields: Any) -> Event: ...
    async def get(self, event_id: int, *, for_update: bool = False) -> Event | None:
        """With `for_update`, locks the event row so concurrent answers see one seat count."""
        ...

    async def list_events(self, *, statuses: tuple[str, ...] | None = None) -> list[Event]: ...
    async def update(self, event_id: int, **changes: Any) -> Event: ...
    async def invitations(self, event_id: int) -> list[Invitation]: ...
    async def invitation(self, invitation_id: int) -> Invitation | None: ...
    async def invitation_for(self, event_id: int, client_id: int) -> Invitation | None: ...
    async def add_invitation(
        self, *, event_id: int, client_id: int, status: str, sent_at: datetime | None
    ) -> Invitation: ...
    async def update_invitation(self, invitation_id: int, **changes: Any) -> Invitation: ...
    async def by_checkin_hash(self, code_hash: str) -> Invitation | None: ...
    async def for_client(self, client_id: int) -> list[tuple[Invitation, Event]]: ...
    async def unanswered_count(
        self, client_id: int, *, since: datetime, closed_by: datetime | None = None
    ) -> int:
        """Invitations sent since `since` still without an answer; with `closed_by`, only
        those whose answer window had closed by then."""
        ...

    async def overrides(self, event_id: int) -> list[AudienceOverride]: ...
    async def set_override(
        self, *, event_id: int, client_id: int, include: bool, staff_id: int, now: datetime
    ) -> AudienceOverride: ...
    async def client_values(self) -> dict[int, Decimal]:
        """Total balances per client in roubles (credit lines excluded)."""
        ...

    async def interest_texts(self) -> dict[int, list[str]]:
        """Per client: interest notes and life-event texts, for keyword matching."""
        ...

    async def clients_with_consent(self) -> set[int]: ...
    async def record_rating(
        self, *, client_id: int, event_id: int, score: int, now: datetime
    ) -> bool:
        """Stores the client's rating of an event; False when one was already given."""
        ...


class UnitOfWork(Protocol):
    """One business transaction; nothing is stored until `commit`."""

    # Read-only members so that implementations may narrow the repository types.
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
    def interactions(self) -> InteractionRepository: ...
    @property
    def profiles(self) -> ProfileRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def contact_decisions(self) -> ContactDecisionRepository: ...
    @property
    def rule_firings(self) -> RuleFiringRepository: ...
    @property
    def requests(self) -> ServiceRequestRepository: ...
    @property
    def relay(self) -> RelayRepository: ...
    @property
    def feedback(self) -> FeedbackRepository: ...
    @property
    def workspace(self) -> WorkspaceRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def web_access(self) -> WebAccessRepository: ...
    @property
    def relinked(self) -> bool:
        """Whether an account was (re)bound in this unit of work."""
        ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


# (client id, staff id) a chat belongs to.
Owner = tuple[int | None, int | None]


class UpdateLedger(Protocol):
    async def account(self, user_id: int) -> LinkedAccount | None:
        """The messenger account of `user_id` with its owner, or None for a stranger."""
        ...

    async def open_update(
        self, user_id: int, inbound: Callable[[LinkedAccount | None], Mapping[str, Any]]
    ) -> LinkedAccount | None:
        """`account`, then commits the inbound interaction `inbound` makes of it, on one
        connection; DuplicateUpdate if its update_id was seen before. `inbound` may run
        more than once (a job that met another process's lock is run again): it only
        computes the row."""
        ...

    async def log_replies(
        self, records: Sequence[Mapping[str, Any]], *, known_owners: Mapping[int, Owner]
    ) -> None:
        """Commits outgoing calls as interactions; owners of other chats are looked up."""
        ...

    async def close(self) -> None:
        """Releases what the ledger holds of its own (the store's `close` calls it)."""
        ...


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
