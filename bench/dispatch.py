"""Throughput and latency of the full dispatcher against a bare aiogram Dispatcher.

    python -m bench.dispatch [--updates N] [--clients N] [--postgres-url URL] [--redis-url URL]

Synthetic updates from linked demo clients (menu presses, /help and /menu, language switch,
free text) go through `build_app`'s dispatcher with full interaction logging, on SQLite (a
migrated temporary file), on PostgreSQL when TEST_DATABASE_URL or --postgres-url is given, and
on SQLite with the Redis production profile when TEST_REDIS_URL or --redis-url is given.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import OFFLINE_TOKEN, build_app
from bot.local_session import LocalSession
from bot.settings import (
    BehaviourSettings,
    DatabaseSettings,
    KnowledgeSettings,
    RedisSettings,
    Settings,
)
from concierge.clock import SystemClock
from crm_adapter import models as m
from crm_adapter.migrate import upgrade
from crm_adapter.sql import SqlCrm, create_engine

TARGET_UPDATES_PER_SECOND = 300
TARGET_MENU_P95_MS = 20.0
FIRST_USER_ID = 900_000

# (action kind, weight): roughly what a day of VIP traffic looks like.
MIX: list[tuple[str, int]] = [
    ("menu:manager", 25),
    ("menu:ask", 15),
    ("/menu", 15),
    ("/help", 10),
    ("language", 5),
    ("text", 30),
]
FREE_TEXTS = [
    "Добрый день! Подскажите, пожалуйста, по вкладу",
    "Когда будет перевод?",
    "Спасибо",
    "Можно перенести встречу на четверг?",
]


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


def make_updates(count: int, clients: int, seed: int = 8) -> list[tuple[str, Update]]:
    """A reproducible mix of updates; update ids are unique like Telegram's."""
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    now = datetime.now(UTC)
    out: list[tuple[str, Update]] = []
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        user_id = FIRST_USER_ID + rng.randrange(clients)
        user = User(id=user_id, is_bot=False, first_name="Клиент", language_code="ru")
        message = Message(
            message_id=n + 1,
            date=now,
            chat=Chat(id=user_id, type="private"),
            from_user=user,
            text=rng.choice(FREE_TEXTS) if kind == "text" else (kind if "/" in kind else "…"),
        )
        update_id = 10_000_000 + n
        if kind.startswith("menu:") or kind == "language":
            data = kind if kind != "language" else rng.choice(["lang:en", "lang:ru"])
            query = CallbackQuery(
                id=str(update_id), from_user=user, chat_instance="ci", data=data, message=message
            )
            out.append((kind, Update(update_id=update_id, callback_query=query)))
        else:
            out.append((kind, Update(update_id=update_id, message=message)))
    return out


async def seed_bank(crm: SqlCrm, clients: int) -> None:
    """Managers and linked, consenting clients, written straight to the tables."""
    now = datetime.now(UTC)
    async with crm.unit_of_work() as uow:
        s = uow.session
        managers = [
            m.StaffRow(external_id=f"S-B{i:03}", full_name=f"Менеджер {i}", roles="manager")
            for i in range(10)
        ]
        s.add_all(managers)
        await s.flush()
        rows = [
            m.ClientRow(
                external_id=f"C-B{i:04}",
                first_name="Клиент",
                last_name=f"Номер {i}",
                manager_id=managers[i % len(managers)].id,
            )
            for i in range(clients)
        ]
        s.add_all(rows)
        await s.flush()
        for i, row in enumerate(rows):
            s.add(
                m.MessengerLinkRow(
                    user_id=FIRST_USER_ID + i,
                    chat_id=FIRST_USER_ID + i,
                    client_id=row.id,
                    linked_at=now,
                )
            )
            s.add(
                m.ConsentRow(
                    client_id=row.id,
                    document_version="2025-09-01",
                    granted=True,
                    channel="messenger",
                    recorded_at=now,
                )
            )
        await uow.commit()


