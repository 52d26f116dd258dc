"""Write-back to Bitrix24 (the stand-in): in order per client, exactly once across an outage,
a kill -9 between send and confirm, expired tokens and the portal's rate limit; what the CRM
refuses becomes a dead letter admins can see and retry."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bench.bitrix24_portal import MARKER_PREFIX, Portal
from bench.bitrix24_standin import Bitrix24StandIn
from bench.crm import queue_counts
from common.clock import ManualClock
from concierge.crm_queue import crm_queue_report, retry_dead_letters
from crm_adapter import models as m
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.bitrix24.rest import Bitrix24Rest
from crm_adapter.master.state import TOKENS, SqlTokenStore, read_state
from crm_adapter.master.sync import sync_from_master
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter
from tests.crm_writer_process import READY
from tests.factories import log_message
from tests.integration.crm_master.conftest import HOLDINGS, LIFE_EVENTS, bitrix24

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = ("C-0001", "C-0002", "C-0004")


async def _log_conversations(store: SqlCrm, clock: ManualClock, per_client: int) -> list[int]:
    """Interactions of a few clients, interleaved as live conversations are; their ids."""
    ids: list[int] = []
    async with store.unit_of_work() as uow:
        clients = [await uow.clients.by_external_id(c) for c in CLIENTS]
        for n in range(per_client):
            for client in clients:
                assert client is not None
                ids.append(
                    await log_message(
                        uow,
                        at=clock.now(),
                        direction="in" if n % 2 else "out",
                        actor="client" if n % 2 else "bot",
                        client_id=client.id,
                        chat_id=client.id,
                        text=f"сообщение {n}",
                    )
                )
        await uow.commit()
    return ids


def _keys_by_contact(portal: Portal) -> dict[str, list[int]]:
    """Per contact, the interaction ids of its timeline comments in the order they landed."""
    found: dict[str, list[int]] = defaultdict(list)
    for _id, comment in sorted(portal.comments.items()):
        last = comment["COMMENT"].rstrip().rsplit("\n", 1)[-1]
        kind, _, number = last[len(MARKER_PREFIX) : -1].partition(":")
        if kind == "interaction":
            found[comment["ENTITY_ID"]].append(int(number))
    return found


async def test_crm_down_queue_grows_crm_back_drained_in_order_nothing_lost_or_doubled(
    store: SqlCrm,
    master: Bitrix24Crm,
    standin: Bitrix24StandIn,
    portal: Portal,
    clock: ManualClock,
) -> None:
    await sync_from_master(store, master, clock, full=True)
    writer = CrmWriter(store, master, clock, retry_base=1.0, retry_cap=60.0)
    await standin.outage()
    first = await _log_conversations(store, clock, per_client=10)
    await writer.drain()  # the CRM refuses connections: the writer pauses, nothing is lost
    assert writer.tally.unavailable >= 1 and writer.tally.delivered == 0
    clock.advance(timedelta(minutes=30))
    second = await _log_conversations(store, clock, per_client=10)  # the queue grows
    assert (await queue_counts(store))["pending"] == len(first) + len(second)
    await writer.drain()
    assert writer.tally.delivered == 0

    await standin.restore()
    clock.advance(timedelta(minutes=30))
    await writer.drain()

    assert await queue_counts(store) == {"pending": 0, "sending": 0, "done": 60, "dead": 0}
    assert portal.duplicates() == {}
    landed = _keys_by_contact(portal)
    expected: dict[str, list[int]] = defaultdict(list)
    async with store.unit_of_work() as uow:
        for row in await uow.session.scalars(
            select(m.InteractionRow)
            .where(m.InteractionRow.id.in_(first + second))
            .order_by(m.InteractionRow.id)
        ):
            ref = await uow.session.scalar(
                select(m.CrmRefRow.remote_id).where(
                    m.CrmRefRow.kind == "client", m.CrmRefRow.local_id == row.client_id
                )
            )
            expected[str(ref)].append(row.id)
    assert landed == expected  # every one, once, in each client's order


async def test_write_back_is_exactly_once_across_a_kill_9_between_send_and_confirm(
    sqlite_url: str,
    store: SqlCrm,
    master: Bitrix24Crm,
    standin: Bitrix24StandIn,
    portal: Portal,
    clock: ManualClock,
) -> None:
    await sync_from_master(store, master, clock, full=True)
    ids = await _log_conversations(store, clock, per_client=20)
    worker_id = "test-host:crm-writer"
    standin.hold_writes = asyncio.Event()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(  # noqa: ASYNC220 - a child killed from this test on purpose
        [
            sys.executable,
            "-m",
            "tests.crm_writer_process",
            sqlite_url,
            standin.webhook_url,
            worker_id,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        assert line.decode().strip() == READY
        # The portal has run the first batch; its answer is held back. Now the writer dies.
        await asyncio.wait_for(standin.executed.wait(), timeout=120)
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        if process.stdout is not None:
            process.stdout.close()
    standin.hold_writes.set()
    standin.hold_writes = None
    landed_before = len(portal.written)
    assert landed_before > 0
    assert (await queue_counts(store))["sending"] == landed_before  # sent, never confirmed

    # The same host's writer starts again: what it had sent is looked up, not sent again.
    writer = CrmWriter(store, master, clock, worker_id=worker_id)
    await writer.drain()

    assert writer.tally.found_delivered == landed_before
    assert await queue_counts(store) == {"pending": 0, "sending": 0, "done": len(ids), "dead": 0}
    assert portal.duplicates() == {}
    assert sorted(portal.written) == sorted(f"interaction:{i}" for i in ids)


async def test_a_second_writer_on_the_same_host_leaves_the_first_ones_sends_alone(
    store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    # Two replicas on one machine shared the default id "<host>:crm-writer": a new leader
    # took the old leader's writes still in flight for its own stranded ones, found nothing
    # in the CRM yet and sent them again (the old one's answer was still on its way).
    await sync_from_master(store, master, clock, full=True)
    ids = await _log_conversations(store, clock, per_client=2)
    old_leader = CrmWriter(store, master, clock)
    async with store.unit_of_work() as uow:
        in_flight = await uow.crm_writes.claim(
            now=clock.now(), worker_id=old_leader.worker_id, limit=len(ids)
        )
        await uow.commit()
    assert len(in_flight) == len(ids)

    new_leader = CrmWriter(store, master, clock)
    await new_leader.drain()

    assert not portal.written  # nothing sent twice: the old leader's writes are its own
    assert (await queue_counts(store))["sending"] == len(in_flight)


async def test_expired_access_tokens_are_refreshed_and_the_rotated_token_kept(
    store: SqlCrm, portal: Portal, clock: ManualClock
) -> None:
    async with Bitrix24StandIn(portal, rate=1000, burst=1000) as api:
        rest = Bitrix24Rest(
            portal_url=api.base_url,
            client_id=api.client_id,
            client_secret=api.client_secret,
            refresh_token=api.issue_refresh_token(),
            oauth_url=api.oauth_url,
            tokens=SqlTokenStore(store.engine),
            requests_per_second=1000,
        )
        master = Bitrix24Crm(
            rest, holdings_entity_type_id=HOLDINGS, life_events_entity_type_id=LIFE_EVENTS
        )
        try:
            await sync_from_master(store, master, clock, full=True)
            ids = await _log_conversations(store, clock, per_client=2)
            api.expire_tokens()
            await CrmWriter(store, master, clock).drain()
        finally:
            await master.close()
        assert api.stats.expired >= 1
    assert sorted(portal.written) == sorted(f"interaction:{i}" for i in ids)
    async with store.unit_of_work() as uow:
        kept = await read_state(uow.session, TOKENS)
    # The refresh token the portal issued last (each one works once) is the one kept.
    assert kept is not None and kept["refresh_token"] in api.refresh_tokens


async def test_the_portals_rate_limit_is_waited_out(
    store: SqlCrm, portal: Portal, clock: ManualClock
) -> None:
    # A tight bucket and a client that paces too fast: QUERY_LIMIT_EXCEEDED answers come back.
    async with Bitrix24StandIn(portal, rate=20, burst=2) as api:
        master = bitrix24(api.webhook_url, per_second=1000)
        try:
            await sync_from_master(store, master, clock, full=True)
            ids = await _log_conversations(store, clock, per_client=5)
            await CrmWriter(store, master, clock, batch_size=2).drain()
        finally:
            await master.close()
        assert api.stats.limited > 0
    assert sorted(portal.written) == sorted(f"interaction:{i}" for i in ids)
    assert portal.duplicates() == {}


async def test_a_write_the_crm_refuses_is_a_dead_letter_admins_see_and_retry(
    store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    await sync_from_master(store, master, clock, full=True)
    gone = portal.contact_by_client_id("C-0002")
    del portal.contacts[int(gone["ID"])]  # deleted in the CRM before the next sync
    await _log_conversations(store, clock, per_client=2)

    await CrmWriter(store, master, clock).drain()

    async with store.unit_of_work() as uow:
        admin = await uow.staff.by_external_id("S-0006")
        manager = await uow.staff.by_external_id("S-0001")
        assert admin is not None and manager is not None
        assert await crm_queue_report(uow, clock=clock, staff=manager, backend="bitrix24") is None
        report = await crm_queue_report(uow, clock=clock, staff=admin, backend="bitrix24")
        assert report is not None and report.status is not None
        assert report.status.dead == 2 and report.status.done == 4
        assert {d.client_external_id for d in report.status.dead_letters} == {"C-0002"}
        assert all(d.last_error == "refused: NOT_FOUND" for d in report.status.dead_letters)
        assert await retry_dead_letters(uow, clock=clock, staff=admin) == 2
        await uow.commit()
    assert (await queue_counts(store))["pending"] == 2
