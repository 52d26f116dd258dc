"""Jinja2 pages: autoescaped templates, texts from the locale files, local times and money."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from common.i18n import Catalog, localize_masks, show_date
from common.i18n import local_time as shown_at
from web import context as ctx

TEMPLATES = Path(__file__).resolve().parent / "templates"


def local_time(moment: datetime | None, timezone: str = "Europe/Moscow") -> str:
    """The templates' filter: `common.i18n.local_time`, with a dash for no moment."""
    return "—" if moment is None else shown_at(moment, timezone)


def money(amount: Decimal | float | int | None) -> str:
    if amount is None:
        return "—"
    return f"{amount:,.0f}".replace(",", "\u00a0")


def environment(catalog: Catalog | None = None) -> jinja2.Environment:
    texts = catalog if catalog is not None else Catalog.shared()

    @jinja2.pass_context
    def shown(context: jinja2.runtime.Context, value: Any) -> Any:
        # Every `{{ value }}` of every page passes here before it is escaped: the one place
        # the desk words a stored text's placeholders ("[card *9014]") in the page's
        # language. Markup is our own HTML (locale texts, whose arguments the translator
        # worded already).
        language = context.get("lang")
        if isinstance(value, str) and not isinstance(value, Markup) and language:
            return localize_masks(value, language, texts)
        return value

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        finalize=shown,
    )
    env.filters["local"] = local_time
    env.filters["day"] = show_date
    env.filters["money"] = money
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    return env


def page(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    **values: Any,
) -> web.Response:
    """The template rendered for this request's person, language and CSRF token."""
    desk = ctx.desk(request)
    t = ctx.translator(request)
    current = ctx.session(request)

    def text(key: str, **params: Any) -> Markup:
        # Locale texts are our own HTML with every argument escaped by the translator.
        return Markup(t(key, **params))  # noqa: S704 - see above

    body = desk.templates.get_template(template).render(
        t=text,
        lang=t.language,
        staff=current.staff if current else None,
        can=lambda *names: (
            current is not None and any(r.value in names for r in current.staff.roles)
        ),
        csrf=request.get(ctx.CSRF, ""),
        path=request.path,
        request_query=request.query,
        tz=current.staff.timezone if current else "Europe/Moscow",
        **values,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def see_other(location: str) -> web.Response:
    """Post/Redirect/Get: a 303 to `location` (a Response, so cookies can be set on it)."""
    return web.Response(status=303, headers={"Location": location})
