"""Latency of the staff web desk: the request queue and the client card, beside a static file.

    python -m bench.web [--requests 200] [--clients 10000]

Builds a SQLite store in a temporary folder, loads the demo bank, serves the desk on
127.0.0.1 (the same `build_desk` and server as `concierge web`), signs a manager in with a
one-time link and times sequential GETs over HTTP: the queue page, the manager's client
card, and a static file served by the same server (the baseline: the server and the HTTP
round trip without our code). Then it adds synthetic clients (spread over the demo's
managers, a few with open requests) and measures again. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, CookieJar
from sqlalchemy import func, insert, select

from common.clock import SystemClock
from common.settings import DatabaseSettings, KnowledgeSettings, Settings
from concierge.contact_policy import ContactPolicy
from concierge.desk_login import DeskPolicy, issue_login
from crm_adapter import models as m
from crm_adapter.demo.loader import load_demo_data
from crm_adapter.migrate import upgrade
from crm_adapter.sql import SqlCrm
from scheduler.outbox import OutboxNotifier
from web.app import build_desk, start_desk

TARGETS_MS = {"queue": 100.0, "card": 200.0}
MANAGER = "S-0001"
CARD_CLIENT = "C-0002"
SYNTHETIC_REQUEST_SHARE = 50  # one synthetic client in 50 has an open request


async def add_synthetic_clients(crm: SqlCrm, count: int, *, seed: int = 11) -> int:
    """`count` more clients with a deposit each, spread over the managers; returns the total."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    async with crm.unit_of_work() as uow:
        s = uow.session
        managers = list(
            await s.scalars(select(m.StaffRow.id).where(m.StaffRow.roles.like("%manager%")))
        )
        base = int(await s.scalar(select(func.count()).select_from(m.ClientRow)) or 0)
        rows = [
            {
                "external_id": f"C-S{n:05d}",
                "first_name": rng.choice(("Анна", "Илья", "Мария", "Олег", "Пётр", "Вера")),
                "middle_name": rng.choice(("Ивановна", "Петрович", "Сергеевна", None)),
                "last_name": f"Синтетический{n:05d}",
                "birthday": date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                "city": rng.choice(("Москва", "Санкт-Петербург", "Казань")),
                "manager_id": managers[n % len(managers)],
                "financial_segment": rng.choice(("stable_keeper", "active_investor")),
            }
            for n in range(count)
        ]
        await s.execute(insert(m.ClientRow), rows)
        ids = dict(
            (
                await s.execute(
                    select(m.ClientRow.external_id, m.ClientRow.id).where(
                        m.ClientRow.external_id.like("C-S%")
                    )
                )
            ).all()
        )
        await s.execute(
            insert(m.ProductHoldingRow),
            [
                {
                    "client_id": cid,
                    "product_type": "deposit",
                    "name": "Вклад",
                    "balance": rng.randint(1, 90) * 1_000_000,
                    "currency": "RUB",
                }
                for cid in ids.values()
            ],
        )
        await s.execute(
            insert(m.ServiceRequestRow),
            [
                {
                    "client_id": cid,
                    "service_code": "cash_delivery",
                    "status": "new",
                    "urgent": False,
                    "summary": "Доставка наличных",
                    "details": {},
                    "created_at": now,
                    "ack_due_at": now + timedelta(hours=1 + n % 5),
                    "resolve_due_at": now + timedelta(hours=24),
                    "escalation_level": 0,
                }
                for n, cid in enumerate(ids.values())
                if n % SYNTHETIC_REQUEST_SHARE == 0
            ],
        )
        await uow.commit()
    return base + count


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed(session: ClientSession, url: str, count: int) -> dict[str, float]:
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "max_ms": round(max(samples), 2),
    }


async def measure(base: str, crm: SqlCrm, requests: int) -> dict[str, dict[str, float]]:
    clock = SystemClock()
    async with crm.unit_of_work() as uow:
        staff = await uow.staff.by_external_id(MANAGER)
        client = await uow.clients.by_external_id(CARD_CLIENT)
        assert staff is not None and client is not None
        issued = await issue_login(uow, clock=clock, staff=staff, policy=DeskPolicy())
        await uow.commit()
    assert issued is not None
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        async with session.get(f"{base}/login/{issued.code}") as form:
            page = await form.text()
        nonce = page.split('name="nonce" value="')[1].split('"')[0]
        async with session.post(
            f"{base}/login", data={"code": issued.code, "nonce": nonce}, allow_redirects=False
        ) as signed:
            if signed.status != 303:
                raise RuntimeError(f"sign-in failed: HTTP {signed.status}")
        # Warm-up: templates compiled, connections pooled, the first analysis done.
        for path in ("/requests", f"/clients/{client.id}", "/static/desk.css"):
            await timed(session, base + path, 3)
        return {
            "static": await timed(session, f"{base}/static/desk.css", requests),
            "queue": await timed(session, f"{base}/requests", requests),
            "card": await timed(session, f"{base}/clients/{client.id}", requests),
        }


async def run(requests: int, clients: int) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'crm.db'}"
        settings = Settings(
            environment="test",
            var_dir=Path(folder),
            database=DatabaseSettings(url=url),
            knowledge=KnowledgeSettings(chroma_path=Path(folder) / "chroma"),
        )
        crm = SqlCrm.from_url(url)
        await upgrade(crm.engine)
        summary = await load_demo_data(crm, clock=SystemClock())
        clock = SystemClock()
        desk = build_desk(
            settings,
            crm=crm,
            clock=clock,
            notifier=OutboxNotifier(crm, clock, ContactPolicy()),
        )
        runner = await start_desk(desk, host="127.0.0.1", port=0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            runs = {f"demo bank ({summary.clients} clients)": await measure(base, crm, requests)}
            total = await add_synthetic_clients(crm, clients)
            runs[f"+{clients} synthetic ({total} clients)"] = await measure(base, crm, requests)
        finally:
            await runner.cleanup()
            await crm.close()
    return {"requests": requests, "runs": runs, "targets_p95_ms": TARGETS_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="GETs per page and run")
    parser.add_argument("--clients", type=int, default=10_000, help="synthetic clients to add")
    args = parser.parse_args()
    result = asyncio.run(run(args.requests, args.clients))
    print(f"{'run':<36} {'page':<8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'target':>8}")
    met = True
    for name, pages in result["runs"].items():
        for page_name, figures in pages.items():
            target = TARGETS_MS.get(page_name)
            ok = target is None or figures["p95_ms"] <= target
            met = met and ok
            shown = f"<={target:.0f}" if target else "baseline"
            print(
                f"{name:<36} {page_name:<8} {figures['p50_ms']:>8} {figures['p95_ms']:>8} "
                f"{figures['max_ms']:>8} {shown:>8}{'' if ok else '  MISSED'}"
            )
    result["targets_met"] = met
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
