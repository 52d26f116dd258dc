"""SQLAlchemy repository for closed events, invitations, audience overrides and event ratings."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_adapter import models as m
from crm_adapter.dto import AudienceOverride, Event, Invitation

# Indicative rates for the audience's "minimum value" threshold only: the criterion is coarse
# (tens of millions), so a daily treasury rate would change nobody's membership.
RUB_PER_UNIT = {"RUB": Decimal(1), "USD": Decimal(90), "EUR": Decimal(100), "CNY": Decimal(12)}
# Liabilities are not the client's wealth.
NOT_ASSETS = ("credit_line",)


class SqlEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, **fields: Any) -> Event:
        row = m.EventRow(**fields)
        self._s.add(row)
        await self._s.flush()
        return Event.model_validate(row)

    async def get(self, event_id: int, *, for_update: bool = False) -> Event | None:
        query = select(m.EventRow).where(m.EventRow.id == event_id)
        if for_update:
            # PostgreSQL serialises concurrent RSVPs on the event row; SQLite ignores it and
            # serialises writers anyway.
            query = query.with_for_update()
        row = await self._s.scalar(query)
        return Event.model_validate(row) if row else None

    async def list_events(self, *, statuses: tuple[str, ...] | None = None) -> list[Event]:
        query = select(m.EventRow).order_by(m.EventRow.starts_at, m.EventRow.id)
        if statuses:
            query = query.where(m.EventRow.status.in_(statuses))
        return [Event.model_validate(r) for r in await self._s.scalars(query)]

    async def update(self, event_id: int, **changes: Any) -> Event:
        row = await self._s.get(m.EventRow, event_id)
        if row is None:
            raise LookupError(event_id)
        for key, value in changes.items():
            setattr(row, key, value)
        await self._s.flush()
        return Event.model_validate(row)

    async def invitations(self, event_id: int) -> list[Invitation]:
        # populate_existing: read after the event row is locked, the rows must be the
        # database's, not the copies this session loaded before it waited for the lock.
        rows = await self._s.scalars(
            select(m.InvitationRow)
            .where(m.InvitationRow.event_id == event_id)
            .order_by(m.InvitationRow.id)
            .execution_options(populate_existing=True)
        )
        return [Invitation.model_validate(r) for r in rows]

    async def invitation(self, invitation_id: int) -> Invitation | None:
        row = await self._s.get(m.InvitationRow, invitation_id, populate_existing=True)
        return Invitation.model_validate(row) if row else None

    async def invitation_for(self, event_id: int, client_id: int) -> Invitation | None:
        row = await self._s.scalar(
            select(m.InvitationRow).where(
                m.InvitationRow.event_id == event_id, m.InvitationRow.client_id == client_id
            )
        )
        return Invitation.model_validate(row) if row else None

    async def add_invitation(
        self, *, event_id: int, client_id: int, status: str, sent_at: datetime | None
    ) -> Invitation:
        row = m.InvitationRow(
            event_id=event_id, client_id=client_id, status=status, sent_at=sent_at
        )
        self._s.add(row)
        await self._s.flush()
        return Invitation.model_validate(row)

    async def update_invitation(self, invitation_id: int, **changes: Any) -> Invitation:
        row = await self._s.get(m.InvitationRow, invitation_id)
        if row is None:
            raise LookupError(invitation_id)
        for key, value in changes.items():
            setattr(row, key, value)
        await self._s.flush()
        return Invitation.model_validate(row)

    async def by_checkin_hash(self, code_hash: str) -> Invitation | None:
        row = await self._s.scalar(
            select(m.InvitationRow).where(m.InvitationRow.checkin_code_hash == code_hash)
        )
        return Invitation.model_validate(row) if row else None

    async def for_client(self, client_id: int) -> list[tuple[Invitation, Event]]:
        rows = await self._s.execute(
            select(m.InvitationRow, m.EventRow)
            .join(m.EventRow, m.EventRow.id == m.InvitationRow.event_id)
            .where(m.InvitationRow.client_id == client_id)
            .order_by(m.EventRow.starts_at)
        )
        return [(Invitation.model_validate(i), Event.model_validate(e)) for i, e in rows]

    async def unanswered_count(
        self, client_id: int, *, since: datetime, closed_by: datetime | None = None
    ) -> int:
        query = (
            select(func.count(m.InvitationRow.id))
            .join(m.EventRow, m.EventRow.id == m.InvitationRow.event_id)
            .where(
                m.InvitationRow.client_id == client_id,
                m.InvitationRow.status == "sent",
                m.InvitationRow.sent_at >= since,
                m.EventRow.status != "cancelled",
            )
        )
        if closed_by is not None:
            closes_at = func.coalesce(m.EventRow.rsvp_deadline, m.EventRow.starts_at)
            query = query.where(closes_at <= closed_by)
        return int(await self._s.scalar(query) or 0)

    async def overrides(self, event_id: int) -> list[AudienceOverride]:
        rows = await self._s.scalars(
            select(m.AudienceOverrideRow).where(m.AudienceOverrideRow.event_id == event_id)
        )
        return [AudienceOverride.model_validate(r) for r in rows]

    async def set_override(
        self, *, event_id: int, client_id: int, include: bool, staff_id: int, now: datetime
    ) -> AudienceOverride:
        row = await self._s.scalar(
            select(m.AudienceOverrideRow).where(
                m.AudienceOverrideRow.event_id == event_id,
                m.AudienceOverrideRow.client_id == client_id,
            )
        )
        if row is None:
            row = m.AudienceOverrideRow(event_id=event_id, client_id=client_id)
            self._s.add(row)
        row.include = include
        row.staff_id = staff_id
        row.decided_at = now
        await self._s.flush()
        return AudienceOverride.model_validate(row)

    async def client_values(self) -> dict[int, Decimal]:
        rows = await self._s.execute(
            select(
                m.ProductHoldingRow.client_id,
                m.ProductHoldingRow.currency,
                func.sum(m.ProductHoldingRow.balance),
            )
            .where(
                m.ProductHoldingRow.status == "active",
                m.ProductHoldingRow.product_type.not_in(NOT_ASSETS),
            )
            .group_by(m.ProductHoldingRow.client_id, m.ProductHoldingRow.currency)
        )
        totals: dict[int, Decimal] = defaultdict(Decimal)
        for client_id, currency, total in rows:
            rate = RUB_PER_UNIT.get(currency, Decimal(0))
            totals[client_id] += Decimal(total or 0) * rate
        return dict(totals)

    async def interest_texts(self) -> dict[int, list[str]]:
        texts: dict[int, list[str]] = defaultdict(list)
        notes = await self._s.execute(
            select(m.NoteRow.client_id, m.NoteRow.text).where(m.NoteRow.kind == "interest")
        )
        for client_id, text in notes:
            texts[client_id].append(text)
        events = await self._s.execute(
            select(m.LifeEventRow.client_id, m.LifeEventRow.kind, m.LifeEventRow.description)
        )
        for client_id, kind, description in events:
            texts[client_id].append(f"{kind} {description}")
        return dict(texts)

    async def clients_with_consent(self) -> set[int]:
        # The newest personal-data record per client decides, as in ConsentRepository.current.
        rows = await self._s.execute(
            select(
                m.ConsentRow.client_id,
                m.ConsentRow.granted,
                m.ConsentRow.withdrawn_at,
                m.ConsentRow.recorded_at,
                m.ConsentRow.id,
            )
            .where(m.ConsentRow.purpose == "personal_data")
            .order_by(m.ConsentRow.recorded_at, m.ConsentRow.id)
        )
        latest: dict[int, bool] = {}
        for client_id, granted, withdrawn_at, _recorded, _id in rows:
            latest[client_id] = bool(granted) and withdrawn_at is None
        return {client_id for client_id, active in latest.items() if active}

    async def record_rating(
        self, *, client_id: int, event_id: int, score: int, now: datetime
    ) -> bool:
        existing = await self._s.scalar(
            select(m.FeedbackRow.id).where(
                m.FeedbackRow.client_id == client_id,
                m.FeedbackRow.kind == "event",
                m.FeedbackRow.subject_id == event_id,
            )
        )
        if existing is not None:
            return False
        self._s.add(
            m.FeedbackRow(
                client_id=client_id, kind="event", subject_id=event_id, score=score, created_at=now
            )
        )
        await self._s.flush()
        return True
