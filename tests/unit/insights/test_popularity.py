"""The popularity index of public persons against their peers."""

from __future__ import annotations

from concierge.insights.analysis import analyse
from concierge.insights.popularity import popularity_index
from concierge.insights.rules import default_rules
from tests.unit.insight_fixtures import details, profile

RULES = default_rules()


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
