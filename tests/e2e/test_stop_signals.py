"""`concierge run` stops cleanly on SIGTERM, as orchestrators stop a process.

Before, only `concierge scheduler` handled SIGTERM: a `run` replica died at once, so as the
scheduler's leader it kept its lease (the next leader waited for it to expire) and left the
writes due to the bank's CRM to whoever led next.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy import func, select

from bench.max_standin import MaxStandIn
from cli.signals import run_until_signalled
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from tests.e2e.conftest import MAX_TEST_TOKEN

ROOT = Path(__file__).resolve().parents[2]
# Imports of aiogram, chromadb and the embedder on two shared cores: seconds alone, over a
# minute beside other test runs.
START_TIMEOUT = 180.0


async def _leases(crm: SqlCrm) -> int:
    async with crm.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(m.SchedulerLeaseRow)) or 0)


async def test_sigterm_ends_run_after_the_leader_steps_down(
    sqlite_url: str, crm: SqlCrm, max_api: MaxStandIn, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "MAX_", "DATABASE_", "REDIS_", "CRM_"))
    }
    env.update(
        DATABASE_URL=sqlite_url,
        MAX_BOT_TOKEN=MAX_TEST_TOKEN,
        MAX_API_URL=max_api.base_url,
        CONCIERGE_VAR_DIR=str(tmp_path),
        WEB_ENABLED="false",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        # cwd: a directory of its own, so no developer's .env is read.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "run", "--channel", "max",
            cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not await _leases(crm):  # leading: its lease is in the table
                assert process.returncode is None, log_path.read_text(errors="replace")
                await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = log_path.read_text(errors="replace")
    assert code == 0, output
    assert "stopping on SIGTERM" in output
    assert await _leases(crm) == 0  # stepped down: the next leader need not wait


async def test_a_signal_cancels_the_work_and_lets_its_cleanup_run() -> None:
    cleaned: list[str] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("closed")

    asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(10):
        await run_until_signalled(work())
    assert cleaned == ["closed"]
    # The handler is gone with the work: SIGTERM's own disposition is back.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def test_work_that_ends_by_itself_returns_without_a_signal() -> None:
    async def work() -> str:
        return "done"

    await run_until_signalled(work())
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
