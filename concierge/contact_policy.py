"""The bank's contact policy: whether, and when, one proactive message may reach a person.

Pure: every fact the decision needs is passed in, including the current time, so the rules
are tested without a database, a clock or a messenger. Callers (the outbox notifier) gather
the facts, ask `ContactPolicy.decide` and record the decision.

Decisions, in the order they are checked:

1. Same occasion already queued or sent -> suppressed (``duplicate_occasion``).
2. Staff: delivered at once. Managers and the duty desk must hear of a client's request at
   night too; their own working hours are handled by escalation to a backup, not here.
3. Client without an active personal-data consent (152-FZ) -> suppressed (``no_consent``),
   service or not: without consent the bank may not process the data needed to write.
4. Marketing to a client who refused marketing -> suppressed (``marketing_opt_out``).
5. Marketing to a client flagged "do not disturb" -> suppressed (``do_not_disturb``). The flag
   has no end date, so deferring would hoard offers that go stale; service messages still go.
6. Marketing over the cap (N per rolling 7 days) -> deferred to when a slot frees
   (``frequency_cap``); service messages bypass the cap.
7. Inside the client's quiet hours, in the client's own time zone -> deferred to the end of
   the quiet hours (``quiet_hours``), for service and marketing alike: nothing is dropped.
8. Otherwise -> send (at the requested time, e.g. a rule's preferred 10:00 local).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MARKETING_WINDOW = timedelta(days=7)


class Outcome(StrEnum):
    SEND = "send"
    DEFER = "defer"
    SUPPRESS = "suppress"


class Audience(StrEnum):
    CLIENT = "client"
    STAFF = "staff"


@dataclass(frozen=True)
class ContactFacts:
    """What is known about the recipient and the message at decision time."""

    audience: Audience
    marketing: bool
    already_queued: bool = False
    # Client-only facts; ignored for staff.
    consent_active: bool = False
    marketing_opt_out: bool = False
    do_not_disturb: bool = False
    timezone: str = "Europe/Moscow"
    quiet_start: time | None = None
    quiet_end: time | None = None
    # When the client's live marketing messages went or are due (any order).
    marketing_times: Sequence[datetime] = ()


@dataclass(frozen=True)
class ContactDecision:
    outcome: Outcome
    reason: str
    # When the message may go: the requested time, or later when deferred; None if suppressed.
    not_before: datetime | None

    @property
    def allowed(self) -> bool:
        return self.outcome is not Outcome.SUPPRESS


class ContactPolicy:
    """Applies the contact policy to one message; configured by the marketing cap."""

    def __init__(self, *, marketing_per_week: int = 2) -> None:
        self.marketing_per_week = marketing_per_week

    def decide(
        self, facts: ContactFacts, *, now: datetime, requested_at: datetime | None = None
    ) -> ContactDecision:
        """The decision for a message asked to go at `requested_at` (default: now)."""
        _require_aware(now)
        wanted = max(now, requested_at) if requested_at else now
        if facts.already_queued:
            return ContactDecision(Outcome.SUPPRESS, "duplicate_occasion", None)
        if facts.audience is Audience.STAFF:
            return _send_at(wanted, now, "staff")
        if not facts.consent_active:
            return ContactDecision(Outcome.SUPPRESS, "no_consent", None)
        if facts.marketing and facts.marketing_opt_out:
            return ContactDecision(Outcome.SUPPRESS, "marketing_opt_out", None)
        if facts.marketing and facts.do_not_disturb:
            return ContactDecision(Outcome.SUPPRESS, "do_not_disturb", None)

        zone = ZoneInfo(facts.timezone)
        at, reason = wanted, ""
        # Moving past quiet hours can land in a fuller cap window and vice versa, so both
        # rules are applied until neither moves the time; the first rule that moved it is
        # the reason recorded.
        for _ in range(8):
            moved = False
            if facts.marketing:
                capped = self._first_free_slot(at, facts.marketing_times)
                if capped > at:
                    at, reason, moved = capped, reason or "frequency_cap", True
            after_quiet = next_outside_quiet(at, zone, facts.quiet_start, facts.quiet_end)
            if after_quiet > at:
                at, reason, moved = after_quiet, reason or "quiet_hours", True
            if not moved:
                break
        return _send_at(at, now, reason or "allowed")

    def _first_free_slot(self, at: datetime, sent: Sequence[datetime]) -> datetime:
        """The earliest moment >= `at` with fewer than the cap in the preceding 7 days."""
        if self.marketing_per_week <= 0:
            return datetime.max.replace(tzinfo=UTC)
        times = sorted(sent)
        candidates = [at] + [t + MARKETING_WINDOW for t in times if t + MARKETING_WINDOW > at]
        for candidate in sorted(candidates):
            in_window = sum(1 for t in times if candidate - MARKETING_WINDOW < t <= candidate)
            if in_window < self.marketing_per_week:
                return candidate
        return max(candidates)  # pragma: no cover - the last candidate always has room


def _send_at(at: datetime, now: datetime, reason: str) -> ContactDecision:
    # A time the sender asked for (a rule's 10:00 local) is a scheduled send, not a deferral.
    outcome = Outcome.SEND if reason in {"allowed", "staff"} else Outcome.DEFER
    return ContactDecision(outcome, reason, at)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("the contact policy needs timezone-aware times")


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """Whether a local wall-clock time falls in [start, end); the window may cross midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_outside_quiet(
    moment: datetime, zone: ZoneInfo, start: time | None, end: time | None
) -> datetime:
    """`moment` itself when allowed, else the end of the quiet hours, as a UTC instant.

    The end is built as a wall-clock time on the right local date and only then converted,
    so a DST change during the night shifts the UTC instant, not the client's morning. An end
    time that does not exist that day (skipped by a spring-forward) resolves to the moment
    just after the gap.
    """
    local = moment.astimezone(zone)
    if not in_quiet_hours(local.time(), start, end):
        return moment
    assert end is not None  # in_quiet_hours is False without both bounds
    end_date: date = local.date()
    if local.time() >= end:  # the evening part of a window that crosses midnight
        end_date += timedelta(days=1)
    return wall_clock(end_date, end, zone)


def wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in `zone` shows `at` on `day`."""
    # fold=0 reads a wall time skipped by a spring-forward with the pre-change offset, which
    # lands just past the gap (02:30 on a New York spring-forward night becomes 03:30 EDT).
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_local_time(moment: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The next instant >= `moment` when the wall clock in `zone` shows `at` (DST-correct)."""
    local = moment.astimezone(zone)
    candidate = wall_clock(local.date(), at, zone)
    if candidate < moment:
        candidate = wall_clock(local.date() + timedelta(days=1), at, zone)
    return candidate
