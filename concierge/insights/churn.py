"""Churn risk: falling activity, ignored invitations, falling ratings and the silence after a
change of manager, combined into one score with its reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from concierge.insights.reasons import Reason, percent
from concierge.insights.rules import ChurnRules, InsightRules
from concierge.profile import ClientProfile


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class ChurnRisk:
    score: float
    level: RiskLevel
    reasons: tuple[Reason, ...]
    # Set when the rules say management must watch the relationship, not only the manager.
    under_management_control: bool = False


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


def _activity_drop(
    code: str,
    moments: Sequence[datetime],
    now: datetime,
    rules: ChurnRules,
    *,
    min_previous: int,
    weight: float,
) -> tuple[float, Reason] | None:
    """A weighted signal when activity fell by the drop ratio against a busy enough past."""
    recent, previous, previous_count = _monthly_rates(moments, now, rules)
    if previous_count < min_previous or recent > previous * rules.activity_drop_ratio:
        return None
    drop = 1 - recent / previous
    return (
        weight * drop,
        Reason(
            code,
            {"recent": round(recent, 1), "previous": round(previous, 1), "drop": percent(drop)},
        ),
    )


def _client_contacts(profile: ClientProfile) -> list[datetime]:
    """Moments the client reached out to us: the conversational activity."""
    return [c.occurred_at for c in profile.contacts if c.actor == "client" and c.direction == "in"]


def churn_risk(profile: ClientProfile, rules: InsightRules) -> ChurnRisk:
    r = rules.churn
    w = r.weights
    now = profile.as_of
    drops = (
        _activity_drop(
            "transaction_drop",
            [t.occurred_at for t in profile.transactions],
            now,
            r,
            min_previous=r.min_previous_transactions,
            weight=w.transaction_drop,
        ),
        _activity_drop(
            "conversation_drop",
            _client_contacts(profile),
            now,
            r,
            min_previous=r.min_previous_contacts,
            weight=w.conversation_drop,
        ),
    )
    signals: list[tuple[float, Reason]] = [d for d in drops if d is not None]

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
