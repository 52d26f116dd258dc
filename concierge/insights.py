"""Explainable client insights: segments, churn risk, value, potential and group profitability.

Pure functions over a `ClientProfile`; thresholds come from `insight_rules.yaml`. Every result
carries `Reason`s (a text key plus the numbers behind it) so a manager sees why, in ru or en.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict

from concierge.profile import ClientProfile
from crm_adapter.dto import ProductHolding

RULES_FILE = Path(__file__).resolve().parent / "insight_rules.yaml"

DEPOSIT_TYPES = frozenset({"deposit", "savings"})
INVESTMENT_TYPES = frozenset({"brokerage", "trust", "mutual_fund", "structured", "alternative"})
INSURANCE_TYPES = frozenset({"insurance_life", "insurance_property", "insurance_travel"})
CREDIT_TYPES = frozenset({"credit_line"})
INVESTMENT_CATEGORIES = frozenset({"investment", "brokerage", "securities"})
S = TypeVar("S", bound=StrEnum)


# --- rules --------------------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FinancialRules(_Section):
    credit_dependent_debt_share: float = 0.3
    active_investor_share: float = 0.3
    active_investor_trades_90d: int = 6
    stable_keeper_deposit_share: float = 0.5
    stable_keeper_min_assets_rub: float = 5_000_000
    low_engagement_max_products: int = 1
    low_engagement_max_transactions_90d: int = 3


class ValuesRules(_Section):
    digital_channels: frozenset[str] = frozenset({"messenger", "app", "email", "web"})
    personal_channels: frozenset[str] = frozenset({"meeting", "phone", "branch"})
    min_contacts: int = 5
    technophile_digital_share: float = 0.7
    conservative_personal_share: float = 0.5
    socially_active_min_attended: int = 2
    family_life_events: frozenset[str] = frozenset(
        {"business_handover", "child_abroad", "child_education", "inheritance"}
    )


class ChurnWeights(_Section):
    transaction_drop: float = 0.4
    conversation_drop: float = 0.3
    ignored_invitations: float = 0.25
    falling_ratings: float = 0.25
    falling_nps: float = 0.3


class ChurnRules(_Section):
    recent_days: int = 90
    previous_days: int = 270
    activity_drop_ratio: float = 0.5
    min_previous_transactions: int = 6
    min_previous_contacts: int = 4
    ignored_invitation_days: int = 7
    min_ignored_invitations: int = 2
    rating_window: int = 3
    rating_drop: float = 1.0
    detractor_nps_max: int = 6
    nps_drop: int = 2
    manager_change_window_days: int = 365
    silence_after_change_days: int = 30
    manager_change_silent_score: float = 0.9
    weights: ChurnWeights = ChurnWeights()
    medium_from: float = 0.35
    high_from: float = 0.6


class PotentialRules(_Section):
    large_deposit_rub: float = 10_000_000
    investment_share_of_deposits: float = 0.3
    insurance_share_of_deposits: float = 0.05
    large_incoming_rub: float = 5_000_000
    incoming_lookback_days: int = 60
    idle_days: int = 7
    maturing_days: int = 30


class PopularityRules(_Section):
    media_weight: float = 0.75
    search_weight: float = 0.25


class InsightRules(_Section):
    """All thresholds; defaults mirror the shipped YAML so a partial file still works."""

    fx_to_rub: dict[str, float] = {"RUB": 1.0}  # noqa: RUF012 - pydantic copies defaults
    financial: FinancialRules = FinancialRules()
    values: ValuesRules = ValuesRules()
    churn: ChurnRules = ChurnRules()
    potential: PotentialRules = PotentialRules()
    popularity: PopularityRules = PopularityRules()

    @classmethod
    def from_yaml(cls, path: Path) -> InsightRules:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


@lru_cache(maxsize=1)
def default_rules() -> InsightRules:
    return InsightRules.from_yaml(RULES_FILE)


# --- results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    """Why a rule fired: `manager.reason.<code>` in the locale files, filled with `params`."""

    code: str
    params: dict[str, str | int | float] = field(default_factory=dict)


class Templates(Protocol):
    """Where reason texts come from (common.i18n.Catalog fits)."""

    def template(self, language: str, key: str) -> str: ...
    def keys(self, language: str) -> set[str]: ...


# Reason parameters holding CRM codes are shown by their localised label (param -> group).
CODED_PARAMS = {"channel": "channel", "status": "rsvp", "kind": "feedback_kind"}


def label(texts: Templates, language: str, group: str, code: str) -> str:
    """The localised name of a CRM code; an unknown code is shown as it is."""
    key = f"manager.{group}.{code}"
    return texts.template(language, key) if key in texts.keys(language) else code


def explain(reason: Reason, texts: Templates, language: str, *, escape: bool = True) -> str:
    """The reason in plain language; escaped for HTML unless rendering Markdown or a terminal."""
    params: dict[str, str | int | float] = {}
    for k, v in reason.params.items():
        group = CODED_PARAMS.get(k)
        value = label(texts, language, group, v) if group and isinstance(v, str) else v
        params[k] = html.escape(value, quote=False) if escape and isinstance(value, str) else value
    return texts.template(language, f"manager.reason.{reason.code}").format(**params)


class FinancialSegment(StrEnum):
    STABLE_KEEPER = "stable_keeper"
    ACTIVE_INVESTOR = "active_investor"
    CREDIT_DEPENDENT = "credit_dependent"
    LOW_ENGAGEMENT = "low_engagement"


class ValuesSegment(StrEnum):
    TECHNOPHILE = "technophile"
    CONSERVATIVE = "conservative"
    SOCIALLY_ACTIVE = "socially_active"
    FAMILY_ORIENTED = "family_oriented"
    UNKNOWN = "unknown"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class SegmentResult(Generic[S]):
    segment: S
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ChurnRisk:
    score: float
    level: RiskLevel
    reasons: tuple[Reason, ...]
    # Set when the rules say management must watch the relationship, not only the manager.
    under_management_control: bool = False


@dataclass(frozen=True)
class Opportunity:
    code: str  # invest_deposits | insure_family | place_idle_funds | deposit_maturing
    family: (
        str  # product family, the key of knowledge-base facts: investments | insurance | deposits
    )
    amount_rub: Decimal
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ValueSummary:
    assets_rub: Decimal
    deposits_rub: Decimal
    investments_rub: Decimal
    insurance_rub: Decimal
    credit_rub: Decimal
    product_count: int
    opportunities: tuple[Opportunity, ...]

    @property
    def potential_rub(self) -> Decimal:
        return sum((o.amount_rub for o in self.opportunities), Decimal(0))


@dataclass(frozen=True)
class GroupAggregate:
    name: str
    member_count: int
    total_profit_rub: Decimal
    own_profit_rub: Decimal
    loss_members: tuple[str, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Popularity:
    index: float
    reason: Reason


@dataclass(frozen=True)
class Insights:
    financial: SegmentResult[FinancialSegment]
    values: SegmentResult[ValuesSegment]
    churn: ChurnRisk
    value: ValueSummary
    group: GroupAggregate | None
    popularity: Popularity | None = None


# --- helpers ------------------------------------------------------------------------------
def _rub(amount: Decimal, currency: str, rules: InsightRules) -> Decimal:
    rate = rules.fx_to_rub.get(currency.upper())
    # An unknown currency is counted at par rather than dropped: understating is worse here.
    return amount * Decimal(str(rate if rate is not None else 1.0))


def _money(amount: Decimal) -> str:
    return f"{amount:,.0f}".replace(",", " ")


def _pct(share: float) -> int:
    return round(share * 100)


def _monthly_rates(
    moments: Sequence[datetime], now: datetime, rules: ChurnRules
) -> tuple[float, float, int]:
    """(recent per month, previous per month, previous count) for the two trend windows."""
    recent_start = now - timedelta(days=rules.recent_days)
    previous_start = recent_start - timedelta(days=rules.previous_days)
    recent = sum(1 for m in moments if recent_start <= m <= now)
    previous = sum(1 for m in moments if previous_start <= m < recent_start)
    return (
        recent / (rules.recent_days / 30),
        previous / (rules.previous_days / 30),
        previous,
    )


def _client_contacts(profile: ClientProfile) -> list[datetime]:
    """Moments the client reached out to us: the conversational activity."""
    return [c.occurred_at for c in profile.contacts if c.actor == "client" and c.direction == "in"]


# --- financial behaviour --------------------------------------------------------------------
def value_summary(profile: ClientProfile, rules: InsightRules) -> ValueSummary:
    active = [h for h in profile.holdings if h.status == "active"]

    def total(types: frozenset[str]) -> Decimal:
        return sum(
            (_rub(h.balance, h.currency, rules) for h in active if h.product_type in types),
            Decimal(0),
        )

    deposits, investments = total(DEPOSIT_TYPES), total(INVESTMENT_TYPES)
    insurance, credit = total(INSURANCE_TYPES), total(CREDIT_TYPES)
    assets = sum(
        (_rub(h.balance, h.currency, rules) for h in active if h.product_type not in CREDIT_TYPES),
        Decimal(0),
    )
    summary = ValueSummary(
        assets_rub=assets,
        deposits_rub=deposits,
        investments_rub=investments,
        insurance_rub=insurance,
        credit_rub=credit,
        product_count=len(active),
        opportunities=(),
    )
    return ValueSummary(
        **{**summary.__dict__, "opportunities": tuple(_opportunities(profile, summary, rules))}
    )


def financial_segment(
    profile: ClientProfile, rules: InsightRules, value: ValueSummary | None = None
) -> SegmentResult[FinancialSegment]:
    r = rules.financial
    v = value or value_summary(profile, rules)
    assets = float(v.assets_rub)
    since = profile.as_of - timedelta(days=90)
    recent = [t for t in profile.transactions if t.occurred_at >= since]
    trades = sum(1 for t in recent if t.category in INVESTMENT_CATEGORIES)

    debt_share = float(v.credit_rub) / assets if assets else (1.0 if v.credit_rub else 0.0)
    if v.credit_rub and debt_share >= r.credit_dependent_debt_share:
        return SegmentResult(
            FinancialSegment.CREDIT_DEPENDENT,
            (
                Reason(
                    "credit_share",
                    {
                        "credit": _money(v.credit_rub),
                        "share": _pct(debt_share),
                        "threshold": _pct(r.credit_dependent_debt_share),
                    },
                ),
            ),
        )
    invest_share = float(v.investments_rub) / assets if assets else 0.0
    reasons: list[Reason] = []
    if v.investments_rub and invest_share >= r.active_investor_share:
        reasons.append(
            Reason(
                "investment_share",
                {"share": _pct(invest_share), "threshold": _pct(r.active_investor_share)},
            )
        )
    if trades >= r.active_investor_trades_90d:
        reasons.append(Reason("investment_trades", {"count": trades}))
    if reasons:
        return SegmentResult(FinancialSegment.ACTIVE_INVESTOR, tuple(reasons))
    deposit_share = float(v.deposits_rub) / assets if assets else 0.0
    if deposit_share >= r.stable_keeper_deposit_share and assets >= r.stable_keeper_min_assets_rub:
        return SegmentResult(
            FinancialSegment.STABLE_KEEPER,
            (
                Reason(
                    "deposit_share",
                    {"share": _pct(deposit_share), "assets": _money(v.assets_rub)},
                ),
            ),
        )
    if (
        v.product_count <= r.low_engagement_max_products
        or len(recent) <= r.low_engagement_max_transactions_90d
    ):
        return SegmentResult(
            FinancialSegment.LOW_ENGAGEMENT,
            (
                Reason(
                    "low_engagement", {"products": v.product_count, "transactions": len(recent)}
                ),
            ),
        )
    return SegmentResult(
        FinancialSegment.STABLE_KEEPER,
        (Reason("no_dominant_pattern", {"products": v.product_count}),),
    )


# --- values and psychographics --------------------------------------------------------------
def values_segment(profile: ClientProfile, rules: InsightRules) -> SegmentResult[ValuesSegment]:
    r = rules.values
    scored: list[tuple[float, ValuesSegment, Reason]] = []
    channels = [c.channel for c in profile.contacts if c.actor == "client" and c.direction == "in"]
    channels += ["meeting" for m in profile.meetings if m.status == "held"]
    if len(channels) >= r.min_contacts:
        digital = sum(1 for c in channels if c in r.digital_channels) / len(channels)
        personal = sum(1 for c in channels if c in r.personal_channels) / len(channels)
        if digital >= r.technophile_digital_share:
            scored.append(
                (
                    digital,
                    ValuesSegment.TECHNOPHILE,
                    Reason("digital_share", {"share": _pct(digital), "count": len(channels)}),
                )
            )
        if personal >= r.conservative_personal_share:
            scored.append(
                (
                    personal,
                    ValuesSegment.CONSERVATIVE,
                    Reason("personal_share", {"share": _pct(personal), "count": len(channels)}),
                )
            )
    elif profile.client.preferred_channel in r.personal_channels:
        scored.append(
            (
                0.5,
                ValuesSegment.CONSERVATIVE,
                Reason("prefers_channel", {"channel": profile.client.preferred_channel}),
            )
        )
    attended = [
        i for i in profile.invitations if i.status == "checked_in" or i.checked_in_at is not None
    ]
    if len(attended) >= r.socially_active_min_attended:
        scored.append(
            (
                min(1.0, 0.5 + 0.1 * len(attended)),
                ValuesSegment.SOCIALLY_ACTIVE,
                Reason("events_attended", {"count": len(attended)}),
            )
        )
    family = [e for e in profile.life_events if e.kind in r.family_life_events]
    if family:
        scored.append(
            (
                min(1.0, 0.6 + 0.15 * len(family)),
                ValuesSegment.FAMILY_ORIENTED,
                Reason("family_events", {"events": ", ".join(e.description for e in family[:3])}),
            )
        )
    if not scored:
        return SegmentResult(ValuesSegment.UNKNOWN, (Reason("not_enough_data"),))
    # The strongest signal names the segment; the others stay as supporting reasons.
    scored.sort(key=lambda s: s[0], reverse=True)
    return SegmentResult(scored[0][1], tuple(s[2] for s in scored))


# --- churn risk ---------------------------------------------------------------------------
def churn_risk(profile: ClientProfile, rules: InsightRules) -> ChurnRisk:
    r = rules.churn
    w = r.weights
    now = profile.as_of
    signals: list[tuple[float, Reason]] = []

    recent, previous, previous_count = _monthly_rates(
        [t.occurred_at for t in profile.transactions], now, r
    )
    if (
        previous_count >= r.min_previous_transactions
        and recent <= previous * r.activity_drop_ratio
    ):
        drop = 1 - recent / previous
        signals.append(
            (
                w.transaction_drop * drop,
                Reason(
                    "transaction_drop",
                    {
                        "recent": round(recent, 1),
                        "previous": round(previous, 1),
                        "drop": _pct(drop),
                    },
                ),
            )
        )
    recent, previous, previous_count = _monthly_rates(_client_contacts(profile), now, r)
    if previous_count >= r.min_previous_contacts and recent <= previous * r.activity_drop_ratio:
        drop = 1 - recent / previous
        signals.append(
            (
                w.conversation_drop * drop,
                Reason(
                    "conversation_drop",
                    {
                        "recent": round(recent, 1),
                        "previous": round(previous, 1),
                        "drop": _pct(drop),
                    },
                ),
            )
        )

    cutoff = now - timedelta(days=r.ignored_invitation_days)
    ignored = [
        i
        for i in profile.invitations
        if i.status == "sent" and i.sent_at is not None and i.sent_at <= cutoff
    ]
    if len(ignored) >= r.min_ignored_invitations:
        signals.append(
            (
                w.ignored_invitations,
                Reason(
                    "ignored_invitations",
                    {
                        "count": len(ignored),
                        "events": ", ".join(i.event_title for i in ignored[:3]),
                    },
                ),
            )
        )

    ratings = [f.score for f in profile.feedback if f.kind in ("request", "event")]
    n = r.rating_window
    if len(ratings) >= n + 1:
        last = ratings[-n:]
        before = ratings[-2 * n : -n]
        last_mean, before_mean = sum(last) / len(last), sum(before) / len(before)
        if before_mean - last_mean >= r.rating_drop:
            signals.append(
                (
                    w.falling_ratings,
                    Reason(
                        "falling_ratings",
                        {"before": round(before_mean, 1), "now": round(last_mean, 1)},
                    ),
                )
            )
    nps = [f.score for f in profile.feedback if f.kind == "nps"]
    if nps:
        if len(nps) >= 2 and nps[-2] - nps[-1] >= r.nps_drop:
            signals.append(
                (w.falling_nps, Reason("falling_nps", {"before": nps[-2], "now": nps[-1]}))
            )
        elif nps[-1] <= r.detractor_nps_max:
            signals.append((w.falling_nps, Reason("detractor_nps", {"now": nps[-1]})))

    # Independent signals combine like probabilities: each adds to the risk, none past 1.
    remaining = 1.0
    for weight, _ in signals:
        remaining *= 1 - min(1.0, max(0.0, weight))
    score = 1 - remaining
    reasons = [reason for _, reason in signals]

    control = False
    silent = _silent_after_manager_change(profile, rules)
    if silent is not None:
        score = max(score, r.manager_change_silent_score)
        reasons.insert(0, silent)
        control = True

    level = (
        RiskLevel.HIGH
        if score >= r.high_from
        else RiskLevel.MEDIUM
        if score >= r.medium_from
        else RiskLevel.LOW
    )
    return ChurnRisk(round(score, 2), level, tuple(reasons), under_management_control=control)


def _silent_after_manager_change(profile: ClientProfile, rules: InsightRules) -> Reason | None:
    """The DOMAIN example: a long-standing client who went silent after a new manager came."""
    r = rules.churn
    details = profile.details
    if details is None or details.previous_manager_id is None or details.manager_since is None:
        return None
    today = profile.as_of.date()
    since_change = (today - details.manager_since).days
    if not r.silence_after_change_days <= since_change <= r.manager_change_window_days:
        return None
    # The day of the change itself still belongs to the old relationship (the farewell call).
    if any(m.date() > details.manager_since for m in _client_contacts(profile)):
        return None
    years = (today - profile.client.client_since).days // 365 if profile.client.client_since else 0
    return Reason(
        "silent_after_manager_change",
        {"days": since_change, "since": details.manager_since.isoformat(), "years": years},
    )


# --- value and next best offers -----------------------------------------------------------
def _opportunities(
    profile: ClientProfile, v: ValueSummary, rules: InsightRules
) -> list[Opportunity]:
    r = rules.potential
    found: list[Opportunity] = []
    large = Decimal(str(r.large_deposit_rub))
    if v.deposits_rub >= large and not v.investments_rub:
        found.append(
            Opportunity(
                "invest_deposits",
                "investments",
                (v.deposits_rub * Decimal(str(r.investment_share_of_deposits))).quantize(
                    Decimal(1)
                ),
                (Reason("deposits_no_investments", {"deposits": _money(v.deposits_rub)}),),
            )
        )
    if v.deposits_rub >= large and not v.insurance_rub:
        found.append(
            Opportunity(
                "insure_family",
                "insurance",
                (v.deposits_rub * Decimal(str(r.insurance_share_of_deposits))).quantize(
                    Decimal(1)
                ),
                (Reason("deposits_no_insurance", {"deposits": _money(v.deposits_rub)}),),
            )
        )
    idle = _idle_funds(profile, rules)
    if idle is not None:
        found.append(idle)
    today = profile.as_of.date()
    horizon = today + timedelta(days=r.maturing_days)
    found.extend(
        _maturing(h, today, rules)
        for h in profile.holdings
        if h.status == "active"
        and h.product_type in DEPOSIT_TYPES
        and h.matures_on is not None
        and today <= h.matures_on <= horizon
    )
    return found


def _maturing(h: ProductHolding, today: date, rules: InsightRules) -> Opportunity:
    assert h.matures_on is not None
    amount = _rub(h.balance, h.currency, rules)
    return Opportunity(
        "deposit_maturing",
        "deposits",
        amount.quantize(Decimal(1)),
        (
            Reason(
                "deposit_maturing",
                {
                    "name": h.name,
                    "date": h.matures_on.isoformat(),
                    "amount": _money(amount),
                    "days": (h.matures_on - today).days,
                },
            ),
        ),
    )


def _idle_funds(profile: ClientProfile, rules: InsightRules) -> Opportunity | None:
    """A large incoming transfer that has sat untouched: money to place before it leaves."""
    r = rules.potential
    now = profile.as_of
    threshold = Decimal(str(r.large_incoming_rub))
    window_start = now - timedelta(days=r.incoming_lookback_days)
    settled_before = now - timedelta(days=r.idle_days)
    incoming = [
        t
        for t in profile.transactions
        if t.amount_rub >= threshold and window_start <= t.occurred_at <= settled_before
    ]
    if not incoming:
        return None
    biggest = max(incoming, key=lambda t: t.amount_rub)
    arrived = biggest.occurred_at
    placed = any(
        h.opened_on is not None and h.opened_on >= arrived.date() for h in profile.holdings
    )
    spent = -sum(
        (
            t.amount_rub
            for t in profile.transactions
            if t.occurred_at > arrived and t.amount_rub < 0
        ),
        Decimal(0),
    )
    # Funds count as idle unless a product was opened since or at least half was spent.
    if placed or spent * 2 >= biggest.amount_rub:
        return None
    return Opportunity(
        "place_idle_funds",
        "investments",
        biggest.amount_rub.quantize(Decimal(1)),
        (
            Reason(
                "idle_funds",
                {
                    "amount": _money(biggest.amount_rub),
                    "date": arrived.date().isoformat(),
                    "days": (now - arrived).days,
                },
            ),
        ),
    )


# --- holding groups and public persons ------------------------------------------------------
def group_aggregate(profile: ClientProfile) -> GroupAggregate | None:
    """Profitability of the holding group as a whole: one member's loss offsets another's gain."""
    group = profile.group
    if group is None:
        return None
    total = sum((m.annual_profit_rub for m in group.members), Decimal(0))
    own = sum(
        (m.annual_profit_rub for m in group.members if m.client_id == profile.client_id),
        Decimal(0),
    )
    losses = tuple(m.name for m in group.members if m.annual_profit_rub < 0)
    reasons = [Reason("group_total", {"name": group.name, "total": _money(total)})]
    if losses and total > 0:
        reasons.append(Reason("group_offsets_losses", {"members": ", ".join(losses)}))
    return GroupAggregate(group.name, len(group.members), total, own, losses, tuple(reasons))


def popularity_index(
    mentions: float,
    searches: float,
    *,
    group_mentions: Sequence[float],
    group_searches: Sequence[float],
    rules: InsightRules | None = None,
) -> float:
    """DOMAIN's index for public persons: weighted mentions and searches vs the group average."""
    p = (rules or default_rules()).popularity
    avg_m = sum(group_mentions) / len(group_mentions) if group_mentions else 0.0
    avg_s = sum(group_searches) / len(group_searches) if group_searches else 0.0
    media = mentions / avg_m if avg_m else 0.0
    search = searches / avg_s if avg_s else 0.0
    return round(p.media_weight * media + p.search_weight * search, 3)


