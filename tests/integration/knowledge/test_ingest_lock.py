"""One ingestion at a time: the lock in the CRM database (lease row on SQLite, advisory lock
on PostgreSQL), waiting, refusing, the CLI's exit code, and stopping when the lock is lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import knowledge as cli
from common.settings import KnowledgeSettings
from crm_adapter.migrate import SchemaNotReady
from crm_adapter.sql import SqlCrm
from knowledge.answers import KnowledgeBase
from knowledge.ingest import IngestionInterrupted
from knowledge.ingest_lock import (
    INGEST_LOCK_NAME,
    IngestionBusy,
    ingest_exclusively,
    ingest_lock_for,
)
from tests.integration.knowledge.conftest import copy_documents, knowledge_cli
from tests.unit.knowledge.fakes import HashingEmbedder


class GatedEmbedder(HashingEmbedder):
    """Holds the first embedding call until the test opens the gate: an ingestion in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.entered.set()
        if not self.gate.wait(10):
            raise AssertionError("the test never opened the gate")
        return super().embed_documents(texts)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    # The lock is the subject here, not the documents: three are enough and quick.
    return copy_documents(tmp_path / "docs", ["fx.md", "safe-box.md", "deposits.md"])


@pytest.fixture(params=["sqlite", "postgres"])
def lock_database(request: pytest.FixtureRequest) -> str:
    """Where the locks live: migrated SQLite, or a PostgreSQL schema (skipped without one)."""
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


@pytest.fixture
async def crm(lock_database: str) -> AsyncIterator[SqlCrm]:
    store = SqlCrm.from_url(lock_database)
    yield store
    await store.close()


async def test_a_second_ingestion_is_refused_or_waits_while_one_runs(
    crm: SqlCrm, settings: KnowledgeSettings
) -> None:
    gated = GatedEmbedder()
    first_kb = KnowledgeBase(settings, gated)
    second_kb = KnowledgeBase(settings, HashingEmbedder())
    first = asyncio.create_task(ingest_exclusively(first_kb, ingest_lock_for(crm)))
    assert await asyncio.to_thread(gated.entered.wait, 5)

    with pytest.raises(IngestionBusy, match="another ingestion is running"):
        await ingest_exclusively(second_kb, ingest_lock_for(crm))
    waiting = asyncio.create_task(
        ingest_exclusively(second_kb, ingest_lock_for(crm), wait=10, poll=0.05)
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()

    gated.gate.set()
    done = await asyncio.wait_for(first, 10)
    after = await asyncio.wait_for(waiting, 10)
    assert done.added and not after.changed  # the second one ran after the first, in full
    # Both released: a third takes the lock at once.
    assert await ingest_exclusively(second_kb, ingest_lock_for(crm))


class LosingLock:
    """Granted, then reported lost at the first heartbeat after `lose` is set."""

    def __init__(self) -> None:
        self.released = False
        self.lose = False

    async def acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return not self.lose

    async def release(self) -> None:
        self.released = True


async def test_an_ingestion_that_loses_its_lock_stops_between_documents(
    settings: KnowledgeSettings,
) -> None:
    gated = GatedEmbedder()
    lock = LosingLock()
    run = asyncio.create_task(
        ingest_exclusively(KnowledgeBase(settings, gated), lock, heartbeat=0.01)
    )
    assert await asyncio.to_thread(gated.entered.wait, 5)
    lock.lose = True
    await asyncio.sleep(0.1)  # the heartbeat notices the loss while a document is embedded
    gated.gate.set()
    with pytest.raises(IngestionInterrupted, match="lock was lost"):
        await asyncio.wait_for(run, 10)
    assert lock.released

    # Documents are replaced whole: the next run adds exactly what is missing.
    rest = KnowledgeBase(settings, HashingEmbedder()).ingest()
    assert len(rest.unchanged) == 1 and rest.added


def test_cli_refuses_with_a_clear_message_and_exit_75_while_another_ingests(
    settings: KnowledgeSettings, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hold() -> None:
        # Another process's lease (60 s); it stays behind when that "process" goes away.
        crm = SqlCrm.from_url(sqlite_url)
        assert await ingest_lock_for(crm).acquire()
        await crm.close()

    asyncio.run(hold())
    app = knowledge_cli(KnowledgeBase(settings, HashingEmbedder()), sqlite_url, monkeypatch)
    result = CliRunner().invoke(app, ["ingest", "--quiet"])
    assert result.exit_code == cli.EXIT_BUSY
    assert "another ingestion is running" in result.output
    assert INGEST_LOCK_NAME in result.output


def test_cli_on_an_unmigrated_database_says_so(
    settings: KnowledgeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    app = knowledge_cli(KnowledgeBase(settings, HashingEmbedder()), url, monkeypatch)
    result = CliRunner().invoke(app, ["ingest", "--quiet"])
    # `concierge` (cli.main) prints SchemaNotReady as one line and exits 2; see test_schema_check.
    assert isinstance(result.exception, SchemaNotReady)
    assert "concierge migrate" in str(result.exception)
    assert str(tmp_path) not in str(result.exception)  # no database URL in the message
