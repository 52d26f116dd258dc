"""Churn risk on crafted clients: every signal, the silence after a manager change, the score."""

from __future__ import annotations

from concierge.insights.churn import RiskLevel, churn_risk
from concierge.insights.rules import default_rules
from tests.unit.insight_fixtures import codes, contact, details, feedback, invitation, profile, tx

RULES = default_rules()


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
