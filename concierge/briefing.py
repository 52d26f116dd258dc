"""The one-screen meeting brief: who, why they matter, what changed, risks, offers, what to say.

Built from the same snapshot and insights as the card; product facts come through the small
`ProductFacts` port (the knowledge base in production, a fake in tests, or nothing at all).
How the brief reads is in `briefing_render`; the briefs sent before meetings in
`briefing_delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.clock import Clock
from common.i18n import DATE_TIME_FORMAT
from concierge.access import open_client
from concierge.insights.analysis import Insights, analyse, next_birthday
from concierge.insights.churn import RiskLevel
from concierge.insights.potential import Opportunity
from concierge.insights.reasons import Reason, money
from concierge.insights.rules import InsightRules, default_rules
from concierge.profile import ClientProfile, load_profile
from crm_adapter.dto import Staff
from crm_adapter.port import UnitOfWork
from crm_adapter.workspace import MeetingView

# Without a previous meeting, "what changed" looks back this far.
DEFAULT_LOOKBACK = timedelta(days=90)
RECENT_LIFE_EVENT = timedelta(days=365)
MAX_FACTS_PER_OFFER = 2


@dataclass(frozen=True)
class Fact:
    """A product fact quoted from a bank document, with where it comes from."""

    text: str
    doc_id: str
    title: str
    section: str | None = None


class ProductFacts(Protocol):
    def facts(self, family: str, *, language: str) -> list[Fact]:
        """Facts about a product family (investments, insurance, deposits, ...)."""
        ...


@dataclass(frozen=True)
class Offer:
    opportunity: Opportunity
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Briefing:
    profile: ClientProfile
    insights: Insights
    language: str
    since: datetime  # "what changed" starts here: the last meeting or the lookback
    since_meeting: bool
    meeting: MeetingView | None
    changes: tuple[Reason, ...]
    offers: tuple[Offer, ...]
    talking_points: tuple[Reason, ...]
    personal: tuple[Reason, ...]
    timezone: str = "Europe/Moscow"  # of the reader: meeting times are shown in it

    def local(self, moment: datetime) -> str:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return f"{moment.astimezone(zone).strftime(DATE_TIME_FORMAT)} ({zone.key})"

    @property
    def file_name(self) -> str:
        return f"briefing-{self.profile.client.external_id}-{self.profile.as_of:%Y-%m-%d}.md"


def _changes(profile: ClientProfile, since: datetime, rules: InsightRules) -> list[Reason]:
    since_day = since.date()
    out: list[Reason] = [
        Reason("new_product", {"name": h.name, "date": h.opened_on.isoformat()})
        for h in profile.holdings
        if h.opened_on is not None and h.opened_on >= since_day
    ]
    out += [
        Reason("life_event", {"text": e.description, "date": e.happened_on.isoformat()})
        for e in profile.life_events
        if e.happened_on is not None and e.happened_on >= since_day
    ]
    large = Decimal(str(rules.potential.large_incoming_rub))
    out += [
        Reason(
            "large_incoming",
            {"amount": money(t.amount_rub), "date": t.occurred_at.date().isoformat()},
        )
        for t in profile.transactions
        if t.occurred_at >= since and t.amount_rub >= large
    ]
    out += [
        Reason("new_request", {"id": r.id, "summary": r.summary})
        for r in profile.open_requests
        if r.created_at >= since
    ]
    out += [
        Reason("feedback", {"kind": f.kind, "score": f.score})
        for f in profile.feedback
        if f.created_at >= since
    ]
    out += [
        Reason("rsvp", {"event": i.event_title, "status": i.status})
        for i in profile.invitations
        if i.answered_at is not None and i.answered_at >= since
    ]
    return out


def _talking_points(profile: ClientProfile, insights: Insights) -> list[Reason]:
    today = profile.as_of.date()
    points: list[Reason] = []
    born = profile.client.birthday
    if born is not None and (days := (next_birthday(born, today) - today).days) <= 14:
        points.append(Reason("birthday", {"days": days, "date": born.strftime("%d.%m")}))
    points += [
        Reason("ask_life_event", {"text": e.description})
        for e in profile.life_events
        if e.happened_on is not None and profile.as_of.date() - e.happened_on <= RECENT_LIFE_EVENT
    ][:2]
    points += [
        Reason("request_update", {"id": r.id, "summary": r.summary}) for r in profile.open_requests
    ]
    points += [
        Reason("follow_interest", {"text": n.text}) for n in profile.notes if n.kind == "interest"
    ][:3]
    points += [
        Reason(f"offer_{o.code}", {"amount": money(o.amount_rub)})
        for o in insights.value.opportunities
    ]
    if insights.churn.level is not RiskLevel.LOW:
        points.append(Reason("ask_feedback"))
    if insights.churn.under_management_control:
        points.append(Reason("introduce_manager"))
    return points


def _personal(profile: ClientProfile) -> list[Reason]:
    out: list[Reason] = []
    d = profile.details
    if d is not None:
        if d.what_matters:
            out.append(Reason("what_matters", {"text": d.what_matters}))
        if d.decision_influencer:
            out.append(Reason("influencer", {"text": d.decision_influencer}))
        if d.opinion_leader:
            out.append(Reason("opinion_leader"))
    if profile.client.do_not_disturb:
        out.append(Reason("do_not_disturb"))
    out.append(Reason("channel", {"channel": profile.client.preferred_channel}))
    out += [
        Reason("note", {"date": n.created_at.date().isoformat(), "text": n.text})
        for n in profile.notes
        if n.kind != "interest"
    ][:5]
    return out


def build_briefing(
    profile: ClientProfile,
    insights: Insights,
    *,
    language: str,
    facts: ProductFacts | None = None,
    rules: InsightRules | None = None,
    meeting: MeetingView | None = None,
    timezone: str = "Europe/Moscow",
) -> Briefing:
    """Pure: assembles the brief from the snapshot; facts are fetched per product family."""
    rules = rules or default_rules()
    last = profile.last_meeting()
    since = last.starts_at if last is not None else profile.as_of - DEFAULT_LOOKBACK
    cache: dict[str, tuple[Fact, ...]] = {}
    offers = []
    for opportunity in insights.value.opportunities:
        if facts is not None and opportunity.family not in cache:
            cache[opportunity.family] = tuple(
                facts.facts(opportunity.family, language=language)[:MAX_FACTS_PER_OFFER]
            )
        offers.append(Offer(opportunity, cache.get(opportunity.family, ())))
    return Briefing(
        profile=profile,
        insights=insights,
        language=language,
        since=since,
        since_meeting=last is not None,
        meeting=meeting or profile.next_meeting(),
        changes=tuple(_changes(profile, since, rules)),
        offers=tuple(offers),
        talking_points=tuple(_talking_points(profile, insights)),
        personal=tuple(_personal(profile)),
        timezone=timezone,
    )


async def prepare_briefing(
    uow: UnitOfWork,
    *,
    clock: Clock,
    staff: Staff,
    client_id: int,
    language: str,
    facts: ProductFacts | None = None,
    rules: InsightRules | None = None,
    meeting: MeetingView | None = None,
) -> Briefing | None:
    """The brief if `staff` may see the client (audited as view_briefing), else None."""
    client = await open_client(
        uow, clock=clock, staff=staff, client_id=client_id, action="view_briefing"
    )
    if client is None:
        return None
    rules = rules or default_rules()
    profile = await load_profile(uow, client=client, now=clock.now())
    return build_briefing(
        profile,
        analyse(profile, rules),
        language=language,
        facts=facts,
        rules=rules,
        meeting=meeting,
        timezone=staff.timezone,
    )
