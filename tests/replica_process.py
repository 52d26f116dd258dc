"""One scheduler replica in its own OS process, for the failover test.

    python -m tests.replica_process

runs `concierge scheduler` (the real CLI entry, settings from the environment) with one
extra job, `failover.probe`, every second. Each run of the probe records the slot it ran for
and this process's id in the `failover_probe` table, which the test creates: the rows show
who led when, and whether any slot ran twice.

The probe is added by wrapping `build_proactive` where the scheduler command looks it up,
in this process only, so production code carries no test hook; like every real job it is
persisted in APScheduler's job store and fired through `scheduler.service.run_job`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

PROBE_JOB = "failover.probe"
PROBE_TABLE = "failover_probe"
PROBE_EVERY = timedelta(seconds=1)
# Logged once the replica is wired, just before it starts competing for the leader lock:
# a standby logs nothing else, and the test must not kill the leader before both are up.
READY = "failover replica wired"

log = logging.getLogger("tests.replica_process")


def _install_probe() -> None:
    from cli import scheduler as scheduler_cli
    from scheduler.bootstrap import Proactive

    # Where `concierge scheduler` looks the wiring up (imported by name into its module).
    target = "build_proactive"
    build: Callable[..., Proactive] = getattr(scheduler_cli, target)

    def build_with_probe(*args: Any, **kwargs: Any) -> Proactive:
        proactive = build(*args, **kwargs)
        crm = kwargs["crm"]

        async def probe() -> None:
            # Read before the first await. APScheduler calls a job only within its misfire
            # grace (one period here) after the slot, and nothing yields between its check
            # and this line, so the second on the clock is the slot on the anchored grid
            # (whole seconds) that this run is for.
            started = time.time()
            async with crm.engine.begin() as conn:
                await conn.execute(
                    text(
                        f"INSERT INTO {PROBE_TABLE} (slot, pid, started_at)"
                        " VALUES (:slot, :pid, :started)"
                    ),
                    {"slot": math.floor(started), "pid": os.getpid(), "started": started},
                )

        proactive.service.add_periodic(PROBE_JOB, probe, every=PROBE_EVERY)
        log.info("%s: pid %d", READY, os.getpid())
        return proactive

    setattr(scheduler_cli, target, build_with_probe)


def main() -> None:
    _install_probe()
    from cli.main import main as concierge

    sys.argv = ["concierge", "scheduler"]
    concierge()


if __name__ == "__main__":
    main()
