"""The client desk: service requests and their comments, relayed messages, and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from crm_adapter.dto import Client, Feedback, RelayedMessage, RequestComment, ServiceRequest


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
        self,
        *,
        staff_id: int,
        staff_chat_id: int,
        message_id: int,
        client_id: int,
        now: datetime,
        messenger: str = "telegram",
    ) -> RelayedMessage: ...
    async def find(
        self, *, staff_chat_id: int, message_id: int, messenger: str = "telegram"
    ) -> RelayedMessage | None: ...


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
