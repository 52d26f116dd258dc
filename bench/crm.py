"""The bank's CRM as master: sync in, write-back out, against the Bitrix24 stand-in.

    python -m bench.crm [--clients 10000] [--interactions 10000] [--outage-writes 2000]

The stand-in runs in its own process (bench/bitrix24_standin.py, a synthetic bank of
`--clients` clients, 3 holdings and a life event each) at Bitrix24's limits: 2 requests/s
drained from a bucket of 50, lists paged by 50, `batch` of 50. Rows, on a SQLite store:

- sync: a full sync of the bank into an empty store through the stand-in (clients/s, the
  requests it took, peak RSS of this process), beside the same records applied from memory
  (the store's share of the time);
- log: `--interactions` interactions logged through the update ledger with the local store
  only, then with write-back (each queued in the same transaction): updates/s of both;
- write-back: those interactions drained to the stand-in, writes/s against the allowed rate
  (2 requests/s x 50 per batch);
- outage+kill: `--outage-writes` more, a writer in another process killed with SIGKILL while
  writing, the stand-in down for `--outage-seconds`, then a fresh writer: lost and duplicated
  writes counted from the stand-in's record of every key it was sent.

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from common.clock import SystemClock
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.bitrix24.rest import Bitrix24Rest
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.records import (
    Chunk,
    CrmEvent,
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Outcome,
)
from crm_adapter.master.sync import sync_from_master
from crm_adapter.migrate import upgrade
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter

ROOT = Path(__file__).resolve().parent.parent
RATE = 2.0
BATCH = 50
SECRET = "bench"  # noqa: S105 - the stand-in's webhook path, a local test value


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Row:
    name: str
    count: int
    seconds: float
    per_second: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class StandInProcess:
    """`python -m bench.bitrix24_standin` in a child process."""

    def __init__(self, clients: int, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.webhook = f"{self.base}/rest/1/{SECRET}/"
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "bench.bitrix24_standin",
                "--port",
                str(port),
                "--clients",
                str(clients),
                "--rate",
                str(RATE),
                "--burst",
                "50",
                "--secret",
                SECRET,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    async def ready(self) -> None:
        assert self._process.stdout is not None
        while True:
            line = await asyncio.to_thread(self._process.stdout.readline)
            if not line:
                raise RuntimeError("the stand-in did not start")
            if line.startswith("CRM_BITRIX24_WEBHOOK_URL="):
                return

    async def stats(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.base}/_standin/stats") as r:
            return dict(await r.json())

    async def outage(self, seconds: float) -> None:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{self.base}/_standin/outage", params={"seconds": str(seconds)})

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def bitrix24(webhook: str) -> Bitrix24Crm:
    return Bitrix24Crm(
        Bitrix24Rest(webhook_url=webhook, requests_per_second=RATE),
        holdings_entity_type_id=1032,
        life_events_entity_type_id=1036,
    )


class Recorded:
    """A master replaying what a real one answered: the store's share of a sync, alone."""

    name = "recorded"
    reads_master_data = True
    max_batch = BATCH

    def __init__(self) -> None:
        self.chunks: dict[str, list[Chunk[Any]]] = {}

    def wrap(self, master: MasterCrm) -> MasterCrm:
        recorder = self

        class Recording:
            name = master.name
            reads_master_data = True
            max_batch = master.max_batch

            async def _keep(
                self, stream: str, chunks: AsyncIterator[Chunk[Any]]
            ) -> AsyncIterator[Chunk[Any]]:
                async for chunk in chunks:
                    recorder.chunks.setdefault(stream, []).append(chunk)
                    yield chunk

            def staff(self) -> AsyncIterator[Chunk[MasterStaff]]:
                return self._keep("staff", master.staff())

            def clients(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterClient]]:
                return self._keep("clients", master.clients(since=since))

            def holdings(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterHolding]]:
                return self._keep("holdings", master.holdings(since=since))

            def life_events(
                self, *, since: datetime | None
            ) -> AsyncIterator[Chunk[MasterLifeEvent]]:
                return self._keep("life_events", master.life_events(since=since))

            async def client_ids(self) -> set[str]:
                return await master.client_ids()

            async def clients_absent(self, remote_ids: Collection[str]) -> set[str]:
                return await master.clients_absent(remote_ids)

            async def write(self, events: Sequence[CrmEvent]) -> list[Outcome]:
                return await master.write(events)

            async def find_delivered(self, events: Sequence[CrmEvent]) -> dict[str, str | None]:
                return await master.find_delivered(events)

            async def close(self) -> None:
                await master.close()

        return Recording()

    async def _replay(self, stream: str) -> AsyncIterator[Chunk[Any]]:
        for chunk in self.chunks.get(stream, []):
            yield chunk

    def staff(self) -> AsyncIterator[Chunk[MasterStaff]]:
        return self._replay("staff")

    def clients(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterClient]]:
        return self._replay("clients")

    def holdings(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterHolding]]:
        return self._replay("holdings")

    def life_events(self, *, since: datetime | None) -> AsyncIterator[Chunk[MasterLifeEvent]]:
        return self._replay("life_events")

    async def client_ids(self) -> set[str]:
        return set()

    async def clients_absent(self, remote_ids: Collection[str]) -> set[str]:
        return set()

    async def write(self, events: Sequence[CrmEvent]) -> list[Outcome]:
        raise NotImplementedError

    async def find_delivered(self, events: Sequence[CrmEvent]) -> dict[str, str | None]:
        return {}

    async def close(self) -> None:
        return None


