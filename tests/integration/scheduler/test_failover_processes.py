"""Leader failover between two real scheduler processes on one PostgreSQL CRM.

Two `concierge scheduler` replicas (tests/replica_process.py) share a freshly migrated
schema; a probe job records every slot it runs and the process that ran it. The leader is
killed with SIGKILL, so it releases nothing itself: PostgreSQL frees its advisory lock when
the connection drops and the standby must take over, run the following slots, and no slot
may run twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from scheduler.service import sync_url
from tests.conftest import _migrate
from tests.replica_process import PROBE_TABLE, READY

pytestmark = pytest.mark.postgres

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
HEARTBEAT = 0.5
# Generous on purpose: both replicas import aiogram, chromadb and the use cases on two
# shared cores; alone that is seconds, beside other test runs it took over a minute.
START_TIMEOUT = 180.0
SLOTS_BEFORE_AND_AFTER = 3
# From the kill to the survivor's first slot: a heartbeat to notice the free lock, a moment
# to start APScheduler; the rest is slack for a busy machine.
MAX_FAILOVER_SECONDS = 2 * HEARTBEAT + 4

Rows = list[tuple[int, int, float]]  # (slot, pid, started_at)


class Replica:
    def __init__(self, url: str, workdir: Path, name: str) -> None:
        workdir.mkdir()
        self.stderr_path = workdir / "stderr.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "DATABASE_", "SCHEDULER_", "REDIS_"))
        }
        env.update(
            DATABASE_URL=url,
            SCHEDULER_LEADER_HEARTBEAT_SECONDS=str(HEARTBEAT),
            CONCIERGE_ENV="test",
            CONCIERGE_VAR_DIR=str(workdir),
            LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        with self.stderr_path.open("wb") as stderr:
            # cwd: a directory of its own, so no developer's .env is read.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.replica_process"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        self.name = name

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        return READY in self.stderr_path.read_text(errors="replace")

    def log_tail(self) -> str:
        lines = self.stderr_path.read_text(errors="replace").splitlines()[-30:]
        return f"--- {self.name} (pid {self.pid}) ---\n" + "\n".join(lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # graceful: steps down and releases the lock
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    asyncio.run(_migrate(postgres_url))
    yield postgres_url


def probe_rows(engine: Engine) -> Rows:
    with engine.connect() as conn:
        result = conn.execute(
            text(f"SELECT slot, pid, started_at FROM {PROBE_TABLE} ORDER BY started_at")
        )
        return [(int(slot), int(pid), float(at)) for slot, pid, at in result]


def wait_until(
    condition: Callable[[Rows], bool],
    engine: Engine,
    replicas: list[Replica],
    *,
    alive: list[Replica],
    timeout: float,
    what: str,
) -> Rows:
    deadline = time.monotonic() + timeout
    while True:
        rows = probe_rows(engine)
        if condition(rows):
            return rows
        dead = [replica for replica in alive if replica.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            problem = f"{dead[0].name} exited" if dead else f"timed out waiting for {what}"
            logs = "\n".join(replica.log_tail() for replica in replicas)
            pytest.fail(f"{problem}; probe rows {rows}\n{logs}")
        time.sleep(0.1)


def test_standby_process_takes_over_when_the_leader_is_killed(pg_url: str, tmp_path: Path) -> None:
    engine = create_engine(sync_url(pg_url))
    with engine.begin() as conn:
        # No unique constraint on purpose: a slot run twice must show up, not fail quietly.
        conn.execute(
            text(
                f"CREATE TABLE {PROBE_TABLE} "
                "(slot BIGINT NOT NULL, pid INTEGER NOT NULL, started_at DOUBLE PRECISION)"
            )
        )
    replicas = [Replica(pg_url, tmp_path / name, name) for name in ("a", "b")]
    try:
        # Both up, one of them leading and running the probe.
        rows = wait_until(
            lambda rows: len(rows) >= SLOTS_BEFORE_AND_AFTER and all(r.ready() for r in replicas),
            engine,
            replicas,
            alive=replicas,
            timeout=START_TIMEOUT,
            what="both replicas up and the probe running",
        )
        leaders = {pid for _, pid, _ in rows}
        assert len(leaders) == 1, f"two replicas ran jobs before any failover: {rows}"
        (leader_pid,) = leaders
        leader = next(r for r in replicas if r.pid == leader_pid)
        survivor = next(r for r in replicas if r.pid != leader_pid)

        killed_at = time.time()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)

        rows = wait_until(
            lambda rows: (
                sum(1 for _, pid, at in rows if pid == survivor.pid and at > killed_at)
                >= SLOTS_BEFORE_AND_AFTER
            ),
            engine,
            replicas,
            alive=[survivor],
            timeout=START_TIMEOUT,
            what="the survivor to take over",
        )
        survivor.stop()
        # SIGTERM: the new leader steps down and releases the lock cleanly.
        assert survivor.process.returncode == 0, survivor.log_tail()
        rows = probe_rows(engine)  # final: nothing runs any more
    finally:
        for replica in replicas:
            replica.stop()
        engine.dispose()

    assert {pid for _, pid, _ in rows} == {leader_pid, survivor.pid}
    runs_per_slot = Counter(slot for slot, _, _ in rows)
    twice = sorted(slot for slot, count in runs_per_slot.items() if count > 1)
    assert not twice, f"slots run more than once: {twice} in {rows}"
    leader_slots = [slot for slot, pid, _ in rows if pid == leader_pid]
    survivor_runs = [(slot, at) for slot, pid, at in rows if pid == survivor.pid]
    # One leader at a time: the survivor's first slot comes after the killed leader's last.
    assert max(leader_slots) < min(slot for slot, _ in survivor_runs), rows
    failover = min(at for _, at in survivor_runs) - killed_at
    log.info(
        "failover: survivor's first run %.2f s after SIGKILL; slots skipped: %d",
        failover,
        min(slot for slot, _ in survivor_runs) - max(leader_slots) - 1,
    )
    assert 0 < failover < MAX_FAILOVER_SECONDS, rows
