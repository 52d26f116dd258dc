"""The regenerated migration creates the delivery tables the models declare."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from crm_adapter.migrate import upgrade
from crm_adapter.sql import create_engine


async def test_migration_creates_delivery_tables(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")
    await upgrade(engine)
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        unique = await conn.run_sync(lambda c: inspect(c).get_unique_constraints("outbox_message"))
    await engine.dispose()
    assert {"outbox_message", "contact_decision", "rule_firing", "scheduler_lease"} <= tables
    assert any(u["column_names"] == ["idempotency_key"] for u in unique)
