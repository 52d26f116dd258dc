"""Insight rules on crafted clients: every segment, every churn reason, potential, groups."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from common.i18n import Catalog
from concierge.insights import (
    FinancialSegment,
    Flag,
    InsightRules,
    Reason,
    RiskLevel,
    ValuesSegment,
    analyse,
    churn_risk,
    default_rules,
    explain,
    financial_segment,
    flags,
    group_aggregate,
    popularity_index,
    value_summary,
    values_segment,
)
from crm_adapter.workspace import HoldingGroupView, HoldingMemberView
from tests.unit.insight_fixtures import (
    contact,
    details,
    feedback,
    holding,
    invitation,
    life_event,
    make_client,
    profile,
    request,
    tx,
)

RULES = default_rules()


def codes(reasons: tuple[Reason, ...]) -> set[str]:
    return {r.code for r in reasons}


# --- financial behaviour ---------------------------------------------------------------------
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


def test_foreign_currency_counts_in_roubles() -> None:
    p = profile(holdings=[holding("deposit", 100_000, currency="USD")])
    assert value_summary(p, RULES).deposits_rub == Decimal(100_000 * 90)


# --- values ------------------------------------------------------------------------------
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


# --- churn ------------------------------------------------------------------------------------
def test_calm_client_has_low_risk_and_no_reasons() -> None:
    steady = [tx(d) for d in range(1, 360, 7)]
    risk = churn_risk(
        profile(transactions=steady, contacts=[contact(d) for d in range(1, 360, 20)]), RULES
    )
    assert risk.level is RiskLevel.LOW and risk.reasons == () and risk.score == 0


def test_drop_in_transactions() -> None:
    history = [tx(d) for d in range(91, 360, 5)] + [tx(10)]
    risk = churn_risk(profile(transactions=history), RULES)
    assert codes(risk.reasons) == {"transaction_drop"}
    assert float(risk.reasons[0].params["drop"]) > 80
    assert risk.score > 0.3


def test_drop_in_conversations() -> None:
    chats = [contact(d) for d in range(91, 360, 10)]
    risk = churn_risk(profile(contacts=chats), RULES)
    assert codes(risk.reasons) == {"conversation_drop"}


def test_ignored_invitations() -> None:
    invitations = [invitation("Ужин с шефом", "sent"), invitation("Лекция экономиста", "sent")]
    risk = churn_risk(profile(invitations=invitations), RULES)
    assert codes(risk.reasons) == {"ignored_invitations"}
    assert risk.reasons[0].params["count"] == 2


def test_fresh_invitation_is_not_ignored_yet() -> None:
    invitations = [
        invitation("A", "sent", sent_days_ago=2),
        invitation("B", "sent", sent_days_ago=3),
    ]
    assert churn_risk(profile(invitations=invitations), RULES).reasons == ()


def test_falling_ratings() -> None:
    ratings = [
        feedback(d, s) for d, s in ((300, 5), (250, 5), (200, 5), (100, 3), (50, 3), (10, 2))
    ]
    risk = churn_risk(profile(feedback=ratings), RULES)
    assert codes(risk.reasons) == {"falling_ratings"}
    assert risk.reasons[0].params == {"before": 5.0, "now": 2.7}


def test_falling_nps_and_detractor() -> None:
    falling = churn_risk(
        profile(feedback=[feedback(200, 9, "nps"), feedback(10, 6, "nps")]), RULES
    )
    assert codes(falling.reasons) == {"falling_nps"}
    detractor = churn_risk(profile(feedback=[feedback(10, 4, "nps")]), RULES)
    assert codes(detractor.reasons) == {"detractor_nps"}


def test_silent_after_manager_change_is_high_risk_under_management_control() -> None:
    old_chats = [contact(d) for d in range(120, 360, 30)]
    p = profile(
        details=details(
            previous_manager_id=11, manager_since=(NOW_DATE := old_chats[0].occurred_at.date())
        ),
        contacts=old_chats,
    )
    risk = churn_risk(p, RULES)
    assert risk.level is RiskLevel.HIGH
    assert risk.under_management_control
    assert risk.reasons[0].code == "silent_after_manager_change"
    assert risk.reasons[0].params["since"] == NOW_DATE.isoformat()
    assert risk.reasons[0].params["years"] == 14


def test_client_who_answered_the_new_manager_is_not_flagged() -> None:
    p = profile(
        details=details(previous_manager_id=11, manager_since=contact(60).occurred_at.date()),
        contacts=[contact(30)],
    )
    assert not churn_risk(p, RULES).under_management_control


def test_several_signals_combine_but_stay_below_one() -> None:
    p = profile(
        transactions=[tx(d) for d in range(91, 360, 5)],
        contacts=[contact(d) for d in range(91, 360, 10)],
        invitations=[invitation("A", "sent"), invitation("B", "sent")],
        feedback=[feedback(10, 3, "nps")],
    )
    risk = churn_risk(p, RULES)
    assert risk.level is RiskLevel.HIGH and 0.6 < risk.score < 1
    assert len(risk.reasons) == 4


# --- value and potential ------------------------------------------------------------------------
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


def test_holding_group_profit_assessed_as_a_whole() -> None:
    def member(
        name: str, kind: str, profit: int, client_id: int | None = None
    ) -> HoldingMemberView:
        return HoldingMemberView(
            name=name,
            member_kind=kind,
            relation=None,
            client_id=client_id,
            annual_profit_rub=Decimal(profit),
        )

    group = HoldingGroupView(
        id=1,
        name="Волков Групп",
        members=(
            member("ООО Волков Логистик", "company", -2_000_000),
            member("АО Волков Строй", "company", 9_000_000),
            member("Волков И. П.", "person", 1_500_000, client_id=1),
        ),
    )
    agg = group_aggregate(profile(group=group))
    assert agg is not None
    assert agg.total_profit_rub == Decimal(8_500_000)
    assert agg.own_profit_rub == Decimal(1_500_000)
    assert agg.loss_members == ("ООО Волков Логистик",)
    assert codes(agg.reasons) == {"group_total", "group_offsets_losses"}
    assert group_aggregate(profile()) is None


def test_popularity_index_formula() -> None:
    # 0.75 x (30 / 20) + 0.25 x (100 / 200)
    assert popularity_index(30, 100, group_mentions=[10, 30], group_searches=[100, 300]) == 1.25
    assert popularity_index(5, 5, group_mentions=[], group_searches=[]) == 0


def test_popularity_of_a_public_person_against_peers() -> None:
    person = details(is_public_person=True, media_mentions_90d=30, search_queries_90d=100)
    p = profile(details=person, public_peers=[(30, 100), (10, 300)])
    popularity = analyse(p, RULES).popularity
    assert popularity is not None and popularity.index == 1.25
    assert popularity.reason.params["peers"] == 2
    assert analyse(profile(details=details(is_public_person=True)), RULES).popularity is None


# --- rules and texts -----------------------------------------------------------------------
def test_thresholds_are_configurable_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("potential:\n  large_deposit_rub: 50000000\n", encoding="utf-8")
    rules = InsightRules.from_yaml(path)
    assert (
        value_summary(profile(holdings=[holding("deposit", 30_000_000)]), rules).opportunities
        == ()
    )
    assert rules.churn.high_from == 0.6  # untouched sections keep their defaults


def test_flags_for_the_portfolio_list() -> None:
    p = profile(
        client=make_client(birthday=tx(-3).occurred_at.date().replace(year=1975)),
        open_requests=[request("Доставка наличных")],
        invitations=[invitation("Турнир", "sent", sent_days_ago=1)],
        holdings=[holding("deposit", 1_000_000, matures_on=tx(-5).occurred_at.date())],
        details=details(previous_manager_id=11, manager_since=tx(100).occurred_at.date()),
    )
    assert flags(p, analyse(p, RULES), RULES) == list(Flag)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_reason_reads_as_plain_language(language: str) -> None:
    catalog = Catalog.load()
    crafted = [
        profile(holdings=[holding("deposit", 2_000_000), holding("credit_line", 1_500_000)]),
        profile(holdings=[holding("deposit", 30_000_000)], transactions=[tx(20, 12_000_000)]),
        profile(
            transactions=[tx(d) for d in range(91, 360, 5)],
            contacts=[contact(d) for d in range(91, 360, 10)],
            invitations=[invitation("A", "sent"), invitation("B", "sent")],
            feedback=[feedback(200, 9, "nps"), feedback(10, 3, "nps")],
            life_events=[life_event("child_abroad", "дочь <учится> в Цюрихе")],
        ),
        profile(
            details=details(is_public_person=True, media_mentions_90d=3, search_queries_90d=9),
            public_peers=[(3, 9), (5, 5)],
        ),
    ]
    seen = 0
    for p in crafted:
        i = analyse(p, RULES)
        reasons = (*i.financial.reasons, *i.values.reasons, *i.churn.reasons)
        reasons += tuple(r for o in i.value.opportunities for r in o.reasons)
        reasons += (i.popularity.reason,) if i.popularity else ()
        for reason in reasons:
            text = explain(reason, catalog, language)
            assert "manager.reason" not in text and "{" not in text
            assert "<учится>" not in text  # values from the CRM are escaped for HTML
            seen += 1
    assert seen >= 10
