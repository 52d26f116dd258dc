"""One run: the workload fed through a dispatcher (the full app on SQLite, PostgreSQL or the
Redis profile, in Telegram or MAX, with or without CRM write-back; or bare aiogram)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, Message, Update
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.dispatch.workload import (
    WARM_UP_CLIENTS,
    Workload,
    seed_bank,
)
from bench.max_dispatch import as_max_event, max_decoder, max_session
from bot.app import build_app
from bot.local_session import LocalSession
from bot.notifier import direct_notifier
from common.clock import SystemClock
from common.settings import (
    BehaviourSettings,
    DatabaseSettings,
    KnowledgeSettings,
    RedisSettings,
    Settings,
)
from crm_adapter.migrate import upgrade
from crm_adapter.sql import SqlCrm, create_engine
from knowledge.answers import KnowledgeBase


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    # Process CPU time (both threads: aiosqlite runs queries in its own thread); on a busy
    # machine wall time rises above it while CPU time stays a fair measure of the work.
    cpu_seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


Encode = Callable[[Update], dict[str, Any]]
Decode = Callable[[dict[str, Any], Bot], Update]


async def drive(
    name: str,
    dispatcher: Dispatcher,
    bot: Bot,
    workload: Workload,
    *,
    in_flight: int = 1,
    encode: Encode | None = None,
    decode: Decode | None = None,
) -> Result:
    """Feeds the workload one update at a time, or `in_flight` at once as polling and webhooks
    do (each update a task); a client's next update waits for the reply to their last one.
    `encode`/`decode`: the messenger's JSON and how the transport reads it (Telegram's by
    default)."""
    encode = encode or as_json
    decode = decode or parse
    # A warm-up outside the measurement: first-call imports, caches and the embedding model's
    # first runs are not the steady state a replica runs in.
    for _, update in workload.warm_up:
        await dispatcher.feed_update(bot, decode(encode(update), bot))
    result = Result(name, len(workload.updates), 0.0)
    # What polling and webhooks receive: JSON, parsed inside the measurement.
    raw_updates = {id(update): encode(update) for _, update in workload.updates}

    async def handle(kind: str, update: Update, after: asyncio.Task[None] | None) -> None:
        try:
            if after is not None:
                await after
            raw = raw_updates[id(update)]
            before = time.perf_counter()
            await dispatcher.feed_update(bot, decode(raw, bot))
            result.latencies[kind].append(time.perf_counter() - before)
        finally:
            slots.release()

    slots = asyncio.Semaphore(in_flight)
    last_of: dict[int, asyncio.Task[None]] = {}
    cpu_started = time.process_time()
    started = time.perf_counter()
    for kind, update in workload.updates:
        await slots.acquire()
        sender = _sender(update)
        last_of[sender] = asyncio.create_task(handle(kind, update, last_of.get(sender)))
    await asyncio.gather(*last_of.values())
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def as_json(update: Update) -> dict[str, Any]:
    """The update as Telegram sends it."""
    return update.model_dump(mode="json", exclude_none=True)


def parse(raw: dict[str, Any], bot: Bot) -> Update:
    """As polling and webhooks parse an update: with the bot in context. (An Update built
    without it makes aiogram re-create it through a dump and a validation on every
    `feed_update`, a cost production never pays.)"""
    return Update.model_validate(raw, context={"bot": bot})


def _sender(update: Update) -> int:
    event = update.message or update.callback_query
    assert event is not None and event.from_user is not None
    return event.from_user.id


def bare_dispatcher() -> Dispatcher:
    """aiogram with one echo handler: the floor any real bot is compared to."""
    dp = Dispatcher()

    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        assert query.bot is not None
        await query.bot.send_message(query.from_user.id, query.data or "…")

    dp.message.register(echo)
    dp.callback_query.register(pressed)
    return dp


def bench_settings(url: str, var_dir: Path, redis: RedisSettings | None = None) -> Settings:
    return Settings(
        environment="test",
        var_dir=var_dir,
        database=DatabaseSettings(url=url),
        redis=redis or RedisSettings(url=None),
        knowledge=KnowledgeSettings(chroma_path=var_dir / "chroma"),
        # Synthetic clients write far faster than people; flood control would hide the work.
        behaviour=BehaviourSettings(throttle_burst=10**9),
    )


async def run_full(
    name: str,
    url: str,
    var_dir: Path,
    workload: Workload,
    knowledge: KnowledgeBase,
    redis: RedisSettings | None = None,
    *,
    in_flight: int = 1,
    messenger: str = "telegram",
    write_back: bool = False,
) -> Result:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = bench_settings(url, var_dir, redis)
    app = build_app(
        settings,
        session=LocalSession(),
        max_session=max_session()[0] if messenger == "max" else None,
        clock=SystemClock(),
        notifier_factory=direct_notifier,
        knowledge=knowledge,
        # The bank's own CRM as master: every client interaction also queued for it.
        crm=SqlCrm.from_url(url, write_back=write_back),
    )
    try:
        await seed_bank(app.crm, workload.clients + WARM_UP_CLIENTS, messenger=messenger)
        if messenger == "max":
            bot = app.messengers["max"]
            return await drive(
                name,
                app.dispatcher,
                bot,
                workload,
                in_flight=in_flight,
                encode=as_max_event,
                decode=max_decoder(bot),
            )
        return await drive(name, app.dispatcher, app.bot, workload, in_flight=in_flight)
    finally:
        await app.close()
        if redis is not None and redis.url:
            await drop_redis_keys(redis.url, redis.key_prefix)


async def drop_redis_keys(url: str, prefix: str) -> None:
    """The run's own namespace only: others may share this Redis."""
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


async def with_postgres_schema(base: str, work: Callable[[str], Any]) -> Result:
    """A throw-away schema, so the benchmark never touches anyone's tables."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        result: Result = await work(f"{base}{'&' if '?' in base else '?'}search_path={schema}")
        return result
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def build_knowledge(var_dir: Path) -> KnowledgeBase:
    """The sample documents indexed once; every run answers from the same index."""
    knowledge = KnowledgeBase.from_settings(bench_settings("sqlite://", var_dir))
    knowledge.ingest()
    return knowledge
