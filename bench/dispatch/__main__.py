"""Throughput and latency of the full dispatcher against a bare aiogram Dispatcher.

    python -m bench.dispatch [--updates N] [--clients N] [--postgres-url URL] [--redis-url URL]
                             [--in-flight N] [--crm-write-back] [--channel telegram|max]
                             [--repeat N]

Synthetic conversations of linked clients (menu presses, /help, language switch, questions
answered from the sample documents, messages relayed to the manager, card-block requests
through the service wizard) go through `build_app`'s dispatcher with full interaction
logging and the production log set-up (JSON lines to a file): on SQLite (a migrated temporary
file), on PostgreSQL when TEST_DATABASE_URL or --postgres-url is given, and on SQLite with
the Redis production profile when TEST_REDIS_URL or --redis-url is given; a bare aiogram
dispatcher with an echo handler gets the same updates. Each update arrives as Telegram's JSON
and is parsed inside the measurement, as polling and webhooks do.
With `--channel max` the same conversations also run in MAX (`bench.max_dispatch`), on SQLite,
alternating with Telegram's run `--repeat` times, and the MAX/Telegram ratio is reported.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiogram import Bot

from bench.dispatch.report import summarise
from bench.dispatch.runs import (
    Result,
    bare_dispatcher,
    bench_settings,
    build_knowledge,
    drive,
    run_full,
    with_postgres_schema,
)
from bench.dispatch.workload import (
    Workload,
)
from bench.retrieval import load_eval
from bot.app import OFFLINE_TOKEN
from bot.local_session import LocalSession
from cli.logging_setup import configure_logging
from common.settings import (
    RedisSettings,
)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: list[Result] = []
    notes: list[str] = []
    questions = [q.text for q in load_eval()[0] if q.audience == "client"]
    workload = Workload.make(args.updates, args.clients, questions)
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        var_dir = Path(tmp)
        # The production logging set-up (JSON lines, INFO), to a file: what a replica pays.
        log_file = var_dir / "bench.log"
        configure_logging(
            bench_settings("sqlite://", var_dir).model_copy(update={"log_json": True}),
            to_file=log_file,
        )
        knowledge = await asyncio.to_thread(build_knowledge, var_dir)

        async def full(
            name: str,
            url: str,
            redis: RedisSettings | None = None,
            in_flight: int = 1,
            messenger: str = "telegram",
            write_back: bool = False,
        ) -> Result:
            return await run_full(
                name,
                url,
                var_dir,
                workload,
                knowledge,
                redis,
                in_flight=in_flight,
                messenger=messenger,
                write_back=write_back,
            )

        if args.channel == "max":
            # Telegram and MAX alternately, each on a fresh database, who goes first swapped
            # every turn: the VM's speed drifts, and a second run may find warmer caches.
            pair = [("telegram", "sqlite"), ("max", "sqlite max")]
            for turn in range(1, args.repeat + 1):
                suffix = f" #{turn}" if turn > 1 else ""
                for messenger, name in pair if turn % 2 else pair[::-1]:
                    db = f"sqlite+aiosqlite:///{var_dir / f'bench-{messenger}-{turn}.db'}"
                    results.append(await full(name + suffix, db, messenger=messenger))
            notes.append("PostgreSQL, Redis and in-flight runs skipped with --channel max")
        else:
            results.append(await full("sqlite", f"sqlite+aiosqlite:///{var_dir / 'bench.db'}"))
            if args.crm_write_back:
                queued = f"sqlite+aiosqlite:///{var_dir / 'bench-crm.db'}"
                results.append(await full("sqlite+crm queue", queued, write_back=True))
            await other_engines(args, var_dir, full, results, notes)
        bot = Bot(token=OFFLINE_TOKEN, session=LocalSession())
        results.append(await drive("bare-aiogram", bare_dispatcher(), bot, workload))
        await bot.session.close()
        logging.shutdown()
        with log_file.open(encoding="utf-8") as lines:
            notes.append(f"log lines written (JSON, INFO): {sum(1 for _ in lines)}")
    return summarise(results, notes)


async def other_engines(
    args: argparse.Namespace,
    var_dir: Path,
    full: Callable[..., Any],
    results: list[Result],
    notes: list[str],
) -> None:
    """Handling updates side by side, PostgreSQL and the Redis profile, when available."""
    if args.in_flight > 1:
        # As polling and webhooks run: does handling updates side by side add throughput?
        concurrent = f"sqlite+aiosqlite:///{var_dir / 'bench-concurrent.db'}"
        results.append(
            await full(f"sqlite x{args.in_flight}", concurrent, in_flight=args.in_flight)
        )
    postgres = args.postgres_url or os.environ.get("TEST_DATABASE_URL")
    if postgres:
        results.append(await with_postgres_schema(postgres, lambda url: full("postgresql", url)))
        if args.crm_write_back:
            results.append(
                await with_postgres_schema(
                    postgres, lambda url: full("postgresql+crm queue", url, write_back=True)
                )
            )
    else:
        notes.append("PostgreSQL skipped: set TEST_DATABASE_URL or pass --postgres-url")
    redis_url = args.redis_url or os.environ.get("TEST_REDIS_URL")
    if redis_url:
        # The production profile: FSM state, update claims and flood counters in Redis.
        namespace = RedisSettings(url=redis_url, key_prefix=f"bench-{uuid.uuid4().hex[:10]}")
        sqlite_redis = f"sqlite+aiosqlite:///{var_dir / 'bench-redis.db'}"
        results.append(await full("sqlite+redis", sqlite_redis, namespace))
    else:
        notes.append("Redis skipped: set TEST_REDIS_URL or pass --redis-url")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument(
        "--channel",
        choices=("telegram", "max"),
        default="telegram",
        help="max: the same conversations in MAX too, alternating with Telegram on SQLite",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="with --channel max: how many Telegram/MAX pairs to run",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=16,
        help="one more SQLite run with this many updates handled at once (0: skip it)",
    )
    parser.add_argument(
        "--crm-write-back",
        action="store_true",
        help="also run each engine with every client interaction queued for the bank's CRM",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    print(json.dumps(asyncio.run(main(parse_args()))))
