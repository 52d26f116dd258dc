"""Client search, the 360 card with its briefing and chart, notes, and the portfolio overview."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from markupsafe import Markup

from concierge.briefing import build_briefing, prepare_briefing
from concierge.briefing_render import render as render_briefing
from concierge.client_chart import render_client_chart
from concierge.insights.reasons import Reason, explain, label
from concierge.portfolio_chart import draw_portfolio_chart
from concierge.workspace import (
    MAX_NOTE_LENGTH,
    ClientView,
    PortfolioEntry,
    add_note,
    overview,
    portfolio,
    search_visible,
    view_client,
)
from crm_adapter.dto import Role
from web import context as ctx
from web.forms import form_text
from web.render import page, see_other
from web.security import Refused, require

routes = web.RouteTableDef()
WORKSPACE = (Role.MANAGER, Role.ADMIN)
RECENT_CONTACTS = 20
MAX_QUERY = 100


def _client_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _helpers(request: web.Request) -> dict[str, Any]:
    """Localised labels of CRM codes and insight reasons for the templates."""
    catalog, language = ctx.desk(request).catalog, ctx.translator(request).language

    def why(reason: Reason) -> Markup:
        # explain() escapes every parameter; the template around it is ours.
        return Markup(explain(reason, catalog, language))  # noqa: S704

    def name_of(group: str, code: str) -> str:
        return label(catalog, language, group, code)

    return {"why": why, "name_of": name_of}


@routes.get("/clients", name="clients")
async def clients(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *WORKSPACE, page_name="clients")
    desk, uow = ctx.desk(request), ctx.uow(request)
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    if query:
        matches = await search_visible(uow, clock=desk.clock, staff=staff, query=query)
        return page(request, "clients.html", query=query, matches=matches, entries=None)
    entries = await portfolio(uow, clock=desk.clock, staff=staff, rules=desk.insight_rules)
    return page(request, "clients.html", query="", matches=None, entries=entries)


async def _view(request: web.Request, action: str) -> ClientView:
    staff = await require(request, *WORKSPACE, page_name="client_card")
    desk = ctx.desk(request)
    view = await view_client(
        ctx.uow(request),
        clock=desk.clock,
        staff=staff,
        client_id=_client_id(request),
        action=action,
        rules=desk.insight_rules,
    )
    if view is None:
        raise Refused(403, "manager.denied")
    return view


@routes.get(r"/clients/{id:\d+}", name="client")
async def card(request: web.Request) -> web.StreamResponse:
    view = await _view(request, "view_card")
    desk, staff = ctx.desk(request), ctx.staff(request)
    language = ctx.translator(request).language
    # The brief is built from the snapshot the card already loaded (no second read).
    briefing = build_briefing(
        view.profile,
        view.insights,
        language=language,
        facts=desk.product_facts,
        rules=desk.insight_rules,
        timezone=staff.timezone,
    )
    contacts = sorted(view.profile.contacts, key=lambda c: c.occurred_at, reverse=True)
    return page(
        request,
        "client.html",
        view=view,
        p=view.profile,
        i=view.insights,
        briefing=Markup(render_briefing(briefing, desk.catalog)),  # noqa: S704 - escaped
        contacts=contacts[:RECENT_CONTACTS],
        done=request.query.get("done", ""),
        max_note=MAX_NOTE_LENGTH,
        **_helpers(request),
    )


@routes.get(r"/clients/{id:\d+}/chart.png", name="client_chart")
async def card_chart(request: web.Request) -> web.StreamResponse:
    view = await _view(request, "view_card_chart")
    t = ctx.translator(request)
    png = await asyncio.to_thread(
        render_client_chart,
        view,
        asset_labels={
            k: t(f"web.client.asset.{k}")
            for k in ("deposits", "investments", "insurance", "credit")
        },
        titles=(t("web.client.chart_assets"), t("web.client.chart_contacts")),
    )
    return web.Response(body=png, content_type="image/png")


@routes.get(r"/clients/{id:\d+}/brief.md", name="client_brief")
async def brief_document(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *WORKSPACE, page_name="client_brief")
    desk = ctx.desk(request)
    briefing = await prepare_briefing(
        ctx.uow(request),
        clock=desk.clock,
        staff=staff,
        client_id=_client_id(request),
        language=ctx.translator(request).language,
        facts=desk.product_facts,
        rules=desk.insight_rules,
    )
    if briefing is None:
        raise Refused(403, "manager.denied")
    return web.Response(
        text=render_briefing(briefing, desk.catalog, markdown=True),
        content_type="text/markdown",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{briefing.file_name}"'},
    )


@routes.post(r"/clients/{id:\d+}/notes", name="client_note")
async def note(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *WORKSPACE, page_name="client_note")
    client_id = _client_id(request)
    text = form_text(await request.post(), "text", limit=MAX_NOTE_LENGTH)
    if not text:
        raise Refused(400, "manager.note_empty")
    saved = await add_note(
        ctx.uow(request),
        clock=ctx.desk(request).clock,
        staff=staff,
        client_id=client_id,
        text=text,
    )
    if saved is None:
        raise Refused(403, "manager.denied")
    return see_other(f"/clients/{client_id}?done=note#notes")


async def _portfolio(request: web.Request) -> list[PortfolioEntry]:
    staff = await require(request, *WORKSPACE, page_name="portfolio")
    desk = ctx.desk(request)
    return await portfolio(
        ctx.uow(request), clock=desk.clock, staff=staff, rules=desk.insight_rules
    )


@routes.get("/portfolio", name="portfolio")
async def portfolio_page(request: web.Request) -> web.StreamResponse:
    entries = await _portfolio(request)
    return page(request, "portfolio.html", summary=overview(entries), entries=entries)


@routes.get("/portfolio/chart.png", name="portfolio_chart")
async def portfolio_chart(request: web.Request) -> web.StreamResponse:
    t = ctx.translator(request)
    summary = overview(await _portfolio(request))
    png = await draw_portfolio_chart(summary, t)
    return web.Response(body=png, content_type="image/png")
