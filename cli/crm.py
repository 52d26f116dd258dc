"""`concierge crm …`: the bank's own CRM by hand: sync, the write queue, pushing it now."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Annotated

import typer
from tqdm import tqdm

from cli.logging_setup import configure_logging
from common.clock import SystemClock
from common.settings import Settings, get_settings
from crm_adapter.master.factory import build_master_crm
from crm_adapter.master.port import MasterCrm
from crm_adapter.master.records import QueueStatus
from crm_adapter.master.sync import SyncReport, sync_from_master
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter, WriterTally


async def _open(settings: Settings) -> tuple[SqlCrm, MasterCrm | None]:
    crm = await SqlCrm.open(settings.database.url, write_back=settings.crm.writes_back)
    try:
        master = build_master_crm(
            settings.crm, crm=crm, language=settings.behaviour.default_language
        )
    except BaseException:
        await crm.close()
        raise
    return crm, master


class _Bars:
    """One tqdm bar per stream, on stderr, as the sync reports its chunks."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bars: dict[str, tqdm] = {}

    def __call__(self, stream: str, count: int, total: int | None) -> None:
        if not self._enabled:
            return
        bar = self._bars.get(stream)
        if bar is None:
            bar = self._bars[stream] = tqdm(total=total, desc=stream, unit=" records")
        elif total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(count)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


async def run_sync(settings: Settings, *, full: bool, progress: bool) -> SyncReport:
    crm, master = await _open(settings)
    bars = _Bars(progress)
    try:
        if master is None or not master.reads_master_data:
            raise typer.BadParameter(
                f"CRM_BACKEND={settings.crm.backend} has no master data to sync"
            )
        return await sync_from_master(crm, master, SystemClock(), full=full, progress=bars)
    finally:
        bars.close()
        if master is not None:
            await master.close()
        await crm.close()


async def queue_status(settings: Settings, *, retry_dead: bool) -> tuple[QueueStatus, int]:
    async with SqlCrm.opened(settings.database.url) as crm, crm.unit_of_work() as uow:
        requeued = await uow.crm_writes.requeue_dead(now=SystemClock().now()) if retry_dead else 0
        status = await uow.crm_writes.status()
        await uow.commit()
    return status, requeued


async def push(settings: Settings) -> WriterTally:
    """Writes what is due now, as the leader's writer would (its own worker id, so the two
    never take each other's writes for stranded ones)."""
    crm, master = await _open(settings)
    try:
        if master is None:
            raise typer.BadParameter("CRM_BACKEND=local: nothing is written to another CRM")
        writer = CrmWriter.from_settings(settings.crm, crm, master, SystemClock())
        writer.worker_id = f"{socket.gethostname()}:{os.getpid()}:crm-push"
        return await writer.drain()
    finally:
        if master is not None:
            await master.close()
        await crm.close()


def register(app: typer.Typer) -> None:
    """Adds the `crm` command group to the main CLI."""
    crm_app = typer.Typer(help="The bank's own CRM: sync, write queue.", no_args_is_help=True)

    @crm_app.command("sync")
    def sync_command(
        full: Annotated[
            bool, typer.Option("--full", help="read everything, not only what changed")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
    ) -> None:
        """Read clients, staff, managers, holdings and life events from the CRM."""
        settings = get_settings()
        configure_logging(settings)
        report = asyncio.run(run_sync(settings, full=full, progress=not quiet))
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))

    @crm_app.command("queue")
    def queue_command(
        retry_dead: Annotated[
            bool, typer.Option("--retry-dead", help="put the dead letters back in the queue")
        ] = False,
    ) -> None:
        """Show the queue of writes to the CRM and its dead letters."""
        status, requeued = asyncio.run(queue_status(get_settings(), retry_dead=retry_dead))
        if retry_dead:
            typer.echo(f"requeued {requeued} dead letters")
        typer.echo(
            f"pending {status.pending}, sending {status.sending}, done {status.done}, "
            f"dead {status.dead}"
        )
        for dead in status.dead_letters:
            typer.echo(
                f"  dead #{dead.id} {dead.kind} client {dead.client_external_id} "
                f"attempts {dead.attempts}: {dead.last_error}"
            )

    @crm_app.command("push")
    def push_command() -> None:
        """Write what is due to the CRM now (the scheduler's leader does this continuously)."""
        settings = get_settings()
        configure_logging(settings)
        tally = asyncio.run(push(settings))
        typer.echo(
            f"delivered {tally.delivered}, found already delivered {tally.found_delivered}, "
            f"retried {tally.retried}, dead {tally.dead}"
        )

    app.add_typer(crm_app, name="crm")
