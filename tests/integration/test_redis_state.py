"""Redis-backed duplicate claims and flood control, shared by replicas, on the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.replica_state import RedisThrottle, RedisUpdateDedupe, build_replica_state
from common.settings import BehaviourSettings, RedisSettings, Settings

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_only_one_replica_wins_the_claim_on_an_update(
    redis: Redis, redis_prefix: str
) -> None:
    replicas = [RedisUpdateDedupe(redis, prefix=redis_prefix, ttl_seconds=60) for _ in range(5)]
    wins = await asyncio.gather(*(r.claim(4242) for r in replicas))
    assert sorted(wins) == [False, False, False, False, True]
    assert 0 < await redis.ttl(f"{redis_prefix}:update:4242") <= 60


async def test_released_claim_lets_the_redelivery_through(redis: Redis, redis_prefix: str) -> None:
    dedupe = RedisUpdateDedupe(redis, prefix=redis_prefix, ttl_seconds=60)
    assert await dedupe.claim(1)
    await dedupe.release(1)
    assert await dedupe.claim(1)
    assert not await dedupe.claim(1)


async def test_throttle_counts_across_replicas_and_warns_once(
    redis: Redis, redis_prefix: str
) -> None:
    # Two replicas, one person: the burst is shared, not granted per replica.
    a = RedisThrottle(redis, prefix=redis_prefix, burst=3, window_seconds=10)
    b = RedisThrottle(redis, prefix=redis_prefix, burst=3, window_seconds=10)
    moment = 1_000_000.0  # the start of a window
    assert await a.allow_at(7, moment) == (True, False)
    assert await b.allow_at(7, moment + 1) == (True, False)
    assert await a.allow_at(7, moment + 2) == (True, False)
    assert await b.allow_at(7, moment + 3) == (False, True)
    assert await a.allow_at(7, moment + 4) == (False, False)
    # Someone else is not affected.
    assert await a.allow_at(8, moment + 4) == (True, False)
    # The next window starts afresh.
    assert await b.allow_at(7, moment + 10) == (True, False)
    assert 0 < await redis.ttl(f"{redis_prefix}:throttle:7:{int(moment // 10)}") <= 20


async def test_redis_url_selects_the_shared_implementations(
    redis_url: str, redis_prefix: str
) -> None:
    settings = Settings(
        redis=RedisSettings(url=redis_url, key_prefix=redis_prefix),
        behaviour=BehaviourSettings(throttle_burst=2),
    )
    state = build_replica_state(settings)
    try:
        assert isinstance(state.dedupe, RedisUpdateDedupe)
        assert isinstance(state.throttle, RedisThrottle)
        assert state.redis is not None and await state.redis.ping()
    finally:
        await state.close()
    memory = build_replica_state(Settings(redis=RedisSettings(url=None)))
    assert memory.redis is None
    await memory.close()


async def test_a_redis_outage_degrades_to_the_database_guard_and_no_throttle() -> None:
    # Nothing listens on port 1: every command fails at once with a connection error.
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        dedupe = RedisUpdateDedupe(down, prefix="x", ttl_seconds=60)
        throttle = RedisThrottle(down, prefix="x", burst=1, window_seconds=10)
        assert await dedupe.claim(1)
        await dedupe.release(1)
        assert await throttle.allow(1) == (True, False)
    finally:
        await down.aclose()


async def test_an_erasure_forgets_the_persons_conversation_on_every_replica(
    redis: Redis, redis_prefix: str
) -> None:
    """Issue 21: erasure left the client's form answers and counters in Redis."""
    from aiogram.fsm.storage.base import StorageKey

    from bot.replica_state import ConversationEraser
    from crm_adapter.personal_data import Chat

    settings = Settings(redis=RedisSettings(url="redis://unused", key_prefix=redis_prefix))
    state = build_replica_state(settings, redis=redis)
    erased, other = (
        StorageKey(bot_id=42, chat_id=7301, user_id=7301),
        StorageKey(bot_id=42, chat_id=7302, user_id=7302),
    )
    for key in (erased, other):
        await state.storage.set_state(key, "Wizard:text")
        await state.storage.set_data(key, {"answers": {"wish": "Столик на имя Волкова"}})
        await state.throttle.allow(key.user_id)
    eraser = ConversationEraser(storage=None, redis=redis, prefix=redis_prefix)
    gone = await eraser.forget(Chat("telegram", user_id=7301, chat_id=7301))
    assert gone == 3  # state, data, the flood counter
    assert await state.storage.get_state(erased) is None
    assert await state.storage.get_data(erased) == {}
    left = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}:*")]
    assert left and not any(":7301" in k for k in left)
    assert await state.storage.get_state(other) == "Wizard:text"
