"""What the SQLite store erased or overwrote is gone from the file, not left in free space.

SQLite frees a deleted or rewritten row's space without clearing it: a text from before it was
masked, or an erased client's notes (152-FZ), stayed readable in the file's bytes until the
space happened to be reused. With `secure_delete` every connection of the store (the engine's
and the update ledger's own) zeroes it.

Debian builds SQLite with secure_delete on by default; SQLite's own default (python.org's
builds, many others) is off. The tests start every connection from that default, so they
show what the store's own setting does wherever it runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from common.clock import ManualClock
from common.settings import Settings
from concierge.erasure_terms import name_forms
from concierge.retention import purge_personal_data
from crm_adapter import models as m
from crm_adapter import sqlite_driver
from crm_adapter.sql import SqlCrm
from crm_adapter.update_ledger_sqlite import SqliteUpdateLedger
from tests.factories import make_bank

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
DELIVERY = "Мария, курьер привезёт карту на Моховая, 11, кв. 42 завтра с 10 до 12"
NOTE = "Любимый ресторан: Белуга на Моховой, столик у окна"


@pytest.fixture(autouse=True)
def _built_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection starts as SQLite's default build leaves it, before the store's own
    settings run."""
    monkeypatch.setattr(
        sqlite_driver, "PRAGMAS", ("PRAGMA secure_delete=OFF", *sqlite_driver.PRAGMAS)
    )


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[SqlCrm]:
    crm = SqlCrm.from_url(sqlite_url)
    yield crm
    await crm.close()


def _database(url: str) -> Path:
    database = make_url(url).database
    assert database
    return Path(database)


async def _file_bytes(crm: SqlCrm, url: str) -> bytes:
    """The file as a copy of it would read: the write-ahead log moved into it first."""
    async with crm.engine.connect() as conn:
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    path = _database(url)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_an_outbox_text_overwritten_at_retention_is_gone_from_the_file(
    store: SqlCrm, sqlite_url: str
) -> None:
    async with store.unit_of_work() as uow:
        uow.session.add(
            m.OutboxMessageRow(
                idempotency_key="courier",
                chat_id=1001,
                text=DELIVERY,
                message_class="service",
                kind="notification",
                created_at=OLD,
                not_before=OLD,
                next_attempt_at=OLD,
                status="sent",
            )
        )
        await uow.commit()
    # The test can see a text in the file.
    assert DELIVERY.encode() in await _file_bytes(store, sqlite_url)
    async with store.unit_of_work() as uow:
        purged = await purge_personal_data(uow, ManualClock(NOW), timedelta(days=365))
        await uow.commit()
    assert purged["outbox_message"] == 1
    raw = await _file_bytes(store, sqlite_url)
    assert "Моховая".encode() not in raw and "Мария".encode() not in raw


async def test_an_erased_clients_note_is_gone_from_the_file(
    store: SqlCrm, sqlite_url: str
) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        await uow.profiles.add_note(
            client_id=bank.client_id, author_id=bank.manager_id, text=NOTE, kind="note", now=NOW
        )
        await uow.commit()
    assert NOTE.encode() in await _file_bytes(store, sqlite_url)
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(bank.client_id)
        assert client is not None
        await uow.personal_data.erase(
            bank.client_id,
            mentions=name_forms(client, await uow.clients.all()),
            fragments=[],
            now=NOW,
        )
        await uow.commit()
    raw = await _file_bytes(store, sqlite_url)
    assert NOTE.encode() not in raw
    assert "Петрович".encode() not in raw  # the client record's own middle name


@pytest.mark.parametrize("secure_delete", [True, False], ids=["default", "turned_off"])
async def test_every_connection_of_the_store_follows_the_setting(
    sqlite_url: str, secure_delete: bool
) -> None:
    """DATABASE_SQLITE_SECURE_DELETE (on unless turned off) holds for the engine's
    connections and the update ledger's own, whatever the build's default."""
    assert Settings().database.sqlite_secure_delete
    crm = SqlCrm.from_url(sqlite_url, secure_delete=secure_delete)
    try:
        async with crm.engine.connect() as conn:
            engine_setting = (await conn.execute(text("PRAGMA secure_delete"))).scalar()
        # The update ledger's own connection, on the event loop.
        assert isinstance(crm.ledger, SqliteUpdateLedger)
        ledger_setting = await crm.ledger._connection.run_job(
            lambda connection: connection.execute("PRAGMA secure_delete").fetchone()[0]
        )
    finally:
        await crm.close()
    assert engine_setting == ledger_setting == int(secure_delete)
