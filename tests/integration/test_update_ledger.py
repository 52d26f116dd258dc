"""The per-update ledger on SQLite and PostgreSQL: same accounts, same rows as the ORM reads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, select, text

from common.clock import ManualClock
from crm_adapter import models as m
from crm_adapter.dto import Interaction, LinkedAccount
from crm_adapter.migrate import upgrade
from crm_adapter.port import DuplicateUpdate, UpdateLedger
from crm_adapter.sql import SqlCrm, create_engine
from crm_adapter.sqlite_driver import LoopConnection
from crm_adapter.update_ledger_core import CoreUpdateLedger
from crm_adapter.update_ledger_sqlite import SqliteUpdateLedger
from tests.factories import MiniBank, make_bank

CLIENT_USER, STAFF_USER, ERASED_USER = 5101, 5102, 5103


async def _linked_bank(crm: SqlCrm, clock: ManualClock) -> MiniBank:
    bank = await make_bank(crm)
    now = clock.now()
    async with crm.unit_of_work() as uow:
        s = uow.session
        s.add_all(
            [
                m.MessengerLinkRow(
                    user_id=CLIENT_USER,
                    chat_id=CLIENT_USER,
                    client_id=bank.client_id,
                    linked_at=now,
                    language="en",
                ),
                m.MessengerLinkRow(
                    user_id=STAFF_USER, chat_id=STAFF_USER, staff_id=bank.manager_id, linked_at=now
                ),
                m.ConsentRow(
                    client_id=bank.client_id,
                    document_version="2025-09-01",
                    granted=True,
                    channel="messenger",
                    recorded_at=now - timedelta(days=1),
                ),
                # The latest word counts: consent given, then withdrawn.
                m.ConsentRow(
                    client_id=bank.other_client_id,
                    document_version="2025-09-01",
                    granted=True,
                    channel="messenger",
                    recorded_at=now - timedelta(days=2),
                ),
                m.ConsentRow(
                    client_id=bank.other_client_id,
                    document_version="2025-09-01",
                    granted=True,
                    channel="messenger",
                    recorded_at=now - timedelta(days=1),
                    withdrawn_at=now,
                ),
                m.MessengerLinkRow(
                    user_id=ERASED_USER,
                    chat_id=ERASED_USER,
                    client_id=bank.other_client_id,
                    linked_at=now,
                ),
            ]
        )
        await uow.commit()
    return bank


def _ledgers(crm: SqlCrm) -> list[UpdateLedger]:
    """The ledger the store chose and, on SQLite, the Core one it stands in for."""
    chosen = crm.ledger
    if isinstance(chosen, SqliteUpdateLedger):
        return [chosen, CoreUpdateLedger(crm.engine)]
    return [chosen]


async def test_accounts_read_by_the_ledger_equal_the_unit_of_works(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await _linked_bank(store, clock)
    for ledger in _ledgers(store):
        for user_id in (CLIENT_USER, STAFF_USER, ERASED_USER, 999_999):
            async with store.unit_of_work() as uow:
                expected = await uow.links.with_owner(user_id)
            assert await ledger.account(user_id) == expected, (ledger, user_id)

    client = await store.ledger.account(CLIENT_USER)
    assert client is not None and client.client is not None
    assert client.client.id == bank.client_id and client.consent_active
    assert client.link.language == "en" and client.link.linked_at.tzinfo is not None
    assert client.client.quiet_start.hour == 22 and client.client.birthday is not None
    staff = await store.ledger.account(STAFF_USER)
    assert staff is not None and staff.staff is not None and staff.client is None
    assert staff.staff.id == bank.manager_id and staff.staff.roles == {"manager"}
    withdrawn = await store.ledger.account(ERASED_USER)
    assert withdrawn is not None and not withdrawn.consent_active
    assert await store.ledger.account(999_999) is None


def _inbound(update_id: int, at: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "channel": "messenger",
        "direction": "in",
        "kind": "message",
        "actor": "client",
        "client_id": None,
        "staff_id": None,
        "chat_id": CLIENT_USER,
        "text": "Добрый день",
        "payload": {"content_type": "text", "message_id": 7},
        "update_id": update_id,
        **changes,
    }


async def _rows(crm: SqlCrm) -> list[Interaction]:
    """Read back through the ORM, whose type conversions are the reference."""
    async with crm.unit_of_work() as uow:
        found = await uow.session.scalars(select(m.InteractionRow).order_by(m.InteractionRow.id))
        return [Interaction.model_validate(row) for row in found]


async def test_a_claim_is_committed_once_and_a_redelivery_refused(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await _linked_bank(store, clock)
    at = datetime(2026, 5, 4, 12, 30, 15, 123456, tzinfo=UTC)
    for n, ledger in enumerate(_ledgers(store)):
        first = _inbound(100 + n, at, client_id=bank.client_id)
        await ledger.open_update(CLIENT_USER, lambda _found, row=first: row)
        again = _inbound(100 + n, at, text="again")
        with pytest.raises(DuplicateUpdate):
            await ledger.open_update(CLIENT_USER, lambda _found, row=again: row)

    rows = await _rows(store)
    assert [r.update_id for r in rows] == [100 + n for n in range(len(_ledgers(store)))]
    for row in rows:
        assert row.occurred_at == at and row.text == "Добрый день"
        assert row.payload == {"content_type": "text", "message_id": 7}
        assert row.client_id == bank.client_id and row.direction == "in"


async def test_update_ids_and_accounts_are_per_messenger(
    store: SqlCrm, clock: ManualClock
) -> None:
    """Telegram and MAX count their update ids and user ids independently: the same number
    in the other messenger is another update and another account."""
    bank = await _linked_bank(store, clock)
    async with store.unit_of_work() as uow:
        # The manager's MAX account happens to have the client's Telegram user id.
        await uow.links.bind(
            user_id=CLIENT_USER,
            chat_id=CLIENT_USER,
            client_id=None,
            staff_id=bank.manager_id,
            now=clock.now(),
            language=None,
            messenger="max",
        )
        await uow.commit()
    at = clock.now()
    for n, ledger in enumerate(_ledgers(store)):
        update_id = 500 + n
        for messenger in ("telegram", "max"):
            row = _inbound(update_id, at)
            found = await ledger.open_update(
                CLIENT_USER, lambda _found, row=row: row, messenger=messenger
            )
            assert found is not None
            owner = found.client if messenger == "telegram" else found.staff
            assert owner is not None and found.link.messenger == messenger
        with pytest.raises(DuplicateUpdate):
            again = _inbound(update_id, at)
            await ledger.open_update(CLIENT_USER, lambda _f, row=again: row, messenger="max")
        reply = {
            "occurred_at": at,
            "kind": "message",
            "chat_id": CLIENT_USER,
            "text": "ответ",
            "payload": {},
            "messenger": "max",
        }
        await ledger.log_replies([reply], known_owners={})
    rows = await _rows(store)
    claimed = [(r.messenger, r.update_id) for r in rows if r.direction == "in"]
    expected = [
        (messenger, 500 + n)
        for n in range(len(_ledgers(store)))
        for messenger in ("telegram", "max")
    ]
    assert sorted(claimed) == sorted(expected)
    # A reply in the MAX chat belongs to its MAX owner (the manager), not the Telegram one.
    replies = [(r.messenger, r.client_id, r.staff_id) for r in rows if r.direction == "out"]
    assert set(replies) == {("max", None, bank.manager_id)}


async def test_replies_are_logged_with_the_owner_of_each_chat(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await _linked_bank(store, clock)
    at = clock.now()
    for ledger in _ledgers(store):
        await ledger.log_replies(
            [
                # The client's own chat (owner known to the caller), the manager's chat (looked
                # up), and a chat nobody is linked to.
                {
                    "occurred_at": at,
                    "kind": "message",
                    "chat_id": CLIENT_USER,
                    "text": "Ответ",
                    "payload": {"method": "sendMessage"},
                },
                {
                    "occurred_at": at,
                    "kind": "message",
                    "chat_id": STAFF_USER,
                    "text": "Алерт",
                    "payload": {"method": "sendMessage"},
                },
                {
                    "occurred_at": at,
                    "kind": "delivery_failed",
                    "chat_id": 42,
                    "text": None,
                    "payload": {"method": "sendMessage", "error": "TelegramForbiddenError"},
                },
            ],
            known_owners={("telegram", CLIENT_USER): (bank.client_id, None)},
        )
    rows = await _rows(store)
    owners = [(r.chat_id, r.client_id, r.staff_id, r.actor, r.direction) for r in rows]
    expected = [
        (CLIENT_USER, bank.client_id, None, "bot", "out"),
        (STAFF_USER, None, bank.manager_id, "bot", "out"),
        (42, None, None, "bot", "out"),
    ]
    assert owners == expected * len(_ledgers(store))
    assert rows[2].payload == {"method": "sendMessage", "error": "TelegramForbiddenError"}


async def test_concurrent_claims_and_an_open_transaction_never_lock_each_other_out(
    store: SqlCrm, clock: ManualClock
) -> None:
    # On SQLite the ledger's writes take the file's write turn like the units of work do:
    # a handler's transaction holding it delays the claims, never fails them.
    at = clock.now()
    async with store.unit_of_work() as uow:
        await uow.interactions.record(
            occurred_at=at, channel="messenger", direction="internal", kind="note", actor="system"
        )
        claims = [
            asyncio.create_task(
                store.ledger.open_update(CLIENT_USER, lambda _found, i=i: _inbound(1000 + i, at))
            )
            for i in range(20)
        ]
        await asyncio.sleep(0.05)
        await uow.commit()
    await asyncio.gather(*claims)
    assert len(await _rows(store)) == 21


async def test_opening_an_update_reads_the_account_and_claims_it_in_one_go(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await _linked_bank(store, clock)
    at = clock.now()
    for n, ledger in enumerate(_ledgers(store)):
        seen: list[LinkedAccount | None] = []
        opened = await ledger.open_update(CLIENT_USER, _recording(seen, 200 + n, at))
        assert opened is not None and opened == seen[0] == await ledger.account(CLIENT_USER)
        with pytest.raises(DuplicateUpdate):
            await ledger.open_update(CLIENT_USER, _recording(seen, 200 + n, at))
        assert await ledger.open_update(999_999, _recording(seen, 300 + n, at)) is None
        assert seen[-1] is None

    rows = await _rows(store)
    claimed = [(r.update_id, r.client_id) for r in rows]
    ledgers = range(len(_ledgers(store)))
    assert claimed == [x for n in ledgers for x in ((200 + n, bank.client_id), (300 + n, None))]


def _recording(
    seen: list[LinkedAccount | None], update_id: int, at: datetime
) -> Callable[[LinkedAccount | None], dict[str, Any]]:
    def inbound(found: LinkedAccount | None) -> dict[str, Any]:
        seen.append(found)
        client_id = found.client.id if found and found.client else None
        return _inbound(update_id, at, client_id=client_id)

    return inbound


async def test_on_sqlite_an_update_is_one_job_on_the_loop_without_a_thread_hop(
    sqlite_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the pool every job also paid a checkout and a check-in, and on a worker thread
    # a wake-up of the thread and of the loop; the ledger's own connection runs each step as
    # one job on the loop itself.
    crm = SqlCrm.from_url(sqlite_url)
    try:
        bank = await _linked_bank(crm, clock)
        ledger = crm.ledger
        assert isinstance(ledger, SqliteUpdateLedger)
        hops: list[str] = []
        original = aiosqlite.Connection._execute

        async def counted(self: aiosqlite.Connection, fn: Any, *args: Any) -> Any:
            hops.append(getattr(fn, "__name__", "?"))
            return await original(self, fn, *args)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        threads: list[int] = []
        for name in ("_open_update", "_log_replies"):
            job = getattr(ledger, name)

            def on_thread(*args: Any, job: Any = job) -> Any:
                threads.append(threading.get_ident())
                return job(*args)

            monkeypatch.setattr(ledger, name, on_thread)
        checkouts: list[object] = []
        event.listen(crm.engine.sync_engine.pool, "checkout", lambda *_: checkouts.append(1))
        at = clock.now()

        opened = await asyncio.gather(
            *(
                ledger.open_update(CLIENT_USER, lambda _found, i=i: _inbound(400 + i, at))
                for i in range(10)
            )
        )
        await ledger.log_replies(
            [
                {
                    "occurred_at": at,
                    "kind": "message",
                    "chat_id": CLIENT_USER,
                    "text": "Ок",
                    "payload": {},
                }
            ],
            known_owners={},
        )

        assert all(a is not None and a.client is not None for a in opened)
        assert threads == [threading.get_ident()] * 11
        assert hops == [] and checkouts == []
        rows = await _rows(crm)
        assert sorted(r.update_id for r in rows if r.update_id) == list(range(400, 410))
        assert [r.client_id for r in rows if r.direction == "out"] == [bank.client_id]
    finally:
        await crm.close()
    # Closed with the store; a store used again opens a fresh one.
    assert await crm.ledger.account(CLIENT_USER) is not None
    await crm.close()


async def test_on_sqlite_another_processs_lock_is_waited_for_without_stalling_the_loop(
    sqlite_url: str, clock: ManualClock
) -> None:
    crm = SqlCrm.from_url(sqlite_url)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        await _linked_bank(crm, clock)
        at = clock.now()
        other.execute("BEGIN IMMEDIATE")  # a CLI command in the middle of its transaction
        claim = asyncio.create_task(
            crm.ledger.open_update(CLIENT_USER, lambda _found: _inbound(500, at))
        )
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        # The loop went on serving others meanwhile; the claim waits for its turn.
        assert ticks == 20 and not claim.done()
        other.rollback()
        assert await asyncio.wait_for(claim, 5) is not None
        assert [r.update_id for r in await _rows(crm)] == [500]
    finally:
        other.close()
        await crm.close()


async def test_on_sqlite_the_ledger_checkpoints_the_log_off_the_loop(
    sqlite_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own connection never checkpoints on commit (that copies the log and fsyncs on the
    # loop); without the periodic checkpoint the write-ahead log would only grow.
    monkeypatch.setattr(LoopConnection, "CHECKPOINT_EVERY", 20)
    crm = SqlCrm.from_url(sqlite_url)
    wal = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///") + "-wal")
    try:
        await _linked_bank(crm, clock)
        at = clock.now()
        ledger = crm.ledger
        assert isinstance(ledger, SqliteUpdateLedger)
        for i in range(200):
            await ledger.open_update(CLIENT_USER, lambda _found, i=i: _inbound(600 + i, at))
            checkpoint = ledger._connection._checkpoint
            if i % 20 == 19 and checkpoint is not None:  # a quiet moment: it finishes
                await checkpoint
        await ledger.close()  # waits for a checkpoint under way
        assert ledger._connection.checkpoints == 10
        # The log is written again from its start after a checkpoint, so the file stays at
        # about 20 commits' worth of pages (a commit here adds about two) instead of 200's.
        assert wal.stat().st_size < 100 * 4096
    finally:
        await crm.close()


@pytest.mark.postgres
async def test_on_postgresql_a_pooled_connection_the_server_dropped_is_replaced(
    postgres_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pooled connections are pinged only after sitting idle (pre-ping at every checkout was
    # a round trip per checkout); the ledger's account read, every update's first
    # statement, reads again on a fresh connection after a restart under traffic.
    crm = SqlCrm.from_url(postgres_url)
    admin = create_engine(postgres_url)
    try:
        await upgrade(crm.engine)
        await _linked_bank(crm, clock)
        at = clock.now()

        async def drop_the_pooled_connection() -> int:
            async with crm.engine.connect() as conn:
                pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            async with admin.connect() as plain:
                # Each check in a transaction of its own: PostgreSQL snapshots the activity
                # view at a transaction's first look.
                conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                for _ in range(250):
                    gone = await conn.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": pid},
                    )
                    if gone.scalar_one() == 0:
                        return pid
                    await asyncio.sleep(0.02)
            raise AssertionError("the backend was not terminated")

        # Dropped while in use moments ago: not pinged, the ledger reads again.
        dropped = await drop_the_pooled_connection()
        opened = await crm.ledger.open_update(CLIENT_USER, lambda _found: _inbound(701, at))
        assert opened is not None and opened.client is not None
        assert await drop_the_pooled_connection() != dropped

        # Dropped while idle: the ping at checkout finds it dead and the pool replaces it.
        monkeypatch.setattr("crm_adapter.sql.time.monotonic", lambda: 10.0**9)
        async with crm.unit_of_work() as uow:
            assert await uow.clients.get(opened.client.id) is not None
        assert [r.update_id for r in await _rows(crm) if r.update_id] == [701]
    finally:
        await admin.dispose()
        await crm.close()


async def test_every_ledger_stores_a_persons_text_masked(
    store: SqlCrm, clock: ManualClock
) -> None:
    # The SQLite ledger binds its own compiled statements; the column's masking must hold
    # there as on the Core path (PostgreSQL) and the ORM.
    await _linked_bank(store, clock)
    at = clock.now()
    said = "карта 4276 1234 5678 9014, тел. +7 916 123-45-67"
    for n, ledger in enumerate(_ledgers(store)):
        row = _inbound(800 + n, at, text=said)
        await ledger.open_update(CLIENT_USER, lambda _found, row=row: row)
        await ledger.log_replies(
            [
                {
                    "occurred_at": at,
                    "kind": "message",
                    "chat_id": CLIENT_USER,
                    "text": said,
                    "payload": {"method": "sendMessage"},
                }
            ],
            known_owners={},
        )
    texts = [r.text for r in await _rows(store)]
    assert texts and set(texts) == {"карта [card *9014], тел. [phone]"}
