"""State several bot replicas must share: FSM storage, duplicate-update claims, flood counters.

Without Redis everything lives in process memory (one replica, the console, the tests); with
`REDIS_URL` set the same interfaces are backed by Redis so any replica can take the next update
of a conversation.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from typing import Protocol

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.settings import Settings
from crm_adapter.personal_data import Chat

log = logging.getLogger(__name__)

# An update id or a user id as the shared state keys it: Telegram's bare number, another
# messenger's prefixed with its name ("max:123"), since the messengers' ids may coincide.
UpdateKey = int | str


def shared_key(messenger: str, value: int) -> UpdateKey:
    """An update or user id of `messenger` as shared state keys it (see `UpdateKey`)."""
    return value if messenger == "telegram" else f"{messenger}:{value}"


class UpdateDedupe(Protocol):
    """A fast first line against redelivered updates; the database's unique update_id stays the
    durable guard behind it."""

    async def claim(self, update_id: UpdateKey) -> bool:
        """True the first time `update_id` is seen (within the memory's reach), else False."""
        ...

    async def release(self, update_id: UpdateKey) -> None:
        """Forgets a claim whose update could not be recorded, so a redelivery is processed."""
        ...


class Throttle(Protocol):
    """Per-person flood control."""

    async def allow(self, user_id: UpdateKey) -> tuple[bool, bool]:
        """(allowed, should_warn): warn once per window so the warning is not a flood itself."""
        ...


class Unthrottled:
    """No flood control: for the local console, whose only sender is the operator at the
    terminal (a pasted or scripted session sends its lines as fast as they are read)."""

    async def allow(self, user_id: UpdateKey) -> tuple[bool, bool]:
        return True, False


class MemoryUpdateDedupe:
    """Recently seen update ids of this process, bounded in number and age."""

    def __init__(self, *, max_size: int = 50_000, ttl_seconds: float = 3600.0) -> None:
        self.max_size = max_size
        self.ttl = ttl_seconds
        self._seen: OrderedDict[UpdateKey, float] = OrderedDict()

    async def claim(self, update_id: UpdateKey) -> bool:
        return self.claim_at(update_id, time.monotonic())

    def claim_at(self, update_id: UpdateKey, moment: float) -> bool:
        # Oldest first: drop what has expired or overflows, so memory stays bounded.
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if moment - seen_at <= self.ttl and len(self._seen) < self.max_size:
                break
            del self._seen[oldest_id]
        if update_id in self._seen:
            return False
        self._seen[update_id] = moment
        return True

    async def release(self, update_id: UpdateKey) -> None:
        self._seen.pop(update_id, None)


class MemoryThrottle:
    """Sliding-window flood control per messenger user, kept in process memory."""

    def __init__(self, *, burst: int, window_seconds: float) -> None:
        self.burst = burst
        self.window = window_seconds
        self._hits: dict[UpdateKey, deque[float]] = defaultdict(deque)
        self._warned: dict[UpdateKey, float] = {}

    async def allow(self, user_id: UpdateKey) -> tuple[bool, bool]:
        return self.allow_at(user_id, time.monotonic())

    def forget(self, user_id: UpdateKey) -> int:
        """Drops the person's counters (an erasure); returns how many entries went."""
        return int(self._hits.pop(user_id, None) is not None) + int(
            self._warned.pop(user_id, None) is not None
        )

    def allow_at(self, user_id: UpdateKey, moment: float) -> tuple[bool, bool]:
        hits = self._hits[user_id]
        while hits and moment - hits[0] > self.window:
            hits.popleft()
        if len(hits) < self.burst:
            hits.append(moment)
            return True, False
        warned_at = self._warned.get(user_id)
        should_warn = warned_at is None or moment - warned_at > self.window
        if should_warn:
            self._warned[user_id] = moment
        return False, should_warn


class RedisUpdateDedupe:
    """`SET key NX EX ttl` per update id: exactly one replica wins the claim."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds

    def _key(self, update_id: UpdateKey) -> str:
        return f"{self.prefix}:update:{update_id}"

    async def claim(self, update_id: UpdateKey) -> bool:
        try:
            return bool(await self.redis.set(self._key(update_id), b"1", nx=True, ex=self.ttl))
        except RedisError as exc:
            # The claim only saves work: without Redis the database's unique update_id still
            # refuses a second run, so the update goes on rather than being lost.
            log.warning("update claim unavailable (%s): database guard only", type(exc).__name__)
            return True

    async def release(self, update_id: UpdateKey) -> None:
        try:
            await self.redis.delete(self._key(update_id))
        except RedisError as exc:
            log.warning("could not release update claim (%s)", type(exc).__name__)


class RedisThrottle:
    """Fixed-window counters shared by replicas (INCR + EXPIRE), plus a warn-once key.

    A fixed window may let up to twice the burst through across a window boundary; for flood
    control that is acceptable and it costs one round trip instead of a sorted-set scan.
    """

    def __init__(self, redis: Redis, *, prefix: str, burst: int, window_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.burst = burst
        self.window = max(1, int(window_seconds))

    async def allow(self, user_id: UpdateKey) -> tuple[bool, bool]:
        # Wall-clock time, not monotonic: the windows must line up across machines.
        return await self.allow_at(user_id, time.time())

    async def allow_at(self, user_id: UpdateKey, moment: float) -> tuple[bool, bool]:
        try:
            return await self._count(user_id, moment)
        except RedisError as exc:
            # Flood control is a courtesy; a Redis outage must not silence the bank's clients.
            log.warning("throttle unavailable (%s); update allowed", type(exc).__name__)
            return True, False

    async def _count(self, user_id: UpdateKey, moment: float) -> tuple[bool, bool]:
        window_index = int(moment // self.window)
        counter = f"{self.prefix}:throttle:{user_id}:{window_index}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, self.window * 2)
            hits, _ = await pipe.execute()
        if int(hits) <= self.burst:
            return True, False
        warned = await self.redis.set(
            f"{self.prefix}:throttle-warned:{user_id}:{window_index}",
            b"1",
            nx=True,
            ex=self.window * 2,
        )
        return False, bool(warned)


class ConversationEraser:
    """Forgets a person's conversation state, flood counters and all (an erasure under
    152-FZ): implements `concierge.data_rights.ConversationMemory`.

    In memory it reaches this process only; with Redis it reaches every replica's, and the
    CLI passes `storage=None` with the deployment's Redis.
    """

    def __init__(
        self,
        *,
        storage: BaseStorage | None,
        redis: Redis | None,
        prefix: str,
        throttle: Throttle | None = None,
    ) -> None:
        self.storage = storage
        self.redis = redis
        self.prefix = prefix
        self.throttle = throttle

    async def forget(self, chat: Chat) -> int:
        gone = 0
        if isinstance(self.storage, MemoryStorage):
            keys = [
                key
                for key in self.storage.storage
                if key.chat_id == chat.chat_id or key.user_id == chat.user_id
            ]
            for key in keys:
                del self.storage.storage[key]
            gone += len(keys)
        # Flood counters are keyed per messenger (a MAX user's as "max:<id>").
        person = shared_key(chat.messenger, chat.user_id)
        if isinstance(self.throttle, MemoryThrottle):
            gone += self.throttle.forget(person)
        if self.redis is not None:
            # FSM keys are <prefix>:fsm:<bot>:<chat>:<user>:<destiny>:<part>; any bot of
            # the bank that shares the prefix, any destiny.
            patterns = (
                f"{self.prefix}:fsm:*:{chat.chat_id}:{chat.user_id}:*",
                f"{self.prefix}:throttle:{person}:*",
                f"{self.prefix}:throttle-warned:{person}:*",
            )
            for pattern in patterns:
                found = [key async for key in self.redis.scan_iter(match=pattern, count=500)]
                if found:
                    gone += int(await self.redis.delete(*found))
        return gone


@dataclass
class ReplicaState:
    """What `build_app` wires into the dispatcher; `redis` is None in single-process mode."""

    storage: BaseStorage
    events_isolation: BaseEventIsolation
    dedupe: UpdateDedupe
    throttle: Throttle
    redis: Redis | None = None

    async def close(self) -> None:
        await self.events_isolation.close()
        if self.redis is not None:
            # RedisStorage.close would close this same shared client; it is closed once, here.
            await self.redis.aclose()
        else:
            await self.storage.close()


def build_replica_state(settings: Settings, *, redis: Redis | None = None) -> ReplicaState:
    """Redis-backed when `REDIS_URL` is set (or a client is given), in-memory otherwise."""
    behaviour = settings.behaviour
    if redis is None and settings.redis.url is None:
        return ReplicaState(
            storage=MemoryStorage(),
            # Polling and webhooks handle updates as concurrent tasks: without a lock per
            # chat, a tap and a message sent together could both read the old state.
            events_isolation=SimpleEventIsolation(),
            dedupe=MemoryUpdateDedupe(ttl_seconds=settings.redis.dedupe_ttl_seconds),
            throttle=MemoryThrottle(
                burst=behaviour.throttle_burst, window_seconds=behaviour.throttle_window_seconds
            ),
        )
    if redis is None:
        assert settings.redis.url is not None
        redis = Redis.from_url(settings.redis.url)
    prefix = settings.redis.key_prefix
    # with_bot_id: two bots of the bank on one Redis never see each other's conversations.
    key_builder = DefaultKeyBuilder(prefix=f"{prefix}:fsm", with_bot_id=True, with_destiny=True)
    return ReplicaState(
        storage=RedisStorage(
            redis,
            key_builder=key_builder,
            state_ttl=settings.redis.state_ttl_seconds,
            data_ttl=settings.redis.state_ttl_seconds,
        ),
        # Serialises the updates of one chat across replicas, so two quick steps of a
        # conversation cannot read the same state on two machines.
        events_isolation=RedisEventIsolation(redis, key_builder=key_builder),
        dedupe=RedisUpdateDedupe(
            redis, prefix=prefix, ttl_seconds=settings.redis.dedupe_ttl_seconds
        ),
        throttle=RedisThrottle(
            redis,
            prefix=prefix,
            burst=behaviour.throttle_burst,
            window_seconds=behaviour.throttle_window_seconds,
        ),
        redis=redis,
    )
