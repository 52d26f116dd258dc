"""`concierge web` (the staff web desk alone) and `concierge web-link` (a sign-in link)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from common.clock import Clock, SystemClock
from common.i18n import Catalog
from common.settings import Settings, get_settings
from concierge.desk_login import DeskPolicy, send_login_link
from concierge.notify import Notifier, bind_unit_of_work, release_unit_of_work
from crm_adapter.port import Crm


class WebLinkError(Exception):
    """No link could be sent; the message says why, for the operator."""


async def queue_login_link(
    crm: Crm, notifier: Notifier, *, settings: Settings, clock: Clock, person: str
) -> str:
    """Queues a sign-in link to the staff member's linked messenger; returns a report line."""
    async with crm.unit_of_work() as uow:
        staff = await uow.staff.by_external_id(person)
        if staff is None:
            raise WebLinkError(f"no staff member {person}")
        if await uow.links.for_staff(staff.id) is None:
            raise WebLinkError(
                f"{person} has no linked messenger account: run concierge link {person} first"
            )
        t = Catalog.shared().translator(staff.language)
        # The outbox queues in this transaction: the code and its message commit together
        # (and on SQLite a second writer would wait for this one's lock).
        bound = bind_unit_of_work(uow)
        try:
            sent = await send_login_link(
                uow,
                notifier,
                clock=clock,
                staff=staff,
                policy=DeskPolicy.from_settings(settings.web),
                base_url=settings.web.public_url,
                t=t,
            )
        finally:
            release_unit_of_work(bound)
        await uow.commit()
    if not sent:
        raise WebLinkError(f"{person} may not use the desk (inactive, or no role in the CRM)")
    return f"sign-in link queued for {person}'s messenger (the running assistant delivers it)"


def register(app: typer.Typer) -> None:
    @app.command("web")
    def web_command() -> None:
        """Serve the staff web desk alone (messages it sends queue in the outbox)."""
        from cli.runtime import run_desk

        asyncio.run(run_desk(get_settings()))

    @app.command("web-link")
    def web_link(
        person: Annotated[str, typer.Argument(help="staff external id, e.g. S-0001")],
    ) -> None:
        """Send a one-time sign-in link for the web desk to the staff member's messenger.

        The link is never printed: only the owner of the linked account can sign in with it.
        """
        from concierge.contact_policy import ContactPolicy
        from crm_adapter.sql import SqlCrm
        from scheduler.outbox import OutboxNotifier

        settings = get_settings()

        async def _go() -> str:
            async with SqlCrm.opened(settings.database.url) as crm:
                clock = SystemClock()
                policy = ContactPolicy(marketing_per_week=settings.scheduler.marketing_per_week)
                notifier = OutboxNotifier(crm, clock, policy)
                return await queue_login_link(
                    crm, notifier, settings=settings, clock=clock, person=person
                )

        try:
            typer.echo(asyncio.run(_go()))
        except WebLinkError as exc:
            typer.echo(f"concierge web-link: {exc}", err=True)
            raise typer.Exit(1) from exc
