"""Stopping a long-running process cleanly on SIGTERM as on Ctrl-C.

An orchestrator (systemd, Docker, Kubernetes) stops a process with SIGTERM, whose default
action ends it at once: the scheduler's leader would not step down (the next leader waits
out its lease) and the writes due to the bank's CRM would wait for that leader. Here both
signals cancel the work, so the callers' `finally` blocks run their shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(work: Coroutine[Any, Any, object]) -> None:
    """Runs `work` until it ends or SIGINT/SIGTERM arrives; a signal ends it quietly."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    signalled: list[str] = []

    def stop(sig: signal.Signals) -> None:
        signalled.append(sig.name)
        task.cancel()

    installed = []
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError):  # not available on every platform
            loop.add_signal_handler(sig, stop, sig)
            installed.append(sig)
    try:
        await task
    except asyncio.CancelledError:
        if not signalled:
            raise  # cancelled from outside, not by a signal: the caller's business
        log.info("stopping on %s", signalled[0])
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