async def drive(
    name: str,
    dispatcher: Dispatcher,
    bot: Bot,
    updates: Sequence[tuple[str, Update]],
) -> Result:
    # A short warm-up outside the measurement: first-call imports and caches are not the
    # steady state a replica runs in.
    for _, update in updates[:20]:
        warm_up = update.model_copy(update={"update_id": -update.update_id})
        await dispatcher.feed_update(bot, warm_up)
    result = Result(name, len(updates), 0.0)
    cpu_started = time.process_time()
    started = time.perf_counter()
    for kind, update in updates:
        before = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        result.latencies[kind].append(time.perf_counter() - before)
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result


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
    args: argparse.Namespace,
    redis: RedisSettings | None = None,
) -> Result:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = bench_settings(url, var_dir, redis)
    app = build_app(settings, session=LocalSession(), clock=SystemClock())
    try:
        await seed_bank(app.crm, args.clients)
        return await drive(name, app.dispatcher, app.bot, make_updates(args.updates, args.clients))
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


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarise(results: list[Result], notes: list[str]) -> dict[str, Any]:
    bare = next(r for r in results if r.name == "bare-aiogram")
    table: dict[str, Any] = {}
    print(f"{'run':<15}{'updates/s':>11}{'vs bare':>9}{'cpu ms/upd':>12}  p50/p95 ms per action")
    for r in results:
        kinds = {
            k: {
                "p50_ms": round(percentile(v, 50) * 1000, 2),
                "p95_ms": round(percentile(v, 95) * 1000, 2),
            }
            for k, v in sorted(r.latencies.items())
        }
        ratio = r.per_second / bare.per_second if bare.per_second else 0.0
        table[r.name] = {
            "updates": r.updates,
            "updates_per_second": round(r.per_second, 1),
            "ratio_to_bare": round(ratio, 3),
            "cpu_ms_per_update": round(r.cpu_seconds / r.updates * 1000, 3),
            "latency": kinds,
        }
        cells = "  ".join(f"{k} {v['p50_ms']}/{v['p95_ms']}" for k, v in kinds.items())
        cpu_ms = r.cpu_seconds / r.updates * 1000
        print(f"{r.name:<15}{r.per_second:>11.0f}{ratio:>9.1%}{cpu_ms:>12.2f}  {cells}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(f"peak RSS {peak_rss_mb:.0f} MB; load average {load:.2f} on {os.cpu_count()} CPUs")
    for note in notes:
        print(note)
    sqlite = table["sqlite"]
    menu_p95 = max(sqlite["latency"][k]["p95_ms"] for k in ("menu:manager", "menu:ask"))
    return {
        "bench": "dispatch",
        "results": table,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average": round(load, 2),
        "cpus": os.cpu_count(),
        "targets": {
            "sqlite_updates_per_second": TARGET_UPDATES_PER_SECOND,
            "menu_p95_ms": TARGET_MENU_P95_MS,
            "met": sqlite["updates_per_second"] >= TARGET_UPDATES_PER_SECOND
            and menu_p95 <= TARGET_MENU_P95_MS,
        },
        "notes": notes,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: list[Result] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        var_dir = Path(tmp)
        sqlite_url = f"sqlite+aiosqlite:///{var_dir / 'bench.db'}"
        results.append(await run_full("sqlite", sqlite_url, var_dir, args))
        postgres = args.postgres_url or os.environ.get("TEST_DATABASE_URL")
        if postgres:
            results.append(
                await with_postgres_schema(
                    postgres, lambda url: run_full("postgresql", url, var_dir, args)
                )
            )
        else:
            notes.append("PostgreSQL skipped: set TEST_DATABASE_URL or pass --postgres-url")
        redis_url = args.redis_url or os.environ.get("TEST_REDIS_URL")
        if redis_url:
            # The production profile: FSM state, update claims and flood counters in Redis.
            namespace = RedisSettings(url=redis_url, key_prefix=f"bench-{uuid.uuid4().hex[:10]}")
            sqlite_redis = f"sqlite+aiosqlite:///{var_dir / 'bench-redis.db'}"
            results.append(await run_full("sqlite+redis", sqlite_redis, var_dir, args, namespace))
        else:
            notes.append("Redis skipped: set TEST_REDIS_URL or pass --redis-url")
        bare = bare_dispatcher()
        bot = Bot(token=OFFLINE_TOKEN, session=LocalSession())
        results.append(
            await drive("bare-aiogram", bare, bot, make_updates(args.updates, args.clients))
        )
        await bot.session.close()
    return summarise(results, notes)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--redis-url", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    print(json.dumps(asyncio.run(main(parse_args()))))
