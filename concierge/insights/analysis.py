"""Everything known about one client at once (`analyse`) and the marks of the portfolio list.

Pure functions over a `ClientProfile`; thresholds come from `insight_rules.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from concierge.insights.churn import ChurnRisk, RiskLevel, churn_risk
from concierge.insights.holding_groups import GroupAggregate, group_aggregate
from concierge.insights.popularity import Popularity, public_popularity
from concierge.insights.potential import ValueSummary, value_summary
from concierge.insights.rules import InsightRules, default_rules
from concierge.insights.segments import (
    FinancialSegment,
    SegmentResult,
    ValuesSegment,
    financial_segment,
    values_segment,
)
from concierge.profile import ClientProfile


@dataclass(frozen=True)
class Insights:
    financial: SegmentResult[FinancialSegment]
    values: SegmentResult[ValuesSegment]
    churn: ChurnRisk
    value: ValueSummary
    group: GroupAggregate | None
    popularity: Popularity | None = None


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


def next_birthday(born: date, today: date) -> date:
    """The next celebration on or after `today`."""
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
    if born is not None and (next_birthday(born, today) - today).days < 7:
        out.append(Flag.BIRTHDAY)
    if any(o.code == "deposit_maturing" for o in insights.value.opportunities):
        out.append(Flag.DEPOSIT_MATURING)
    if any(i.status == "sent" and i.event_starts_at >= profile.as_of for i in profile.invitations):
        out.append(Flag.UNANSWERED_INVITATION)
    return out