def public_popularity(profile: ClientProfile, rules: InsightRules) -> Popularity | None:
    """The index of a public person against all public persons with figures; None otherwise."""
    d = profile.details
    if (
        d is None
        or not d.is_public_person
        or d.media_mentions_90d is None
        or d.search_queries_90d is None
        or not profile.public_peers
    ):
        return None
    index = popularity_index(
        d.media_mentions_90d,
        d.search_queries_90d,
        group_mentions=[m for m, _ in profile.public_peers],
        group_searches=[s for _, s in profile.public_peers],
        rules=rules,
    )
    return Popularity(
        index,
        Reason(
            "popularity",
            {
                "index": index,
                "mentions": d.media_mentions_90d,
                "searches": d.search_queries_90d,
                "peers": len(profile.public_peers),
            },
        ),
    )


# --- everything at once ---------------------------------------------------------------------
def analyse(profile: ClientProfile, rules: InsightRules | None = None) -> Insights:
    rules = rules or default_rules()
    value = value_summary(profile, rules)
    return Insights(
        financial=financial_segment(profile, rules, value),
        values=values_segment(profile, rules),
        churn=churn_risk(profile, rules),
        value=value,
        group=group_aggregate(profile),
        popularity=public_popularity(profile, rules),
    )


class Flag(StrEnum):
    HIGH_RISK = "high_risk"
    OPEN_REQUESTS = "open_requests"
    BIRTHDAY = "birthday"
    DEPOSIT_MATURING = "deposit_maturing"
    UNANSWERED_INVITATION = "unanswered_invitation"


def _next_birthday(born: date, today: date) -> date:
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a common year is celebrated on 1 March
            day = date(year, 3, 1)
        if day >= today:
            return day
    raise AssertionError("unreachable")  # pragma: no cover


def flags(
    profile: ClientProfile, insights: Insights, rules: InsightRules | None = None
) -> list[Flag]:
    """What the portfolio list marks next to a client, in a fixed order."""
    rules = rules or default_rules()
    today = profile.as_of.date()
    out: list[Flag] = []
    if insights.churn.level is RiskLevel.HIGH:
        out.append(Flag.HIGH_RISK)
    if profile.open_requests:
        out.append(Flag.OPEN_REQUESTS)
    born = profile.client.birthday
    if born is not None and (_next_birthday(born, today) - today).days < 7:
        out.append(Flag.BIRTHDAY)
    if any(o.code == "deposit_maturing" for o in insights.value.opportunities):
        out.append(Flag.DEPOSIT_MATURING)
    if any(i.status == "sent" and i.event_starts_at >= profile.as_of for i in profile.invitations):
        out.append(Flag.UNANSWERED_INVITATION)
    return out
