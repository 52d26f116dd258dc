"""The demo bank: minimums, segments, idempotency and the stories the features will tell."""

from __future__ import annotations

import time as wall
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from common.clock import ManualClock
from crm_adapter import models as m
from crm_adapter.demo.loader import (
    DEMO_PERSONAS,
    INSURANCE_PRODUCTS,
    INVESTMENT_PRODUCTS,
    PAST_EVENT_TITLE,
    load_demo_data,
)
from crm_adapter.sql import SqlCrm

T = TypeVar("T", bound=m.Base)

FINANCIAL = {"stable_keeper", "active_investor", "credit_dependent", "low_engagement"}
VALUES = {"technophile", "conservative", "socially_active", "family_oriented"}


@pytest.fixture
async def loaded(crm: SqlCrm, clock: ManualClock) -> SqlCrm:
    await load_demo_data(crm, clock=clock)
    return crm


async def _table_counts(crm: SqlCrm) -> dict[str, int]:
    async with crm.unit_of_work() as uow:
        return {
            table.name: int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)
            for table in m.Base.metadata.sorted_tables
        }


async def _client_ids(crm: SqlCrm) -> dict[str, int]:
    async with crm.unit_of_work() as uow:
        rows = await uow.session.execute(select(m.ClientRow.external_id, m.ClientRow.id))
        return dict(rows.all())


async def _all(crm: SqlCrm, model: type[T]) -> list[T]:
    """Every row of a table, detached with its attributes loaded."""
    async with crm.unit_of_work() as uow:
        rows = list(await uow.session.scalars(select(model)))
        uow.session.expunge_all()
        return rows


def _next_birthday(born: date, today: date) -> date:
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a common year
            day = date(year, 3, 1)
        if day >= today:
            return day
    raise AssertionError("unreachable")


async def test_loads_on_both_engines_and_is_idempotent(store: SqlCrm, clock: ManualClock) -> None:
    started = wall.perf_counter()
    first = await load_demo_data(store, clock=clock)
    elapsed = wall.perf_counter() - started
    counts = await _table_counts(store)

    # A day later (dates are relative to the clock) the second run still creates nothing.
    clock.advance(timedelta(days=1))
    second = await load_demo_data(store, clock=clock)
    assert second.created == 0
    assert await _table_counts(store) == counts
    assert {**first.__dict__, "created": 0} == second.__dict__

    assert elapsed < 10, f"loading took {elapsed:.1f}s"
    assert first.created > 0
    assert first.staff >= 7
    assert first.clients >= 30
    assert first.holdings >= 100
    assert first.transactions >= 1000
    assert first.interactions >= 300
    assert first.holding_groups >= 2
    assert first.events >= 4
    assert first.invitations >= 10
    assert first.service_requests >= 6
    assert min(first.life_events, first.notes, first.feedback, first.request_comments) > 0
    assert counts["client"] == first.clients
    assert counts["interaction"] == first.interactions


async def test_same_seed_same_bank(
    tmp_path_factory: pytest.TempPathFactory, sqlite_url: str, clock: ManualClock
) -> None:
    import shutil

    other = tmp_path_factory.mktemp("other") / "crm.db"
    shutil.copy(Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")), other)

    async def fingerprint(url: str) -> list[tuple[str, Decimal, int]]:
        crm = SqlCrm.from_url(url)
        await load_demo_data(crm, clock=clock)
        async with crm.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(
                    m.ClientRow.external_id, func.sum(m.TransactionRow.amount_rub), func.count()
                )
                .join(m.TransactionRow, m.TransactionRow.client_id == m.ClientRow.id)
                .group_by(m.ClientRow.external_id)
                .order_by(m.ClientRow.external_id)
            )
            result = [(ext, Decimal(total), int(n)) for ext, total, n in rows]
        await crm.close()
        return result

    assert await fingerprint(sqlite_url) == await fingerprint(f"sqlite+aiosqlite:///{other}")


async def test_staff_managers_have_backups_and_every_role_is_covered(loaded: SqlCrm) -> None:
    staff = await _all(loaded, m.StaffRow)
    by_id = {s.id: s for s in staff}
    managers = [s for s in staff if "manager" in s.roles.split(",")]
    assert len(managers) == 4
    for manager in managers:
        assert manager.backup_id is not None and manager.backup_id != manager.id
        assert "manager" in by_id[manager.backup_id].roles
    roles = {role for s in staff for role in s.roles.split(",")}
    assert roles == {"manager", "coordinator", "duty", "admin"}
    assert {s.timezone for s in staff} == {"Europe/Moscow", "Asia/Yekaterinburg"}
    assert all(s.external_id.startswith("S-") for s in staff)


