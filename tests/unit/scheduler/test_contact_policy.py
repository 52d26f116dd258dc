"""Contact policy decisions: consent, opt-out, do-not-disturb, cap, quiet hours, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from concierge.contact_policy import (
    Audience,
    ContactFacts,
    ContactPolicy,
    Outcome,
    in_quiet_hours,
    next_local_time,
    next_outside_quiet,
)

MSK = ZoneInfo("Europe/Moscow")
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
policy = ContactPolicy(marketing_per_week=2)


def client(**overrides: object) -> ContactFacts:
    values: dict[str, object] = {
        "audience": Audience.CLIENT,
        "marketing": False,
        "consent_active": True,
        "timezone": "Europe/Moscow",
        "quiet_start": time(22, 0),
        "quiet_end": time(9, 0),
    }
    values.update(overrides)
    return ContactFacts(**values)  # type: ignore[arg-type]


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def wall(moment: datetime, zone: ZoneInfo) -> tuple[int, ...]:
    """Local (year, month, day, hour, minute) as a person in `zone` would read the clock."""
    return tuple(moment.astimezone(zone).timetuple()[:5])


def test_service_message_in_daytime_goes_now() -> None:
    decision = policy.decide(client(), now=msk(15, 12))
    assert (decision.outcome, decision.reason, decision.not_before) == (
        Outcome.SEND,
        "allowed",
        msk(15, 12),
    )


@pytest.mark.parametrize("marketing", [False, True])
def test_no_consent_suppresses_even_service(marketing: bool) -> None:
    decision = policy.decide(client(consent_active=False, marketing=marketing), now=msk(15, 12))
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESS, "no_consent")


def test_marketing_opt_out_suppresses_marketing_only() -> None:
    facts = client(marketing_opt_out=True)
    assert policy.decide(facts, now=msk(15, 12)).outcome is Outcome.SEND
    marketing = policy.decide(client(marketing_opt_out=True, marketing=True), now=msk(15, 12))
    assert (marketing.outcome, marketing.reason) == (Outcome.SUPPRESS, "marketing_opt_out")


def test_do_not_disturb_suppresses_marketing_but_service_still_goes() -> None:
    assert policy.decide(client(do_not_disturb=True), now=msk(15, 12)).outcome is Outcome.SEND
    decision = policy.decide(client(do_not_disturb=True, marketing=True), now=msk(15, 12))
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESS, "do_not_disturb")


def test_duplicate_occasion_is_suppressed() -> None:
    decision = policy.decide(client(already_queued=True), now=msk(15, 12))
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESS, "duplicate_occasion")


def test_marketing_cap_defers_to_when_a_slot_frees() -> None:
    sent = [msk(10, 12), msk(13, 12)]
    decision = policy.decide(client(marketing=True, marketing_times=sent), now=msk(15, 12))
    assert (decision.outcome, decision.reason) == (Outcome.DEFER, "frequency_cap")
    assert decision.not_before == msk(17, 12)  # seven days after the older one


def test_marketing_cap_counts_a_rolling_window_not_a_calendar_week() -> None:
    sent = [msk(7, 12), msk(13, 12)]  # the first is more than 7 days back
    assert (
        policy.decide(client(marketing=True, marketing_times=sent), now=msk(15, 12)).outcome
        is Outcome.SEND
    )


def test_service_messages_bypass_the_cap() -> None:
    sent = [msk(14, 12), msk(15, 11)]
    assert policy.decide(client(marketing_times=sent), now=msk(15, 12)).outcome is Outcome.SEND


def test_cap_deferral_that_lands_in_quiet_hours_moves_to_the_morning() -> None:
    sent = [msk(10, 23, 30), msk(13, 12)]  # a slot frees at 23:30, inside quiet hours
    decision = policy.decide(client(marketing=True, marketing_times=sent), now=msk(15, 12))
    assert decision.not_before == msk(18, 9)
    assert decision.reason == "frequency_cap"


def test_quiet_hours_crossing_midnight_defer_evening_to_next_morning() -> None:
    decision = policy.decide(client(), now=msk(15, 23))
    assert (decision.outcome, decision.reason, decision.not_before) == (
        Outcome.DEFER,
        "quiet_hours",
        msk(16, 9),
    )


def test_quiet_hours_crossing_midnight_defer_early_morning_to_same_morning() -> None:
    assert policy.decide(client(), now=msk(16, 2)).not_before == msk(16, 9)


def test_quiet_hours_within_one_day() -> None:
    facts = client(quiet_start=time(13, 0), quiet_end=time(15, 0))
    assert policy.decide(facts, now=msk(15, 14)).not_before == msk(15, 15)
    assert policy.decide(facts, now=msk(15, 15)).outcome is Outcome.SEND


def test_quiet_hours_use_the_client_time_zone() -> None:
    # 12:00 in Moscow is 04:00 in New York: inside a New Yorker's quiet hours.
    decision = policy.decide(client(timezone="America/New_York"), now=msk(15, 12))
    assert decision.not_before == datetime(2026, 6, 15, 9, 0, tzinfo=NY).astimezone(UTC)


def test_requested_time_is_kept_when_allowed() -> None:
    decision = policy.decide(client(), now=msk(15, 1), requested_at=msk(15, 10))
    assert (decision.outcome, decision.not_before) == (Outcome.SEND, msk(15, 10))


def test_staff_skip_consent_and_quiet_hours() -> None:
    facts = ContactFacts(audience=Audience.STAFF, marketing=False)
    decision = policy.decide(facts, now=msk(16, 3))
    assert (decision.outcome, decision.not_before) == (Outcome.SEND, msk(16, 3))


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.decide(client(), now=datetime(2026, 6, 15, 12))  # noqa: DTZ001 - on purpose


def test_no_quiet_hours_when_start_equals_end() -> None:
    assert not in_quiet_hours(time(3, 0), time(0, 0), time(0, 0))


def test_quiet_end_after_spring_forward_is_the_local_morning() -> None:
    # New York springs forward on 2026-03-08 at 02:00: the night is an hour shorter in UTC.
    night = datetime(2026, 3, 7, 23, 0, tzinfo=NY).astimezone(UTC)
    end = next_outside_quiet(night, NY, time(22, 0), time(9, 0))
    assert wall(end, NY) == (2026, 3, 8, 9, 0)
    assert end - night == timedelta(hours=9)  # 10 wall-clock hours minus the skipped one


def test_quiet_end_after_fall_back_is_the_local_morning() -> None:
    # London falls back on 2026-10-25 at 02:00: the night is an hour longer in UTC.
    night = datetime(2026, 10, 24, 23, 0, tzinfo=LONDON).astimezone(UTC)
    end = next_outside_quiet(night, LONDON, time(22, 0), time(9, 0))
    assert wall(end, LONDON) == (2026, 10, 25, 9, 0)
    assert end - night == timedelta(hours=11)


def test_quiet_end_inside_the_dst_gap_resolves_past_the_gap() -> None:
    night = datetime(2026, 3, 8, 1, 0, tzinfo=NY).astimezone(UTC)
    end = next_outside_quiet(night, NY, time(0, 0), time(2, 30))  # 02:30 does not exist
    assert wall(end, NY) == (2026, 3, 8, 3, 30)


def test_next_local_time_across_dst() -> None:
    before = datetime(2026, 3, 7, 12, 0, tzinfo=NY).astimezone(UTC)
    ten = next_local_time(before, NY, time(10, 0))
    assert wall(ten, NY) == (2026, 3, 8, 10, 0)
    assert ten.astimezone(NY).utcoffset() == timedelta(hours=-4)
