"""The desk's pages, one module per feature; `routes()` gathers them in one place."""

from __future__ import annotations

from aiohttp import web


def routes() -> list[web.RouteTableDef]:
    from web.pages import admin, auth, clients, events, requests

    return [auth.routes, requests.routes, clients.routes, events.routes, admin.routes]
