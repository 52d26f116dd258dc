"""Value and potential on crafted clients: cross-sell, idle funds, maturing deposits."""

from __future__ import annotations

from decimal import Decimal

from concierge.insights.potential import value_summary
from concierge.insights.rules import default_rules
from tests.unit.insight_fixtures import holding, profile, tx

RULES = default_rules()


def test_foreign_currency_counts_in_roubles() -> None:
    p = profile(holdings=[holding("deposit", 100_000, currency="USD")])
    assert value_summary(p, RULES).deposits_rub == Decimal(100_000 * 90)


def test_large_deposits_without_investments_or_insurance() -> None:
    v = value_summary(profile(holdings=[holding("deposit", 30_000_000)]), RULES)
    offers = {o.code: o for o in v.opportunities}
    assert set(offers) == {"invest_deposits", "insure_family"}
    assert offers["invest_deposits"].amount_rub == Decimal(9_000_000)
    assert offers["invest_deposits"].family == "investments"
    assert offers["insure_family"].family == "insurance"
    assert v.potential_rub == Decimal(10_500_000)


def test_no_cross_sell_when_already_invested_and_insured() -> None:
    holdings = [
        holding("deposit", 30_000_000),
        holding("trust", 5_000_000),
        holding("insurance_life", 1),
    ]
    assert value_summary(profile(holdings=holdings), RULES).opportunities == ()


def test_idle_funds_after_large_incoming_transfer() -> None:
    p = profile(
        holdings=[holding("premium_card", 100_000)], transactions=[tx(20, 12_000_000, "transfer")]
    )
    offers = value_summary(p, RULES).opportunities
    assert [o.code for o in offers] == ["place_idle_funds"]
    assert offers[0].reasons[0].params["days"] == 20


def test_funds_placed_or_spent_are_not_idle() -> None:
    placed = profile(
        holdings=[holding("brokerage", 1_000_000, opened_on=tx(10).occurred_at.date())],
        transactions=[tx(20, 12_000_000, "transfer")],
    )
    spent = profile(transactions=[tx(20, 12_000_000, "transfer"), tx(15, -9_000_000)])
    fresh = profile(transactions=[tx(2, 12_000_000, "transfer")])
    for p in (placed, spent, fresh):
        assert all(o.code != "place_idle_funds" for o in value_summary(p, RULES).opportunities)


def test_deposit_maturing_within_a_month() -> None:
    soon = holding(
        "deposit", 3_000_000, name="Вклад «Капитал»", matures_on=tx(-12).occurred_at.date()
    )
    later = holding("deposit", 3_000_000, matures_on=tx(-90).occurred_at.date())
    offers = value_summary(profile(holdings=[soon, later]), RULES).opportunities
    assert [(o.code, o.reasons[0].params["days"]) for o in offers] == [("deposit_maturing", 12)]
