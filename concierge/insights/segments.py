"""Client segments: financial behaviour (keeper, investor, credit-dependent, low engagement)
and values (technophile, conservative, socially active, family-oriented)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from concierge.insights.potential import ValueSummary, value_summary
from concierge.insights.reasons import Reason, money, percent
from concierge.insights.rules import InsightRules
from concierge.profile import ClientProfile

INVESTMENT_CATEGORIES = frozenset({"investment", "brokerage", "securities"})
S = TypeVar("S", bound=StrEnum)


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


@dataclass(frozen=True)
class SegmentResult(Generic[S]):
    segment: S
    reasons: tuple[Reason, ...]


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
                        "credit": money(v.credit_rub),
                        "share": percent(debt_share),
                        "threshold": percent(r.credit_dependent_debt_share),
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
                {"share": percent(invest_share), "threshold": percent(r.active_investor_share)},
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
                    {"share": percent(deposit_share), "assets": money(v.assets_rub)},
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
                    Reason("digital_share", {"share": percent(digital), "count": len(channels)}),
                )
            )
        if personal >= r.conservative_personal_share:
            scored.append(
                (
                    personal,
                    ValuesSegment.CONSERVATIVE,
                    Reason("personal_share", {"share": percent(personal), "count": len(channels)}),
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
