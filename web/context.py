"""What every page reaches: the desk's services, and the request's unit of work and person."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web

from common.clock import Clock
from common.i18n import Catalog, Translator
from common.settings import Settings
from concierge.briefing import ProductFacts
from concierge.catalogue import ServiceCatalogue
from concierge.desk_login import DeskPolicy, DeskSession
from concierge.insights.rules import InsightRules
from concierge.notify import Notifier
from crm_adapter.dto import Staff
from crm_adapter.sql import SqlCrm, SqlUnitOfWork


@dataclass(frozen=True)
class Desk:
    """The long-lived services of the web desk, built once by `web.app.build_desk`."""

    settings: Settings
    crm: SqlCrm
    clock: Clock
    notifier: Notifier
    catalog: Catalog
    service_catalogue: ServiceCatalogue
    policy: DeskPolicy
    templates: jinja2.Environment
    secure_cookie: bool
    product_facts: ProductFacts | None = None
    insight_rules: InsightRules | None = None


DESK = web.AppKey("desk", Desk)

# Request-scoped values, set by the desk middleware.
UOW = web.RequestKey("desk.uow", SqlUnitOfWork)
SESSION: web.RequestKey[DeskSession | None] = web.RequestKey("desk.session")
TRANSLATOR = web.RequestKey("desk.t", Translator)
CSRF = web.RequestKey("desk.csrf", str)


def desk(request: web.Request) -> Desk:
    return request.app[DESK]


def uow(request: web.Request) -> SqlUnitOfWork:
    return request[UOW]


def session(request: web.Request) -> DeskSession | None:
    return request.get(SESSION)


def staff(request: web.Request) -> Staff:
    """The signed-in staff member (the middleware lets no other request reach a page)."""
    current = session(request)
    assert current is not None
    return current.staff


def translator(request: web.Request) -> Translator:
    return request[TRANSLATOR]
