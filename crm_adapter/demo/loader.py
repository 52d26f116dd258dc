"""Loads the demo bank of `bank.yaml` through one unit of work, idempotently.

Idempotency: staff and clients are keyed on `external_id`, holding groups on their name,
members on (group, name), events on their title. A client's history (holdings, transactions,
interactions, notes, meetings, requests ...) is only created together with the client, all in
one transaction, so a second run finds everything in place and creates nothing.

Determinism: every random choice comes from `random.Random` seeded from `seed` and the
client's external id, and every date is relative to `clock.now()`, so the bank always looks
current (birthdays this week, deposits maturing soon, a meeting in two hours).

Conventions other features can rely on:
- `credit_line` holdings carry the drawn debt as a negative balance;
- `event.audience` uses the keys `values_segments`, `financial_segments` and `cities`
  (city names as stored on the client, e.g. "Москва");
- interactions of the demo history have no `update_id` and no `chat_id`;
- the duty desk works 21:00-09:00 (its `work_end` is before its `work_start`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from crm_adapter import models as m
from crm_adapter.demo import rows
from crm_adapter.demo.history import ClientHistory
from crm_adapter.demo.spec import (
    ClientSpec,
    DemoBank,
    EventSpec,
    Persona,
    StaffSpec,
    demo_bank,
)
from crm_adapter.sql import SqlCrm

# The bank's calendar ("today", "days ago") is Moscow's.
BANK_TIMEZONE = "Europe/Moscow"

# Product families the stories rest on: a "potential" client holds none of them.
INVESTMENT_PRODUCTS = frozenset({"brokerage", "trust", "mutual_fund", "structured", "alternative"})
INSURANCE_PRODUCTS = frozenset({"insurance_life", "insurance_property", "insurance_travel"})

DEMO_PERSONAS: tuple[Persona, ...] = demo_bank().personas
# The seminar of 40 days ago: who came, who declined, who never answered.
PAST_EVENT_TITLE = next(e.title for e in demo_bank().events if e.days_from_today < 0)


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind exist after loading, and how many this run created."""

    staff: int
    clients: int
    holdings: int
    transactions: int
    interactions: int
    life_events: int
    notes: int
    feedback: int
    holding_groups: int
    holding_members: int
    meetings: int
    events: int
    invitations: int
    service_requests: int
    request_comments: int
    created: int


# Thousands of history rows nobody refers to: one executemany each, no RETURNING.
_BULK = (m.TransactionRow, m.InteractionRow, m.MeetingRow)

_SUMMARY_TABLES: dict[str, type[m.Base]] = {
    "staff": m.StaffRow,
    "clients": m.ClientRow,
    "holdings": m.ProductHoldingRow,
    "transactions": m.TransactionRow,
    "interactions": m.InteractionRow,
    "life_events": m.LifeEventRow,
    "notes": m.NoteRow,
    "feedback": m.FeedbackRow,
    "holding_groups": m.HoldingGroupRow,
    "holding_members": m.HoldingMemberRow,
    "meetings": m.MeetingRow,
    "events": m.EventRow,
    "invitations": m.InvitationRow,
    "service_requests": m.ServiceRequestRow,
    "request_comments": m.RequestCommentRow,
}


async def load_demo_data(
    crm: SqlCrm, *, clock: Clock, seed: int = 7, bank: DemoBank | None = None
) -> DemoSummary:
    """Load the demo bank in one transaction; a repeated run creates nothing."""
    async with crm.unit_of_work() as uow:
        loader = _Loader(uow.session, bank or demo_bank(), now=clock.now(), seed=seed)
        await loader.run()
        await uow.commit()
        counts: dict[str, int] = {}
        for name, model in _SUMMARY_TABLES.items():
            total = await uow.session.scalar(select(func.count()).select_from(model))
            counts[name] = int(total or 0)
        return DemoSummary(**counts, created=loader.created)


