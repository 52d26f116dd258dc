"""Flood control: a burst is allowed, then one polite warning per window."""

from __future__ import annotations

from bot.middlewares import Throttle


def test_burst_then_single_warning_then_recovery() -> None:
    throttle = Throttle(burst=3, window_seconds=10)
    assert [throttle.allow(1, now=t) for t in (0, 1, 2)] == [(True, False)] * 3
    assert throttle.allow(1, now=3) == (False, True)
    assert throttle.allow(1, now=4) == (False, False)
    # Another person is not affected.
    assert throttle.allow(2, now=4) == (True, False)
    # Once the window has passed the user may write again.
    assert throttle.allow(1, now=10.5) == (True, False)
