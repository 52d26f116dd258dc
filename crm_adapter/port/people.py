"""People and access: staff, clients, their messenger links and link codes, consent, and the
audit of who saw whose data.

The audit lives here, beside the people it is about, because nearly every use case that
reads a person's record also writes the audit entry for that read; so most of them need
nothing beyond `PeopleUnit`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from crm_adapter.dto import (
    AuditEntry,
    Client,
    Consent,
    LinkCode,
    LinkedAccount,
    MessengerLink,
    Role,
    Staff,
)


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

    async def for_client(
        self, client_id: int, *, messenger: str | None = None
    ) -> MessengerLink | None:
        """The client's account in `messenger`; without one, where messages the bank starts
        go: a working account first, then the preferred one, then the one linked last."""
        ...

    async def for_staff(
        self, staff_id: int, *, messenger: str | None = None
    ) -> MessengerLink | None: ...
    async def all_for_client(self, client_id: int) -> list[MessengerLink]: ...
    async def bind(
        self,
        *,
        user_id: int,
        chat_id: int,
        client_id: int | None,
        staff_id: int | None,
        now: datetime,
        language: str | None,
        messenger: str = "telegram",
    ) -> MessengerLink: ...
    async def set_language(self, link_id: int, language: str) -> None: ...
    async def prefer(self, client_id: int, messenger: str) -> bool: ...
    async def mark_blocked(
        self, chat_id: int, *, now: datetime, messenger: str = "telegram"
    ) -> None: ...
    async def mark_unblocked(self, chat_id: int, *, messenger: str = "telegram") -> None: ...


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
    async def count(self, *, action: str, actor_staff_id: int, since: datetime) -> int:
        """Entries of `action` by this staff member since `since` (lockouts count them)."""
        ...

    async def recent(self, *, limit: int = 50) -> list[AuditEntry]: ...