class _Loader:
    def __init__(self, session: AsyncSession, bank: DemoBank, *, now: datetime, seed: int) -> None:
        self.s = session
        self.bank = bank
        self.now = now
        self.today = now.astimezone(ZoneInfo(BANK_TIMEZONE)).date()
        self.seed = seed
        self.created = 0
        self.staff: dict[str, int] = {}
        self.clients: dict[str, int] = {}
        self.groups: dict[str, int] = {}
        self.bulk: dict[type[m.Base], list[dict[str, Any]]] = {}

    def add(self, new: Sequence[m.Base]) -> None:
        for row in new:
            if isinstance(row, _BULK):
                values = {k: v for k, v in vars(row).items() if not k.startswith("_")}
                self.bulk.setdefault(type(row), []).append(values)
            else:
                self.s.add(row)
        self.created += len(new)

    async def run(self) -> None:
        await self.load_staff()
        await self.load_groups()
        history = ClientHistory(
            self.bank.history, now=self.now, today=self.today, seed=self.seed, staff=self.staff
        )
        new_clients = await self.load_clients(history)
        for spec in new_clients:
            await self.load_client_history(spec, history)
        await self.load_group_members()
        await self.load_events()
        await self.s.flush()
        for model, values in self.bulk.items():
            await self.s.execute(insert(model), values)
        self.bulk.clear()

    # staff, groups, clients ----------------------------------------------------------------

    async def load_staff(self) -> None:
        specs = self.bank.staff
        existing = {
            row.external_id: row
            for row in await self.s.scalars(
                select(m.StaffRow).where(
                    m.StaffRow.external_id.in_([x.external_id for x in specs])
                )
            )
        }
        new: list[tuple[StaffSpec, m.StaffRow]] = []
        for spec in specs:
            if spec.external_id in existing:
                continue
            row = m.StaffRow(
                external_id=spec.external_id,
                full_name=spec.full_name,
                roles=spec.roles,
                timezone=spec.timezone,
                language="ru",
                work_start=spec.work_start,
                work_end=spec.work_end,
                email=spec.email,
                phone=spec.phone,
            )
            existing[spec.external_id] = row
            new.append((spec, row))
        self.add([row for _, row in new])
        await self.s.flush()
        self.staff = {ext: row.id for ext, row in existing.items()}
        for spec, row in new:
            if spec.backup:
                row.backup_id = self.staff[spec.backup]

    async def load_groups(self) -> None:
        specs = self.bank.holding_groups
        found = await self.s.scalars(
            select(m.HoldingGroupRow).where(m.HoldingGroupRow.name.in_([g.name for g in specs]))
        )
        existing = {row.name: row for row in found}
        new = [
            m.HoldingGroupRow(name=g.name, description=g.description)
            for g in specs
            if g.name not in existing
        ]
        self.add(new)
        await self.s.flush()
        existing.update({row.name: row for row in new})
        self.groups = {name: row.id for name, row in existing.items()}

    async def load_clients(self, history: ClientHistory) -> list[ClientSpec]:
        specs = self.bank.clients
        found = await self.s.execute(
            select(m.ClientRow.external_id, m.ClientRow.id).where(
                m.ClientRow.external_id.in_([c.external_id for c in specs])
            )
        )
        self.clients = dict(found.all())
        new_specs = [spec for spec in specs if spec.external_id not in self.clients]
        new = [rows.client_row(spec, history, groups=self.groups) for spec in new_specs]
        self.add(new)
        await self.s.flush()
        self.clients.update({row.external_id: row.id for row in new})
        return new_specs

    # a new client's history -----------------------------------------------------------------

    async def load_client_history(self, spec: ClientSpec, history: ClientHistory) -> None:
        client_id = self.clients[spec.external_id]
        self.add(history.holdings(spec, client_id))
        self.add(history.transactions(spec, client_id))
        self.add(history.interactions(spec, client_id))
        self.add(rows.facts(spec, client_id, history))
        self.add(rows.upcoming_meeting(spec, client_id, history))
        for request in spec.requests:
            assignee = self.staff[request.assignee or spec.manager]
            row = rows.request_row(request, client_id, now=self.now, assignee_id=assignee)
            self.add([row])
            await self.s.flush()
            self.add(rows.request_followups(request, row))

    # groups and events ---------------------------------------------------------------------

    async def load_group_members(self) -> None:
        found = await self.s.execute(
            select(m.HoldingMemberRow.group_id, m.HoldingMemberRow.name).where(
                m.HoldingMemberRow.group_id.in_(list(self.groups.values()))
            )
        )
        existing = {(group_id, name) for group_id, name in found}
        self.add(
            [
                m.HoldingMemberRow(
                    group_id=self.groups[group.name],
                    client_id=self.clients[member.client] if member.client else None,
                    name=member.name,
                    member_kind=member.kind,
                    relation=member.relation,
                    annual_profit_rub=Decimal(member.annual_profit_rub),
                )
                for group in self.bank.holding_groups
                for member in group.members
                if (self.groups[group.name], member.name) not in existing
            ]
        )

    async def load_events(self) -> None:
        specs = self.bank.events
        titles = set(
            await self.s.scalars(
                select(m.EventRow.title).where(m.EventRow.title.in_([e.title for e in specs]))
            )
        )
        for spec in specs:
            if spec.title not in titles:
                await self.event(spec)

    async def event(self, spec: EventSpec) -> None:
        row = rows.event_row(spec, now=self.now, coordinator_id=self.staff[spec.coordinator])
        self.add([row])
        await self.s.flush()
        self.add(rows.invitation_rows(spec, row, seed=self.seed, clients=self.clients))
