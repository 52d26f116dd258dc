"""Segments on crafted clients: every financial behaviour and every values segment."""

from __future__ import annotations

from concierge.insights.rules import default_rules
from concierge.insights.segments import (
    FinancialSegment,
    ValuesSegment,
    financial_segment,
    values_segment,
)
from tests.unit.insight_fixtures import (
    codes,
    contact,
    holding,
    invitation,
    life_event,
    profile,
    tx,
)

RULES = default_rules()


def test_credit_dependent_when_credit_lines_weigh_on_assets() -> None:
    p = profile(holdings=[holding("deposit", 2_000_000), holding("credit_line", 1_500_000)])
    result = financial_segment(p, RULES)
    assert result.segment is FinancialSegment.CREDIT_DEPENDENT
    assert result.reasons[0].params["share"] == 75


def test_active_investor_by_share_of_investments() -> None:
    p = profile(holdings=[holding("deposit", 6_000_000), holding("brokerage", 4_000_000)])
    result = financial_segment(p, RULES)
    assert result.segment is FinancialSegment.ACTIVE_INVESTOR
    assert codes(result.reasons) == {"investment_share"}


def test_active_investor_by_trading_activity() -> None:
    trades = [tx(d, -100_000, "investment") for d in range(1, 80, 10)]
    p = profile(
        holdings=[holding("deposit", 9_000_000), holding("brokerage", 100_000)],
        transactions=trades,
    )
    result = financial_segment(p, RULES)
    assert result.segment is FinancialSegment.ACTIVE_INVESTOR
    assert "investment_trades" in codes(result.reasons)


def test_stable_keeper_holds_large_deposits() -> None:
    p = profile(
        holdings=[holding("deposit", 20_000_000), holding("premium_card", 300_000)],
        transactions=[tx(d) for d in range(1, 90, 5)],
    )
    assert financial_segment(p, RULES).segment is FinancialSegment.STABLE_KEEPER


def test_low_engagement_with_one_small_product_and_no_activity() -> None:
    p = profile(holdings=[holding("premium_card", 150_000)])
    result = financial_segment(p, RULES)
    assert result.segment is FinancialSegment.LOW_ENGAGEMENT
    assert result.reasons[0].params == {"products": 1, "transactions": 0}


def test_technophile_writes_in_the_messenger() -> None:
    p = profile(contacts=[contact(d, "messenger") for d in range(1, 40, 4)])
    result = values_segment(p, RULES)
    assert result.segment is ValuesSegment.TECHNOPHILE
    assert result.reasons[0].params["share"] == 100


def test_conservative_prefers_meetings_and_calls() -> None:
    p = profile(
        contacts=[contact(d, "phone") for d in range(1, 30, 5)] + [contact(2, "messenger")]
    )
    assert values_segment(p, RULES).segment is ValuesSegment.CONSERVATIVE


def test_socially_active_attends_events() -> None:
    attended = [
        invitation(f"Вечер {n}", "checked_in", checked_in_at=None, sent_days_ago=100)
        for n in range(3)
    ]
    result = values_segment(profile(invitations=attended), RULES)
    assert result.segment is ValuesSegment.SOCIALLY_ACTIVE
    assert result.reasons[0].params["count"] == 3


def test_family_oriented_from_life_events() -> None:
    events = [
        life_event("child_abroad", "сын учится в Лондоне"),
        life_event("business_handover", "планирует передать бизнес дочери"),
    ]
    result = values_segment(profile(life_events=events), RULES)
    assert result.segment is ValuesSegment.FAMILY_ORIENTED
    assert "Лондоне" in str(result.reasons[0].params["events"])


def test_values_unknown_without_history() -> None:
    assert values_segment(profile(), RULES).segment is ValuesSegment.UNKNOWN