async def test_clients_cover_every_segment_and_profile_trait(loaded: SqlCrm) -> None:
    clients = await _all(loaded, m.ClientRow)
    assert {c.financial_segment for c in clients} == FINANCIAL
    assert {c.values_segment for c in clients} == VALUES
    assert {"Москва", "Санкт-Петербург", "Екатеринбург", "Новосибирск", "Казань", "Сочи"} <= {
        c.city for c in clients
    }
    assert any(c.timezone == "Asia/Dubai" for c in clients)
    assert sum(c.language == "en" for c in clients) >= 2
    assert any(c.do_not_disturb for c in clients)
    assert any(c.marketing_opt_out for c in clients)
    assert any(c.is_public_person for c in clients)
    assert any(c.opinion_leader for c in clients)
    assert sum(c.decision_influencer is not None for c in clients) >= 5
    assert all(c.manager_id and c.client_since and c.birthday for c in clients)
    assert {c.gender for c in clients} == {"m", "f"}


async def test_birthdays_this_week_and_one_today(loaded: SqlCrm, clock: ManualClock) -> None:
    clients = await _all(loaded, m.ClientRow)
    soon: dict[str, int] = {}
    for c in clients:
        assert c.birthday is not None
        today = clock.now().astimezone(ZoneInfo(c.timezone)).date()
        days = (_next_birthday(c.birthday, today) - today).days
        if days <= 7:
            soon[c.external_id] = days
    assert 2 <= len(soon) <= 3
    assert 0 in soon.values()
    assert soon["C-0003"] == 0


async def test_churn_example_went_silent_after_the_manager_changed(
    loaded: SqlCrm, clock: ManualClock
) -> None:
    today = clock.now().date()
    async with loaded.unit_of_work() as uow:
        s = uow.session
        client = await s.scalar(select(m.ClientRow).where(m.ClientRow.external_id == "C-0001"))
        assert client is not None
        assert client.previous_manager_id is not None
        assert client.previous_manager_id != client.manager_id
        assert client.manager_since is not None and client.client_since is not None
        assert 55 <= (today - client.manager_since).days <= 65
        assert (today - client.client_since).days > 10 * 365
        times = list(
            await s.scalars(
                select(m.InteractionRow.occurred_at).where(m.InteractionRow.client_id == client.id)
            )
        )
        assert len(times) >= 10
        assert max(times).date() < client.manager_since
        nps = list(
            await s.scalars(
                select(m.FeedbackRow.score)
                .where(m.FeedbackRow.client_id == client.id, m.FeedbackRow.kind == "nps")
                .order_by(m.FeedbackRow.created_at)
            )
        )
        assert nps[-1] <= 2
        unanswered = await s.scalar(
            select(func.count())
            .select_from(m.InvitationRow)
            .where(m.InvitationRow.client_id == client.id, m.InvitationRow.status == "sent")
        )
        assert unanswered and unanswered >= 1


async def test_activity_drops_for_the_at_risk_clients(loaded: SqlCrm, clock: ManualClock) -> None:
    now = clock.now()
    ids = await _client_ids(loaded)
    async with loaded.unit_of_work() as uow:

        async def monthly(ext: str, start: timedelta, end: timedelta) -> float:
            n = await uow.session.scalar(
                select(func.count())
                .select_from(m.TransactionRow)
                .where(
                    m.TransactionRow.client_id == ids[ext],
                    m.TransactionRow.occurred_at >= now - start,
                    m.TransactionRow.occurred_at < now - end,
                )
            )
            return (n or 0) / ((start - end).days / 30)

        for ext in ("C-0001", "C-0010", "C-0017", "C-0030"):
            recent = await monthly(ext, timedelta(days=90), timedelta(0))
            before = await monthly(ext, timedelta(days=360), timedelta(days=90))
            assert recent < before / 2, ext
        assert await monthly("C-0003", timedelta(days=90), timedelta(0)) >= 4


async def test_unrealised_potential_clients(loaded: SqlCrm) -> None:
    async with loaded.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(m.ClientRow.external_id, m.ProductHoldingRow).join(
                m.ProductHoldingRow, m.ProductHoldingRow.client_id == m.ClientRow.id
            )
        )
        holdings: dict[str, list[m.ProductHoldingRow]] = {}
        for ext, holding in rows:
            holdings.setdefault(ext, []).append(holding)
        uow.session.expunge_all()
    potential = {
        ext
        for ext, items in holdings.items()
        if any(
            h.product_type == "deposit" and h.currency == "RUB" and h.balance >= 30_000_000
            for h in items
        )
        and not any(h.product_type in INVESTMENT_PRODUCTS | INSURANCE_PRODUCTS for h in items)
    }
    assert {"C-0002", "C-0011", "C-0016", "C-0024"} <= potential
    kinds = {h.product_type for items in holdings.values() for h in items}
    assert kinds == {
        "deposit", "savings", "brokerage", "trust", "mutual_fund", "structured", "alternative",
        "insurance_life", "insurance_property", "insurance_travel", "credit_line",
        "premium_card", "fx",
    }  # fmt: skip
    credit = [h for items in holdings.values() for h in items if h.product_type == "credit_line"]
    assert credit and all(h.balance < 0 for h in credit)


