"""`concierge brief <client>`: the meeting brief in a terminal, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer

from cli.commands import run_or_refuse
from common.clock import Clock, SystemClock
from concierge.briefing import ProductFacts, prepare_briefing
from concierge.briefing_render import render, to_dict
from concierge.insights.reasons import Templates
from concierge.workspace import resolve_client
from crm_adapter.dto import Role, Staff
from crm_adapter.port import Crm, UnitOfWork


class BriefError(Exception):
    """The brief could not be produced; the message says why, for the operator."""


async def _acting_staff(uow: UnitOfWork, staff_ref: str | None) -> Staff:
    if staff_ref:
        staff = await uow.staff.by_external_id(staff_ref)
        if staff is None:
            raise BriefError(f"no staff member {staff_ref}")
        return staff
    # Without --staff the CLI acts as the first administrator, and the audit log says so.
    admins = await uow.staff.with_role(Role.ADMIN)
    if not admins:
        raise BriefError("no administrator in the CRM; pass --staff")
    return admins[0]


async def brief_text(
    crm: Crm,
    *,
    client: str,
    staff_ref: str | None,
    language: str,
    as_json: bool,
    texts: Templates,
    clock: Clock,
    facts: ProductFacts | None = None,
) -> str:
    """The brief for `client` (name, external id or #id) as the acting staff member sees it."""
    async with crm.unit_of_work() as uow:
        staff = await _acting_staff(uow, staff_ref)
        resolution = await resolve_client(
            uow, clock=clock, staff=staff, query=client, action="view_briefing"
        )
        if resolution.client_id is None:
            await uow.commit()  # keep the audit trail of a refused or ambiguous lookup
            if resolution.candidates:
                names = ", ".join(
                    f"{m.client.full_name} ({m.client.external_id})" for m in resolution.candidates
                )
                raise BriefError(f"several clients match: {names}")
            raise BriefError("access denied" if resolution.denied else "no such client")
        briefing = await prepare_briefing(
            uow,
            clock=clock,
            staff=staff,
            client_id=resolution.client_id,
            language=language,
            facts=facts,
        )
        await uow.commit()
    if briefing is None:
        raise BriefError("access denied")
    if as_json:
        return json.dumps(to_dict(briefing), ensure_ascii=False, indent=2, default=str)
    return render(briefing, texts, markdown=True)


def register(
    app: typer.Typer, *, facts_factory: Callable[[], ProductFacts | None] | None = None
) -> None:
    """Adds `brief` to the main CLI; `facts_factory` plugs in the knowledge base when wired."""

    @app.command("brief")
    def brief(
        client: Annotated[str, typer.Argument(help="surname, external id (C-0001) or #id")],
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
        staff: Annotated[
            str | None, typer.Option(help="act as this staff external id (default: an admin)")
        ] = None,
        lang: Annotated[str, typer.Option(help="ru or en")] = "ru",
    ) -> None:
        """Print the meeting brief of a client."""
        from common.i18n import Catalog
        from common.settings import Settings
        from crm_adapter.sql import SqlCrm

        async def run() -> str:
            async with SqlCrm.opened(Settings().database.url) as crm:
                return await brief_text(
                    crm,
                    client=client,
                    staff_ref=staff,
                    language=lang,
                    as_json=as_json,
                    texts=Catalog.shared(),
                    clock=SystemClock(),
                    facts=facts_factory() if facts_factory else None,
                )

        typer.echo(run_or_refuse(run(), BriefError))
