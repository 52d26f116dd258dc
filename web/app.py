"""The one wiring point of the web desk: the aiohttp application and its server.

`concierge web` serves it alone, `concierge run` beside the messenger or the console, and
the tests and `bench.web` build it the same way; only the notifier and the clock differ.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from common.clock import Clock
from common.i18n import Catalog
from common.settings import Settings
from concierge.briefing import ProductFacts
from concierge.catalogue import ServiceCatalogue, load_catalogue
from concierge.desk_login import DeskPolicy
from concierge.insights.rules import InsightRules
from concierge.notify import Notifier
from crm_adapter.sql import SqlCrm
from web.context import DESK, Desk
from web.pages import routes
from web.render import environment
from web.security import FAVICON_PATH, desk_request, security_headers

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# Browser libraries come from the npm registry (web/package-lock.json, installed by `make`),
# not copied into the repository; pages work without them, only the live parts need htmx.
HTMX = Path(__file__).resolve().parent / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
FAVICON = STATIC / "favicon.svg"
# Forms carry a reply or a note, never files: a larger body is refused before it is read.
MAX_BODY = 256 * 1024


def build_desk(
    settings: Settings,
    *,
    crm: SqlCrm,
    clock: Clock,
    notifier: Notifier,
    catalog: Catalog | None = None,
    service_catalogue: ServiceCatalogue | None = None,
    product_facts: ProductFacts | None = None,
    insight_rules: InsightRules | None = None,
) -> web.Application:
    secure = settings.web.secure_cookie
    catalog = catalog or Catalog.shared()
    desk = Desk(
        settings=settings,
        crm=crm,
        clock=clock,
        notifier=notifier,
        catalog=catalog,
        service_catalogue=service_catalogue or load_catalogue(),
        policy=DeskPolicy.from_settings(settings.web),
        templates=environment(catalog),
        secure_cookie=secure if secure is not None else settings.environment == "production",
        product_facts=product_facts,
        insight_rules=insight_rules,
    )
    app = web.Application(middlewares=[desk_request], client_max_size=MAX_BODY)
    app[DESK] = desk
    for table in routes():
        app.add_routes(table)
    app.router.add_get("/static/vendor/htmx.min.js", _htmx)
    app.router.add_get(FAVICON_PATH, _favicon)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    app.on_response_prepare.append(security_headers)
    return app


async def _htmx(_: web.Request) -> web.StreamResponse:
    if not HTMX.is_file():
        log.warning("htmx is not installed (run make install): live timers are off")
        raise web.HTTPNotFound()
    return web.FileResponse(HTMX)


async def _favicon(_: web.Request) -> web.StreamResponse:
    # Browsers ask for /favicon.ico whatever the page links; answering it (with our own
    # small icon, before sign-in too) keeps their consoles free of 401s.
    return web.FileResponse(FAVICON)


async def start_desk(app: web.Application, *, host: str, port: int) -> web.AppRunner:
    """Serves the desk until the runner is cleaned up."""
    # No access log: a login link's path is its code, and paths name clients and requests.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