async def test_time_sensitive_triggers(loaded: SqlCrm, clock: ManualClock) -> None:
    now = clock.now()
    today = now.date()
    async with loaded.unit_of_work() as uow:
        s = uow.session
        maturities = list(
            await s.scalars(
                select(m.ProductHoldingRow.matures_on).where(
                    m.ProductHoldingRow.product_type == "deposit"
                )
            )
        )
        days = sorted((d - today).days for d in maturities if d is not None)
        assert any(0 <= d <= 3 for d in days)
        assert any(3 < d <= 14 for d in days)
        assert any(14 < d <= 30 for d in days)
        cards = list(
            await s.scalars(
                select(m.ProductHoldingRow.expires_on).where(
                    m.ProductHoldingRow.product_type == "premium_card"
                )
            )
        )
        assert sum(d is not None and (d - today).days <= 30 for d in cards) >= 2
        inflows = set(
            await s.scalars(
                select(m.TransactionRow.client_id).where(
                    m.TransactionRow.amount_rub >= 10_000_000,
                    m.TransactionRow.occurred_at >= now - timedelta(days=3),
                )
            )
        )
        assert len(inflows) == 2
        upcoming = list(
            await s.scalars(
                select(m.MeetingRow.starts_at).where(
                    m.MeetingRow.status == "planned", m.MeetingRow.starts_at > now
                )
            )
        )
        assert any(t - now <= timedelta(hours=3) for t in upcoming)
        assert sum(timedelta(hours=3) < t - now <= timedelta(days=4) for t in upcoming) >= 3
        held = await s.scalar(
            select(func.count())
            .select_from(m.MeetingRow)
            .where(m.MeetingRow.status == "held", m.MeetingRow.starts_at < now)
        )
        assert held and held >= 10
        assert not await s.scalar(
            select(func.count())
            .select_from(m.InteractionRow)
            .where((m.InteractionRow.occurred_at > now) | m.InteractionRow.update_id.is_not(None))
        )


async def test_groups_events_and_requests(loaded: SqlCrm, clock: ManualClock) -> None:
    now = clock.now()
    async with loaded.unit_of_work() as uow:
        s = uow.session
        members = list(await s.scalars(select(m.HoldingMemberRow)))
        groups = {mb.group_id for mb in members}
        assert len(groups) >= 2
        for group in groups:
            mine = [mb for mb in members if mb.group_id == group]
            assert any(mb.client_id for mb in mine)
            assert any(mb.client_id is None and mb.member_kind == "company" for mb in mine)
        assert any(mb.annual_profit_rub < 0 for mb in members)

        events = list(await s.scalars(select(m.EventRow)))
        assert {"open", "draft"} <= {e.status for e in events}
        assert all(e.audience and e.capacity > 0 for e in events)
        assert any(e.starts_at < now for e in events)
        past = next(e for e in events if e.title == PAST_EVENT_TITLE)
        statuses = set(
            await s.scalars(
                select(m.InvitationRow.status).where(m.InvitationRow.event_id == past.id)
            )
        )
        assert {"checked_in", "declined", "sent"} <= statuses

        requests = list(await s.scalars(select(m.ServiceRequestRow)))
        assert {"new", "accepted", "resolved"} <= {r.status for r in requests}
        assert {"card_block", "airport_vip", "urgent_transfer", "cash_delivery"} <= {
            r.service_code for r in requests
        }
        assert all(r.ack_due_at <= r.resolve_due_at for r in requests)
        open_requests = [r for r in requests if r.status != "resolved"]
        # Nothing is overdue at load time: escalations start only when the demo runs.
        assert all(r.resolve_due_at > now for r in open_requests)
        feedback = set(await s.scalars(select(m.FeedbackRow.kind)))
        assert feedback == {"nps", "request", "event"}
        notes = list(await s.scalars(select(m.NoteRow.text)))
        assert any("альтернативн" in n for n in notes)


async def test_personas_exist(loaded: SqlCrm) -> None:
    async with loaded.unit_of_work() as uow:
        for persona in DEMO_PERSONAS:
            repo = uow.clients if persona.kind == "client" else uow.staff
            assert await repo.by_external_id(persona.external_id), persona


async def test_a_second_load_changes_no_row(crm: SqlCrm, clock: ManualClock) -> None:
    """Not only the counts: every row of every table is as the first load left it."""

    async def every_row() -> dict[str, list[tuple[object, ...]]]:
        async with crm.unit_of_work() as uow:
            return {
                table.name: [
                    tuple(row)
                    for row in await uow.session.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in m.Base.metadata.sorted_tables
            }

    await load_demo_data(crm, clock=clock)
    before = await every_row()
    clock.advance(timedelta(days=1))
    await load_demo_data(crm, clock=clock)
    assert await every_row() == before
