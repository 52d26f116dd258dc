"""Manager workspace use cases: a client's 360 view, the portfolio, notes, with access checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from common.clock import Clock
from concierge.access import open_client, visible_clients
from concierge.insights.analysis import Flag, Insights, analyse
from concierge.insights.analysis import flags as client_flags
from concierge.insights.potential import Opportunity
from concierge.insights.rules import InsightRules, default_rules
from concierge.profile import ClientProfile, load_profile
from concierge.search import Match, find_clients
from crm_adapter.dto import Client, Note, Staff
from crm_adapter.port import UnitOfWork

MAX_NOTE_LENGTH = 3000


@dataclass(frozen=True)
class ClientView:
    """A client's snapshot with the insights computed from it."""

    profile: ClientProfile
    insights: Insights

    @property
    def client(self) -> Client:
        return self.profile.client


async def view_client(
    uow: UnitOfWork,
    *,
    clock: Clock,
    staff: Staff,
    client_id: int,
    action: str = "view_card",
    rules: InsightRules | None = None,
) -> ClientView | None:
    """The 360 view if `staff` may see the client (audited as `action`), else None."""
    client = await open_client(uow, clock=clock, staff=staff, client_id=client_id, action=action)
    if client is None:
        return None
    profile = await load_profile(uow, client=client, now=clock.now())
    return ClientView(profile, analyse(profile, rules or default_rules()))


@dataclass(frozen=True)
class PortfolioEntry:
    view: ClientView
    flags: tuple[Flag, ...]


async def portfolio(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, rules: InsightRules | None = None
) -> list[PortfolioEntry]:
    """Every client the staff member may see, with insights and flags (audited once)."""
    rules = rules or default_rules()
    clients = await visible_clients(uow, staff)
    now = clock.now()
    entries = []
    for client in clients:
        profile = await load_profile(uow, client=client, now=now)
        insights = analyse(profile, rules)
        entries.append(
            PortfolioEntry(
                ClientView(profile, insights), tuple(client_flags(profile, insights, rules))
            )
        )
    await uow.audit.record(
        now=now,
        action="view_portfolio",
        actor_staff_id=staff.id,
        # One entry for the whole list, naming whom it showed, instead of one row per client.
        details={"client_ids": [c.id for c in clients]},
    )
    return entries


@dataclass(frozen=True)
class PortfolioOverview:
    clients: int
    by_segment: dict[str, int]
    by_risk: dict[str, int]
    top_opportunities: tuple[tuple[Client, Opportunity], ...]
    potential_rub: Decimal
    assets_rub: Decimal


def overview(entries: list[PortfolioEntry], *, top: int = 5) -> PortfolioOverview:
    segments = Counter(e.view.insights.financial.segment.value for e in entries)
    risks = Counter(e.view.insights.churn.level.value for e in entries)
    offers = [(e.view.client, o) for e in entries for o in e.view.insights.value.opportunities]
    offers.sort(key=lambda pair: pair[1].amount_rub, reverse=True)
    return PortfolioOverview(
        clients=len(entries),
        by_segment=dict(segments.most_common()),
        by_risk={level: risks.get(level, 0) for level in ("high", "medium", "low")},
        top_opportunities=tuple(offers[:top]),
        potential_rub=sum((e.view.insights.value.potential_rub for e in entries), Decimal(0)),
        assets_rub=sum((e.view.insights.value.assets_rub for e in entries), Decimal(0)),
    )


async def add_note(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, client_id: int, text: str, kind: str = "note"
) -> Note | None:
    """Stores a manager's note and logs it as an internal interaction; None when refused."""
    client = await open_client(
        uow, clock=clock, staff=staff, client_id=client_id, action="add_note"
    )
    if client is None:
        return None
    body = text.strip()[:MAX_NOTE_LENGTH]
    now = clock.now()
    note = await uow.profiles.add_note(
        client_id=client.id, author_id=staff.id, text=body, kind=kind, now=now
    )
    await uow.interactions.record(
        occurred_at=now,
        channel="crm",
        direction="internal",
        kind="note",
        actor="staff",
        client_id=client.id,
        staff_id=staff.id,
        text=body,
        payload={"note_id": note.id, "note_kind": kind},
    )
    return note


# A clear winner is taken without asking; closer scores mean the manager must choose.
CLEAR_LEAD = 10.0


@dataclass(frozen=True)
class Resolution:
    """What a name in a command points to: one client, a choice, a refusal, or nothing."""

    client_id: int | None = None
    candidates: tuple[Match, ...] = ()
    denied: bool = False


async def search_visible(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, query: str, limit: int = 10
) -> list[Match]:
    """Fuzzy search limited to the clients the staff member may see; the search is audited."""
    matches = find_clients(query, await visible_clients(uow, staff), limit=limit)
    await uow.audit.record(
        now=clock.now(),
        action="search_clients",
        actor_staff_id=staff.id,
        details={"query": query[:100], "client_ids": [m.client.id for m in matches]},
    )
    return matches


async def resolve_client(
    uow: UnitOfWork, *, clock: Clock, staff: Staff, query: str, action: str
) -> Resolution:
    """Picks the client a command names; a name that only matches clients out of reach is
    refused and audited as `action` (denied), so probing other portfolios leaves a trace."""
    matches = await search_visible(uow, clock=clock, staff=staff, query=query)
    if matches:
        if len(matches) == 1 or matches[0].score - matches[1].score >= CLEAR_LEAD:
            return Resolution(client_id=matches[0].client.id)
        return Resolution(candidates=tuple(matches))
    elsewhere = find_clients(query, await uow.clients.all(), limit=3)
    for match in elsewhere:
        await uow.audit.record(
            now=clock.now(),
            action=action,
            outcome="denied",
            actor_staff_id=staff.id,
            subject_client_id=match.client.id,
            details={"query": query[:100]},
        )
    return Resolution(denied=bool(elsewhere))