async def fresh_store(path: Path, *, write_back: bool) -> SqlCrm:
    crm = SqlCrm.from_url(f"sqlite+aiosqlite:///{path}", write_back=write_back)
    await upgrade(crm.engine)
    return crm


async def sync_rows(
    standin: StandInProcess, workdir: Path, clients: int
) -> tuple[list[Row], SqlCrm]:
    crm = await fresh_store(workdir / "crm.db", write_back=True)
    recorded = Recorded()
    master = recorded.wrap(bitrix24(standin.webhook))
    before = await standin.stats()
    rss_before = rss_mb()
    started = time.perf_counter()
    report = await sync_from_master(crm, master, SystemClock(), full=True)
    seconds = time.perf_counter() - started
    after = await standin.stats()
    await master.close()
    assert report.streams, report
    synced = report.as_dict()["clients"]["created"]
    sync = Row(
        "sync from stand-in",
        synced,
        round(seconds, 1),
        round(synced / seconds, 1),
        f"{after['requests'] - before['requests']} requests, RSS +"
        f"{rss_mb() - rss_before:.0f} MB (peak {peak_rss_mb():.0f} MB)",
        extra=report.as_dict(),
    )
    baseline_crm = await fresh_store(workdir / "baseline.db", write_back=True)
    started = time.perf_counter()
    await sync_from_master(baseline_crm, recorded, SystemClock(), full=True)
    baseline_seconds = time.perf_counter() - started
    await baseline_crm.close()
    baseline = Row(
        "same records, from memory",
        synced,
        round(baseline_seconds, 1),
        round(synced / baseline_seconds, 1),
        "the store's share of the sync",
    )
    assert synced == clients, f"synced {synced} of {clients}"
    return [sync, baseline], crm


async def client_ids(crm: SqlCrm, count: int) -> list[int]:
    async with crm.unit_of_work() as uow:
        return [c.id for c in (await uow.clients.all())[:count]]


def _same_row(row: dict[str, Any], _found: object) -> dict[str, Any]:
    """The ledger's inbound row, whoever the account turned out to be."""
    return row


async def log_interactions(crm: SqlCrm, clients: list[int], count: int) -> float:
    """Inbound updates through the ledger, one per update as the bot logs them; seconds."""
    clock = SystemClock()
    started = time.perf_counter()
    offset = int(time.time() * 1000) % 10**9 * 100

    for n in range(count):
        client = clients[n % len(clients)]
        row = {
            "occurred_at": clock.now(),
            "channel": "messenger",
            "direction": "in",
            "kind": "message",
            "actor": "client",
            "client_id": client,
            "staff_id": None,
            "chat_id": client,
            "text": f"Сообщение {n}",
            "payload": {"message_id": n},
            "update_id": offset + n,
        }
        await crm.ledger.open_update(client, functools.partial(_same_row, row))
    return time.perf_counter() - started


async def queue_counts(crm: SqlCrm) -> dict[str, int]:
    async with crm.unit_of_work() as uow:
        status = await uow.crm_writes.status()
    return {
        "pending": status.pending,
        "sending": status.sending,
        "done": status.done,
        "dead": status.dead,
    }


async def run_until_done(crm: SqlCrm, writer: CrmWriter, timeout: float) -> float:
    started = time.perf_counter()
    task = writer.start()
    try:
        while time.perf_counter() - started < timeout:
            counts = await queue_counts(crm)
            if not counts["pending"] and not counts["sending"]:
                break
            await asyncio.sleep(0.2)
    finally:
        await writer.stop()
        del task
    return time.perf_counter() - started


async def log_rows(workdir: Path, crm: SqlCrm, interactions: int) -> list[Row]:
    clients = await client_ids(crm, 2_000)
    # The baseline store holds the same bank (applied from memory): here without write-back.
    local = SqlCrm.from_url(f"sqlite+aiosqlite:///{workdir / 'baseline.db'}", write_back=False)
    assert await client_ids(local, 2_000) == clients
    local_seconds = await log_interactions(local, clients, interactions)
    await local.close()
    queued_seconds = await log_interactions(crm, clients, interactions)
    counts = await queue_counts(crm)
    assert counts["pending"] == interactions, counts
    return [
        Row(
            "log, local store only",
            interactions,
            round(local_seconds, 1),
            round(interactions / local_seconds),
            "update ledger, inbound",
        ),
        Row(
            "log + queue for the CRM",
            interactions,
            round(queued_seconds, 1),
            round(interactions / queued_seconds),
            f"{(queued_seconds - local_seconds) / interactions * 1e6:+.0f} us per update",
        ),
    ]


