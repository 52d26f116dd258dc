"""Flood control and duplicate claims in memory: a burst is allowed, then one polite warning."""

from __future__ import annotations

from bot.replica_state import MemoryThrottle, MemoryUpdateDedupe


def test_burst_then_single_warning_then_recovery() -> None:
    throttle = MemoryThrottle(burst=3, window_seconds=10)
    assert [throttle.allow_at(1, t) for t in (0, 1, 2)] == [(True, False)] * 3
    assert throttle.allow_at(1, 3) == (False, True)
    assert throttle.allow_at(1, 4) == (False, False)
    # Another person is not affected.
    assert throttle.allow_at(2, 4) == (True, False)
    # Once the window has passed the user may write again.
    assert throttle.allow_at(1, 10.5) == (True, False)


async def test_async_allow_uses_the_same_window() -> None:
    throttle = MemoryThrottle(burst=1, window_seconds=60)
    assert await throttle.allow(7) == (True, False)
    assert await throttle.allow(7) == (False, True)


async def test_memory_dedupe_claims_once_and_releases() -> None:
    dedupe = MemoryUpdateDedupe()
    assert await dedupe.claim(1)
    assert not await dedupe.claim(1)
    await dedupe.release(1)
    assert await dedupe.claim(1)


def test_memory_dedupe_is_bounded_in_size_and_age() -> None:
    dedupe = MemoryUpdateDedupe(max_size=3, ttl_seconds=100)
    for update_id in (1, 2, 3, 4):
        assert dedupe.claim_at(update_id, 0)
    # The oldest claim was evicted to stay within max_size.
    assert dedupe.claim_at(1, 1)
    assert not dedupe.claim_at(4, 1)
    # Past the ttl everything is forgotten (the database still guards durably).
    assert dedupe.claim_at(4, 200)
