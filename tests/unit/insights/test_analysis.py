"""Everything at once: the portfolio flags, and every reason reads as plain language."""

from __future__ import annotations

import pytest

from common.i18n import Catalog
from concierge.insights.analysis import Flag, analyse, flags
from concierge.insights.reasons import explain
from concierge.insights.rules import default_rules
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
