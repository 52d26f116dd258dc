"""SQL repositories of the client desk: service requests, relayed messages, feedback, surveys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.dto import (
    Client,
    Feedback,
    RelayedMessage,
    RequestComment,
    ServiceRequest,
)
from crm_adapter.master.queue import enqueue
from crm_adapter.master.records import WriteKind

OPEN_STATUSES = ("new", "accepted")


class SqlServiceRequestRepository:
    """Requests and their comments; with `write_back`, each is queued for the bank's CRM."""

    def __init__(self, session: AsyncSession, *, write_back: bool = False) -> None:
        self._s = session
        self._write_back = write_back

    async def add(self, **fields: Any) -> ServiceRequest:
        row = m.ServiceRequestRow(**fields)
        self._s.add(row)
        await self._s.flush()
        if self._write_back:
            await enqueue(
                self._s,
                WriteKind.REQUEST,
                entity_id=row.id,
                client_id=row.client_id,
                now=row.created_at,
            )
        return ServiceRequest.model_validate(row)

    async def get(self, request_id: int) -> ServiceRequest | None:
        row = await self._s.get(m.ServiceRequestRow, request_id)
        return ServiceRequest.model_validate(row) if row else None

    async def update(self, request_id: int, **changes: Any) -> ServiceRequest:
        row = await self._s.get(m.ServiceRequestRow, request_id)
        if row is None:
            raise LookupError(request_id)
        for key, value in changes.items():
            setattr(row, key, value)
        await self._s.flush()
        if self._write_back:
            # The writer sends the request as it is then, so one write per change suffices.
            await enqueue(
                self._s,
                WriteKind.REQUEST_CHANGE,
                entity_id=row.id,
                client_id=row.client_id,
                now=_changed_at(row),
                repeatable=True,
            )
        return ServiceRequest.model_validate(row)

    async def for_client(self, client_id: int, *, limit: int = 30) -> list[ServiceRequest]:
        rows = await self._s.scalars(
            select(m.ServiceRequestRow)
            .where(m.ServiceRequestRow.client_id == client_id)
            .order_by(m.ServiceRequestRow.created_at.desc(), m.ServiceRequestRow.id.desc())
            .limit(limit)
        )
        return [ServiceRequest.model_validate(r) for r in rows]

    async def open_queue(
        self, *, client_ids: list[int], assignee_id: int | None
    ) -> list[ServiceRequest]:
        mine: ColumnElement[bool] = m.ServiceRequestRow.client_id.in_(client_ids)
        if assignee_id is not None:
            mine = or_(mine, m.ServiceRequestRow.assignee_id == assignee_id)
        rows = await self._s.scalars(
            select(m.ServiceRequestRow).where(m.ServiceRequestRow.status.in_(OPEN_STATUSES), mine)
        )
        return [ServiceRequest.model_validate(r) for r in rows]

    async def open_for_managers(
        self, *, manager_ids: list[int], assignee_id: int | None
    ) -> list[tuple[ServiceRequest, Client]]:
        # Joined in SQL, with the client in the same row: a portfolio of thousands must not
        # be read (nor its clients one by one) to show the few with an open request.
        mine: ColumnElement[bool] = m.ClientRow.manager_id.in_(manager_ids)
        if assignee_id is not None:
            mine = or_(mine, m.ServiceRequestRow.assignee_id == assignee_id)
        rows = await self._s.execute(
            select(m.ServiceRequestRow, m.ClientRow)
            .join(m.ClientRow, m.ClientRow.id == m.ServiceRequestRow.client_id)
            .where(m.ServiceRequestRow.status.in_(OPEN_STATUSES), mine)
        )
        return [
            (ServiceRequest.model_validate(request), Client.model_validate(client))
            for request, client in rows
        ]

    async def unacknowledged_due(self, now: datetime) -> list[ServiceRequest]:
        rows = await self._s.scalars(
            select(m.ServiceRequestRow)
            .where(
                m.ServiceRequestRow.urgent.is_(True),
                m.ServiceRequestRow.status == "new",
                m.ServiceRequestRow.acknowledged_at.is_(None),
                m.ServiceRequestRow.ack_due_at <= now,
            )
            .order_by(m.ServiceRequestRow.ack_due_at)
        )
        return [ServiceRequest.model_validate(r) for r in rows]

    async def count_open(self, client_id: int) -> int:
        found = await self._s.scalar(
            select(func.count(m.ServiceRequestRow.id)).where(
                m.ServiceRequestRow.client_id == client_id,
                m.ServiceRequestRow.status.in_(OPEN_STATUSES),
            )
        )
        return int(found or 0)

    async def add_comment(
        self,
        *,
        request_id: int,
        author_kind: str,
        author_staff_id: int | None,
        text: str | None,
        file_id: str | None,
        now: datetime,
    ) -> RequestComment:
        row = m.RequestCommentRow(
            request_id=request_id,
            author_kind=author_kind,
            author_staff_id=author_staff_id,
            text=text,
            file_id=file_id,
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        if self._write_back:
            request = await self._s.get(m.ServiceRequestRow, request_id)
            if request is not None:
                await enqueue(
                    self._s,
                    WriteKind.REQUEST_COMMENT,
                    entity_id=row.id,
                    client_id=request.client_id,
                    now=now,
                )
        return RequestComment.model_validate(row)

    async def comments(self, request_id: int) -> list[RequestComment]:
        rows = await self._s.scalars(
            select(m.RequestCommentRow)
            .where(m.RequestCommentRow.request_id == request_id)
            .order_by(m.RequestCommentRow.id)
        )
        return [RequestComment.model_validate(r) for r in rows]


def _changed_at(row: m.ServiceRequestRow) -> datetime:
    """The latest moment the request records (its change has no timestamp of its own)."""
    moments = (row.created_at, row.acknowledged_at, row.resolved_at, row.closed_at)
    return max(t for t in moments if t is not None)


class SqlRelayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        staff_id: int,
        staff_chat_id: int,
        message_id: int,
        client_id: int,
        now: datetime,
        messenger: str = "telegram",
    ) -> RelayedMessage:
        row = m.RelayedMessageRow(
            staff_id=staff_id,
            messenger=messenger,
            staff_chat_id=staff_chat_id,
            message_id=message_id,
            client_id=client_id,
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return RelayedMessage.model_validate(row)

    async def find(
        self, *, staff_chat_id: int, message_id: int, messenger: str = "telegram"
    ) -> RelayedMessage | None:
        row = await self._s.scalar(
            select(m.RelayedMessageRow).where(
                m.RelayedMessageRow.messenger == messenger,
                m.RelayedMessageRow.staff_chat_id == staff_chat_id,
                m.RelayedMessageRow.message_id == message_id,
            )
        )
        return RelayedMessage.model_validate(row) if row else None


class SqlFeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        client_id: int,
        kind: str,
        subject_id: int | None,
        score: int,
        now: datetime,
        comment: str | None = None,
    ) -> Feedback:
        row = m.FeedbackRow(
            client_id=client_id,
            kind=kind,
            subject_id=subject_id,
            score=score,
            comment=comment,
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return Feedback.model_validate(row)

    async def find(self, *, client_id: int, kind: str, subject_id: int | None) -> Feedback | None:
        row = await self._s.scalar(
            select(m.FeedbackRow).where(
                m.FeedbackRow.client_id == client_id,
                m.FeedbackRow.kind == kind,
                m.FeedbackRow.subject_id == subject_id,
            )
        )
        return Feedback.model_validate(row) if row else None

    async def get(self, feedback_id: int) -> Feedback | None:
        row = await self._s.get(m.FeedbackRow, feedback_id)
        return Feedback.model_validate(row) if row else None

    async def set_comment(self, feedback_id: int, comment: str) -> None:
        await self._s.execute(
            update(m.FeedbackRow).where(m.FeedbackRow.id == feedback_id).values(comment=comment)
        )

    async def claim_survey(self, *, client_id: int, kind: str, period: str, now: datetime) -> bool:
        # The unique (client, kind, period) is the durable "already asked" claim.
        try:
            async with self._s.begin_nested():
                self._s.add(
                    m.SurveyRow(client_id=client_id, kind=kind, period=period, asked_at=now)
                )
        except IntegrityError:
            return False
        return True

    async def answer_survey(
        self, *, client_id: int, kind: str, period: str, now: datetime
    ) -> bool:
        result = await self._s.execute(
            update(m.SurveyRow)
            .where(
                m.SurveyRow.client_id == client_id,
                m.SurveyRow.kind == kind,
                m.SurveyRow.period == period,
                m.SurveyRow.answered_at.is_(None),
            )
            .values(answered_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
