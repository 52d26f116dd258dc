"""Broadcast benchmark: event invitations through the outbox to a flood-limited Bot API stand-in.

Run from the repository root: ``python -m bench.broadcast`` (10,000 invitations; the worker
is cancelled abruptly half-way and a fresh one restarted on the same database, and each phase
is reported), or ``--messages N`` for a quick run. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from datetime import time as wall_time
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import insert

from bench.telegram_standin import TelegramStandIn
from bot.sender import BotSender
from common.clock import SystemClock
from concierge.contact_policy import ContactPolicy
from concierge.notify import MessageClass, Outgoing
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from scheduler.delivery import DeliveryWorker
from scheduler.outbox import OutboxNotifier

TELEGRAM_LIMIT = 30.0
ENQUEUE_BATCH = 500


@dataclass
class RunResult:
    scenario: str
    messages: int
    seconds: float
    msgs_per_second: float
    ratio_to_30: float
    too_many_requests: int
    server_errors: int
    duplicates: int
    losses: int
    reconciled: int


async def seed(crm: SqlCrm, count: int, event_id: int) -> None:
    """Clients with a linked chat, an active consent and no quiet hours (bulk inserts)."""
    now = datetime.now(UTC)
    midnight = wall_time(0, 0)
    async with crm.unit_of_work() as uow:
        s = uow.session
        await s.execute(
            insert(m.ClientRow),
            [
                {
                    "id": i,
                    "external_id": f"B{i}",
                    "first_name": "Гость",
                    "last_name": f"N{i}",
                    "timezone": "Europe/Moscow",
                    "language": "ru",
                    "preferred_channel": "messenger",
                    "quiet_start": midnight,
                    "quiet_end": midnight,
                    "do_not_disturb": False,
                    "marketing_opt_out": False,
                    "is_public_person": False,
                    "opinion_leader": False,
                }
                for i in range(1, count + 1)
            ],
        )
        await s.execute(
            insert(m.MessengerLinkRow),
            [
                {
                    "messenger": "telegram",
                    "user_id": 10_000_000 + i,
                    "chat_id": 10_000_000 + i,
                    "client_id": i,
                    "linked_at": now,
                    "language": "ru",
                }
                for i in range(1, count + 1)
            ],
        )
        await s.execute(
            insert(m.ConsentRow),
            [
                {
                    "client_id": i,
                    "purpose": "personal_data",
                    "document_version": "2025-09-01",
                    "granted": True,
                    "channel": "messenger",
                    "recorded_at": now,
                }
                for i in range(1, count + 1)
            ],
        )
        await uow.commit()
    del event_id


async def enqueue(crm: SqlCrm, count: int, event_id: int) -> float:
    """Every invitation goes through the notifier: contact policy, decision log, outbox."""
    notifier = OutboxNotifier(crm, SystemClock(), ContactPolicy(marketing_per_week=2))
    started = time.perf_counter()
    # Batches share a unit of work: the same policy and decision log per message, fewer commits.
    for batch_start in range(1, count + 1, ENQUEUE_BATCH):
        async with crm.unit_of_work() as uow:
            for i in range(batch_start, min(count, batch_start + ENQUEUE_BATCH - 1) + 1):
                key = f"invite:{event_id}:{i}"
                result = await notifier.enqueue_for_client(
                    uow,
                    i,
                    Outgoing(
                        text=f"Приглашаем вас на закрытый ужин с шеф-поваром. ref={key}",
                        message_class=MessageClass.MARKETING,
                        occasion_key=key,
                        kind="invitation",
                    ),
                )
                assert result.queued, f"invitation {i} was not queued: {result.decision}"
            await uow.commit()
    return time.perf_counter() - started


async def run_scenario(
    *,
    scenario: str,
    count: int,
    rate: float,
    error_rate: float,
    kill_at: float | None,
    workdir: Path,
) -> RunResult:
    crm = SqlCrm.from_url(f"sqlite+aiosqlite:///{workdir / f'{scenario}.db'}")
    async with crm.engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.create_all)
    await seed(crm, count, 1)
    # Enqueued first, then sent: the measured rate is the sender's. (Enqueueing alongside on
    # one SQLite file and one event loop slows both; PostgreSQL would not mind.)
    enqueue_seconds = await enqueue(crm, count, 1)
    print(f"[{scenario}] enqueued {count} invitations in {enqueue_seconds:.1f}s", flush=True)
    reconciled = 0
    async with TelegramStandIn(
        global_per_second=int(TELEGRAM_LIMIT), error_rate=error_rate
    ) as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot("42:BENCH", session=session)

        def worker() -> DeliveryWorker:
            return DeliveryWorker(
                crm,
                {"telegram": BotSender(bot)},
                SystemClock(),
                worker_id="bench-worker",
                rate_per_second=rate,
                per_chat_interval=1.0,
                poll_interval=0.05,
                max_in_flight=64,
            )

        started = time.perf_counter()
        first = worker()
        task = asyncio.create_task(first.run())
        phases: list[tuple[str, float, int, int, int]] = []  # name, seconds, delivered, 429, 5xx
        restarted = started
        if kill_at is not None:
            while api.stats.accepted_total < count * kill_at:
                await asyncio.sleep(0.01)
            # Abrupt: cancelled wherever it happens to be (leasing, pacing, mid-request).
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            stats = api.stats
            phases.append(
                (
                    "before kill",
                    time.perf_counter() - started,
                    len(stats.accepted),
                    stats.too_many_requests,
                    stats.server_errors,
                )
            )
            print(
                f"[{scenario}] worker cancelled after {stats.accepted_total} deliveries;"
                " restarting",
                flush=True,
            )
            restarted = time.perf_counter()
            second = worker()
            reconciled = sum((await second.reconcile()).values())
            task = asyncio.create_task(second.run())
        while True:
            async with crm.unit_of_work() as uow:
                counts = await uow.outbox.counts()
            if not counts.get("pending") and not counts.get("sending"):
                break
            await asyncio.sleep(0.25)
        finished = time.perf_counter()
        elapsed = finished - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()
        stats = api.stats
        if phases:
            _, _, delivered, too_many, errors = phases[0]
            phases.append(
                (
                    "after restart",
                    finished - restarted,
                    len(stats.accepted) - delivered,
                    stats.too_many_requests - too_many,
                    stats.server_errors - errors,
                )
            )
        for name, seconds, delivered, too_many, errors in phases:
            print(
                f"[{scenario}] {name}: {delivered} in {seconds:.1f}s = "
                f"{delivered / seconds:.2f} msg/s (ratio {delivered / seconds / 30:.3f}), "
                f"429: {too_many}, 5xx: {errors}",
                flush=True,
            )
    await crm.close()
    expected = {f"invite:1:{i}" for i in range(1, count + 1)}
    accepted = {k for k, n in stats.accepted.items() if n > 0}
    unique = len(accepted & expected)
    per_second = unique / elapsed
    return RunResult(
        scenario=scenario,
        messages=count,
        seconds=round(elapsed, 1),
        msgs_per_second=round(per_second, 2),
        ratio_to_30=round(per_second / TELEGRAM_LIMIT, 3),
        too_many_requests=stats.too_many_requests,
        server_errors=stats.server_errors,
        duplicates=sum(n - 1 for n in stats.accepted.values() if n > 1),
        losses=len(expected - accepted),
        reconciled=reconciled,
    )


def print_table(results: list[RunResult]) -> None:
    header = ("scenario", "msgs", "s", "msg/s", "ratio", "429", "5xx", "dup", "lost")
    print(" | ".join(f"{h:>12}" for h in header))
    for r in results:
        row = (
            r.scenario,
            r.messages,
            r.seconds,
            r.msgs_per_second,
            r.ratio_to_30,
            r.too_many_requests,
            r.server_errors,
            r.duplicates,
            r.losses,
        )
        print(" | ".join(f"{v!s:>12}" for v in row))


async def main_async(args: argparse.Namespace) -> list[RunResult]:
    with tempfile.TemporaryDirectory(prefix="broadcast-bench-") as tmp:
        workdir = Path(tmp)
        results = [
            await run_scenario(
                scenario="kill-restart",
                count=args.messages,
                rate=args.rate,
                error_rate=args.errors,
                kill_at=0.5,
                workdir=workdir,
            )
        ]
        if args.clean_run:
            results.insert(
                0,
                await run_scenario(
                    scenario="clean",
                    count=args.messages,
                    rate=args.rate,
                    error_rate=args.errors,
                    kill_at=None,
                    workdir=workdir,
                ),
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--clean-run",
        action="store_true",
        help="also run once without the kill (doubles the time)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=29.0,
        help="worker's global rate (Telegram allows about 30/s)",
    )
    parser.add_argument("--errors", type=float, default=0.02, help="share of random 5xx")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(main_async(args))
    print_table(results)
    print(json.dumps({r.scenario: asdict(r) for r in results}))


if __name__ == "__main__":
    main()
