"""Public persons: DOMAIN's popularity index against the other public persons with figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from concierge.insights.reasons import Reason
from concierge.insights.rules import InsightRules, default_rules
from concierge.profile import ClientProfile


@dataclass(frozen=True)
class Popularity:
    index: float
    reason: Reason


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
