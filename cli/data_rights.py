"""`concierge client export|erase`: a data subject's 152-FZ request run by its ticket's owner.

The same use cases as the bot's /export and /erase: the ticket must be assigned to the
staff member given with --staff, and the outcome is audited under their name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from bot.callbacks import MAX_ROW_ID
from cli.commands import run_or_refuse
from common.clock import SystemClock
from common.settings import Settings
from concierge.data_rights import (
    ConversationMemory,
    DataRightsRefused,
    ErasureResult,
    ExportResult,
    erase_client,
    export_client,
)
from crm_adapter.dto import Staff
from crm_adapter.port import Crm, UnitOfWork

T = TypeVar("T")


class DataRightsError(Exception):
    """The command could not run; the message says why, for the operator."""


async def _as_owner(
    crm: Crm, staff_ref: str, run: Callable[[UnitOfWork, Staff], Awaitable[T]]
) -> T:
    """Runs a data-rights use case as the staff member `staff_ref`, in one transaction; a
    refusal is committed too (its audit entry stays) and reported to the operator."""
    async with crm.unit_of_work() as uow:
        staff = await uow.staff.by_external_id(staff_ref)
        if staff is None:
            raise DataRightsError(f"no staff member {staff_ref}")
        try:
            result = await run(uow, staff)
        except DataRightsRefused as refused:
            await uow.commit()
            raise DataRightsError(f"refused: {refused.reason.value}") from refused
        await uow.commit()
    return result


async def _run_export(
    crm: Crm, *, client: str, ticket: int, staff_ref: str, deliver: bool
) -> ExportResult:
    return await _as_owner(
        crm,
        staff_ref,
        lambda uow, staff: export_client(
            uow, SystemClock(), staff=staff, request_id=ticket, client_ref=client, deliver=deliver
        ),
    )


async def _run_erase(
    crm: Crm, memory: ConversationMemory | None, *, client: str, ticket: int, staff_ref: str
) -> ErasureResult:
    return await _as_owner(
        crm,
        staff_ref,
        lambda uow, staff: erase_client(
            uow, SystemClock(), memory, staff=staff, request_id=ticket, client_ref=client
        ),
    )


def _memory(settings: Settings) -> ConversationMemory | None:
    """The deployment's shared conversation state; without Redis it lives in the bot's own
    process, which a command cannot reach (it lapses with the state TTL or a restart)."""
    if settings.redis.url is None:
        return None
    from redis.asyncio import Redis

    from bot.replica_state import ConversationEraser

    return ConversationEraser(
        storage=None, redis=Redis.from_url(settings.redis.url), prefix=settings.redis.key_prefix
    )


# Module-level: typer reads the annotations by name (they are strings here).
# A ticket number out of the database's integer range is no ticket (it raised an overflow).
TICKET = typer.Option(
    "--ticket", min=1, max=MAX_ROW_ID, help="the client's data request (ticket) number"
)
STAFF = typer.Option("--staff", help="the ticket's owner, e.g. S-0001")


def register(app: typer.Typer) -> None:
    client_app = typer.Typer(no_args_is_help=True, help="A client's 152-FZ data requests.")
    app.add_typer(client_app, name="client")

    @client_app.command("export")
    def export(
        client: Annotated[str, typer.Argument(help="external id, e.g. C-0001")],
        ticket: Annotated[int, TICKET],
        staff: Annotated[str, STAFF],
        out: Annotated[Path, typer.Option("--out", help="write the zip here")],
        deliver: Annotated[
            bool, typer.Option("--deliver/--no-deliver", help="queue it to the client's chat")
        ] = True,
    ) -> None:
        """Export everything held about the client (JSON + CSV in a zip)."""
        from common.settings import get_settings
        from crm_adapter.sql import SqlCrm

        async def run() -> ExportResult:
            async with SqlCrm.opened(get_settings().database.url) as crm:
                return await _run_export(
                    crm, client=client, ticket=ticket, staff_ref=staff, deliver=deliver
                )

        result = run_or_refuse(run(), DataRightsError)
        out.write_bytes(result.archive)
        typer.echo(
            f"{out}: {result.records} records in {result.sections} sections; "
            f"queued to the client: {'yes' if result.delivered else 'no'}; ticket closed"
        )

    @client_app.command("erase")
    def erase(
        client: Annotated[str, typer.Argument(help="external id, e.g. C-0001")],
        ticket: Annotated[int, TICKET],
        staff: Annotated[str, STAFF],
        yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    ) -> None:
        """Erase the client's personal data everywhere (irreversible)."""
        from common.settings import get_settings
        from crm_adapter.sql import SqlCrm

        if not yes:
            typer.confirm(f"Erase all personal data of {client} (ticket #{ticket})?", abort=True)
        settings = get_settings()

        async def run() -> ErasureResult:
            memory = _memory(settings)
            try:
                async with SqlCrm.opened(settings.database.url) as crm:
                    return await _run_erase(
                        crm, memory, client=client, ticket=ticket, staff_ref=staff
                    )
            finally:
                redis = getattr(memory, "redis", None)
                if redis is not None:
                    await redis.aclose()

        result = run_or_refuse(run(), DataRightsError)
        typer.echo(
            f"{result.external_id}: erased ({result.report.total()} rows changed, "
            f"{result.forgotten} conversation entries forgotten); "
            f"confirmation queued: {'yes' if result.confirmed else 'no'}; ticket closed"
        )
        if settings.redis.url is None:
            typer.echo(
                "note: without REDIS_URL the bot keeps conversation state in its own memory; "
                "it lapses with REDIS_STATE_TTL_SECONDS or a restart"
            )
