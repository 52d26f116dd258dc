"""Commands on a database that was never migrated, or migrated by other code, say what to run.

Regression: `concierge demo-data` on a fresh database used to end in SQLAlchemy's "no such
table" traceback, with the bound parameters of the failed statement.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_adapter.migrate import SchemaNotReady, head_revision, upgrade
from crm_adapter.sql import SqlCrm, create_engine

ROOT = Path(__file__).resolve().parents[2]


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"


async def test_a_fresh_database_is_refused_before_any_query(tmp_path: Path) -> None:
    with pytest.raises(SchemaNotReady, match="no schema yet: run `concierge migrate` first"):
        await SqlCrm.open(_url(tmp_path))


async def test_a_migrated_database_opens(tmp_path: Path) -> None:
    engine = create_engine(_url(tmp_path))
    await upgrade(engine)
    await engine.dispose()
    crm = await SqlCrm.open(_url(tmp_path))
    await crm.close()


async def test_a_database_behind_or_from_a_newer_release_is_named(tmp_path: Path) -> None:
    engine = create_engine(_url(tmp_path))
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    await engine.dispose()
    with pytest.raises(SchemaNotReady) as refused:
        await SqlCrm.open(_url(tmp_path))
    assert "f00dfeed" in str(refused.value)
    assert "does not know" in str(refused.value)
    assert refused.value.head == head_revision()


@pytest.mark.parametrize("command", [["demo-data"], ["link", "C-0001"], ["events", "import", "x"]])
def test_commands_on_an_unmigrated_database_print_what_to_run(
    tmp_path: Path, command: list[str]
) -> None:
    if command[:2] == ["events", "import"]:
        source = tmp_path / "events.csv"
        source.write_text("title\n", encoding="utf-8")
        command = ["events", "import", str(source)]
    env = {**os.environ, "DATABASE_URL": _url(tmp_path), "CONCIERGE_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "run `concierge migrate` first" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