async def writeback_row(standin: StandInProcess, crm: SqlCrm, interactions: int) -> Row:
    master = bitrix24(standin.webhook)
    writer = CrmWriter(crm, master, SystemClock(), worker_id="bench:writer", poll_interval=0.05)
    before = await standin.stats()
    seconds = await run_until_done(crm, writer, timeout=interactions / (RATE * BATCH) * 4 + 60)
    after = await standin.stats()
    await master.close()
    delivered = after["keys_written"] - before["keys_written"]
    allowed = RATE * BATCH
    rate = delivered / seconds
    return Row(
        "write-back to stand-in",
        delivered,
        round(seconds, 1),
        round(rate, 1),
        f"ratio {rate / allowed:.2f} of {allowed:.0f}/s allowed; "
        f"{after['requests'] - before['requests']} requests, "
        f"{after['limited'] - before['limited']} refused by the limit",
        extra={"ratio": round(rate / allowed, 3), "duplicates": len(after["duplicate_keys"])},
    )


async def outage_row(
    standin: StandInProcess, crm: SqlCrm, workdir: Path, writes: int, outage_seconds: float
) -> Row:
    clients = await client_ids(crm, 2_000)
    await log_interactions(crm, clients, writes)
    before = await standin.stats()
    expected = before["keys_written"] + writes
    database = f"sqlite+aiosqlite:///{workdir / 'crm.db'}"
    child = subprocess.Popen(  # noqa: S603 - this module, fixed arguments
        [sys.executable, "-m", "bench.crm", "--writer-process", database, standin.webhook],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    # Killed in the middle of writing: after a fifth of the writes reached the portal.
    while (await standin.stats())["keys_written"] < before["keys_written"] + writes // 5:
        await asyncio.sleep(0.05)
    await standin.outage(outage_seconds)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    stranded = (await queue_counts(crm))["sending"]
    master = bitrix24(standin.webhook)
    writer = CrmWriter(
        crm,
        master,
        SystemClock(),
        worker_id="bench:writer-child",
        retry_base=1.0,
        retry_cap=4.0,
        poll_interval=0.05,
    )
    await run_until_done(crm, writer, timeout=writes / (RATE * BATCH) * 4 + outage_seconds + 60)
    seconds = time.perf_counter() - started
    await master.close()
    after = await standin.stats()
    counts = await queue_counts(crm)
    lost = expected - after["keys_written"]
    duplicates = sum(n - 1 for n in after["duplicate_keys"].values())
    return Row(
        "outage + kill -9",
        writes,
        round(seconds, 1),
        round(writes / seconds, 1),
        f"lost {lost}, duplicated {duplicates}; {stranded} in flight at the kill, "
        f"{writer.tally.found_delivered} found delivered, down {outage_seconds:.0f}s",
        extra={
            "lost": lost,
            "duplicated": duplicates,
            "queue": counts,
            "found_delivered": writer.tally.found_delivered,
            "in_flight": stranded,
        },
    )


async def writer_process(database: str, webhook: str) -> None:
    crm = SqlCrm.from_url(database, write_back=True)
    writer = CrmWriter(crm, bitrix24(webhook), SystemClock(), worker_id="bench:writer-child")
    await writer.run()


def print_table(rows: list[Row]) -> None:
    print(f"{'row':<28} {'count':>7} {'s':>7} {'per s':>8}  note")
    for r in rows:
        print(f"{r.name:<28} {r.count:>7} {r.seconds:>7} {r.per_second:>8}  {r.note}")


async def main_async(args: argparse.Namespace) -> list[Row]:
    standin = StandInProcess(args.clients, args.port)
    try:
        await standin.ready()
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
            workdir = Path(tmp)
            rows, crm = await sync_rows(standin, workdir, args.clients)
            rows += await log_rows(workdir, crm, args.interactions)
            rows.append(await writeback_row(standin, crm, args.interactions))
            rows.append(
                await outage_row(standin, crm, workdir, args.outage_writes, args.outage_seconds)
            )
            await crm.close()
    finally:
        standin.stop()
    return rows


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--writer-process":
        asyncio.run(writer_process(sys.argv[2], sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=10_000)
    parser.add_argument("--outage-writes", type=int, default=2_000)
    parser.add_argument("--outage-seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=8925)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = asyncio.run(main_async(args))
    print_table(rows)
    print(json.dumps({r.name: {**r.__dict__} for r in rows}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
