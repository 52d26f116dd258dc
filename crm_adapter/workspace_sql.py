"""SQL queries of the manager workspace; like every repository it flushes, never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.workspace import (
    ClientDetails,
    Contact,
    Feedback,
    HoldingGroupView,
    HoldingMemberView,
    InvitationView,
    MeetingView,
    OpenRequest,
    Transaction,
)

# Requests still waiting for the bank; resolved and cancelled ones are history.
OPEN_REQUEST_STATUSES = ("new", "accepted")


def _meeting(row: m.MeetingRow) -> MeetingView:
    return MeetingView.model_validate(row)


class SqlWorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def details(self, client_id: int) -> ClientDetails | None:
        row = await self._s.get(m.ClientRow, client_id)
        if row is None:
            return None
        return ClientDetails(
            client_id=row.id,
            occupation=row.occupation,
            is_public_person=bool(row.is_public_person),
            opinion_leader=bool(row.opinion_leader),
            decision_influencer=row.decision_influencer,
            what_matters=row.what_matters,
            previous_manager_id=row.previous_manager_id,
            manager_since=row.manager_since,
            media_mentions_90d=row.media_mentions_90d,
            search_queries_90d=row.search_queries_90d,
        )

    async def public_person_metrics(self) -> list[tuple[int, int, int]]:
        rows = await self._s.execute(
            select(
                m.ClientRow.id, m.ClientRow.media_mentions_90d, m.ClientRow.search_queries_90d
            ).where(
                m.ClientRow.is_public_person.is_(True),
                m.ClientRow.media_mentions_90d.is_not(None),
                m.ClientRow.search_queries_90d.is_not(None),
            )
        )
        return [(r[0], r[1] or 0, r[2] or 0) for r in rows]

    async def transactions(self, client_id: int, *, since: datetime) -> list[Transaction]:
        rows = await self._s.scalars(
            select(m.TransactionRow)
            .where(m.TransactionRow.client_id == client_id, m.TransactionRow.occurred_at >= since)
            .order_by(m.TransactionRow.occurred_at)
        )
        return [Transaction.model_validate(r) for r in rows]

    async def contacts(self, client_id: int, *, since: datetime) -> list[Contact]:
        rows = await self._s.execute(
            select(
                m.InteractionRow.occurred_at,
                m.InteractionRow.channel,
                m.InteractionRow.direction,
                m.InteractionRow.kind,
                m.InteractionRow.actor,
                m.InteractionRow.messenger,
            )
            .where(m.InteractionRow.client_id == client_id, m.InteractionRow.occurred_at >= since)
            .order_by(m.InteractionRow.occurred_at)
        )
        return [
            Contact(
                occurred_at=r[0],
                channel=r[1],
                direction=r[2],
                kind=r[3],
                actor=r[4],
                messenger=r[5],
            )
            for r in rows
        ]

    async def feedback(self, client_id: int) -> list[Feedback]:
        rows = await self._s.scalars(
            select(m.FeedbackRow)
            .where(m.FeedbackRow.client_id == client_id)
            .order_by(m.FeedbackRow.created_at)
        )
        return [Feedback.model_validate(r) for r in rows]

    async def invitations(self, client_id: int) -> list[InvitationView]:
        rows = await self._s.execute(
            select(m.InvitationRow, m.EventRow)
            .join(m.EventRow, m.EventRow.id == m.InvitationRow.event_id)
            .where(m.InvitationRow.client_id == client_id)
            .order_by(m.EventRow.starts_at)
        )
        return [
            InvitationView(
                event_id=event.id,
                event_title=event.title,
                event_starts_at=event.starts_at,
                event_timezone=event.timezone,
                status=inv.status,
                sent_at=inv.sent_at,
                answered_at=inv.answered_at,
                checked_in_at=inv.checked_in_at,
            )
            for inv, event in rows
        ]

    async def open_requests(self, client_id: int) -> list[OpenRequest]:
        rows = await self._s.scalars(
            select(m.ServiceRequestRow)
            .where(
                m.ServiceRequestRow.client_id == client_id,
                m.ServiceRequestRow.status.in_(OPEN_REQUEST_STATUSES),
            )
            .order_by(m.ServiceRequestRow.created_at)
        )
        return [OpenRequest.model_validate(r) for r in rows]

    async def meetings(self, client_id: int) -> list[MeetingView]:
        rows = await self._s.scalars(
            select(m.MeetingRow)
            .where(m.MeetingRow.client_id == client_id)
            .order_by(m.MeetingRow.starts_at)
        )
        return [_meeting(r) for r in rows]

    async def holding_group(self, group_id: int) -> HoldingGroupView | None:
        group = await self._s.get(m.HoldingGroupRow, group_id)
        if group is None:
            return None
        members = await self._s.scalars(
            select(m.HoldingMemberRow)
            .where(m.HoldingMemberRow.group_id == group_id)
            .order_by(m.HoldingMemberRow.id)
        )
        return HoldingGroupView(
            id=group.id,
            name=group.name,
            members=tuple(HoldingMemberView.model_validate(r) for r in members),
        )

    async def due_meetings(self, *, start: datetime, end: datetime) -> list[MeetingView]:
        rows = await self._s.scalars(
            select(m.MeetingRow)
            .where(
                m.MeetingRow.status == "planned",
                m.MeetingRow.briefing_sent_at.is_(None),
                m.MeetingRow.starts_at >= start,
                m.MeetingRow.starts_at < end,
            )
            .order_by(m.MeetingRow.starts_at)
        )
        return [_meeting(r) for r in rows]

    async def mark_briefing_sent(self, meeting_id: int, *, now: datetime) -> bool:
        # Conditional update: two overlapping scheduler runs cannot both claim the meeting.
        result = await self._s.execute(
            update(m.MeetingRow)
            .where(m.MeetingRow.id == meeting_id, m.MeetingRow.briefing_sent_at.is_(None))
            .values(briefing_sent_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_briefing(self, meeting_id: int) -> None:
        await self._s.execute(
            update(m.MeetingRow).where(m.MeetingRow.id == meeting_id).values(briefing_sent_at=None)
        )
