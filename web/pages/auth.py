"""Signing in by a one-time link, signing out, the language switch and the home page."""

from __future__ import annotations

from aiohttp import web

from concierge.desk_login import LoginOutcome, sign_in, sign_out
from crm_adapter.dto import Role
from web import context as ctx
from web.render import page, see_other
from web.security import (
    LANGUAGE_COOKIE,
    LOGIN_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    Refused,
    clear_cookie,
    new_login_nonce,
    read_cookie,
    set_cookie,
)

routes = web.RouteTableDef()


def safe_next(value: object, default: str = "/") -> str:
    """A path on this site only: never `//host` or a full URL (an open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return default


@routes.get("/", name="home")
async def home(request: web.Request) -> web.StreamResponse:
    staff = ctx.staff(request)
    if staff.has_role(Role.MANAGER) or staff.has_role(Role.DUTY):
        return see_other("/requests")
    if staff.has_role(Role.COORDINATOR):
        return see_other("/events")
    return see_other("/admin")


@routes.get("/login/{code}", name=PUBLIC + "login_form")
async def login_form(request: web.Request) -> web.StreamResponse:
    # Opening the link signs nobody in: a messenger or proxy that fetches it to build a
    # preview would otherwise spend the single-use code. The button below posts it.
    nonce = new_login_nonce()
    response = page(request, "login.html", code=request.match_info["code"], nonce=nonce)
    set_cookie(response, LOGIN_COOKIE, nonce, secure=ctx.desk(request).secure_cookie)
    return response


@routes.post("/login", name=PUBLIC + "login")
async def login(request: web.Request) -> web.StreamResponse:
    desk = ctx.desk(request)
    form = await request.post()
    nonce, sent = read_cookie(request, LOGIN_COOKIE), form.get("nonce")
    if not nonce or not isinstance(sent, str) or sent != nonce:
        # Login CSRF: another site must not sign this browser in with its own link.
        await ctx.uow(request).audit.record(
            now=desk.clock.now(),
            action="web_csrf",
            outcome="denied",
            details={"path": "/login"},
        )
        raise Refused(403, "web.error.csrf")
    code = form.get("code")
    result = await sign_in(
        ctx.uow(request),
        clock=desk.clock,
        code=code if isinstance(code, str) else "",
        policy=desk.policy,
    )
    if result.outcome is not LoginOutcome.SIGNED_IN or result.token is None:
        response = page(request, "login_refused.html", status=403, reason=result.outcome.value)
    else:
        response = see_other("/")
        set_cookie(response, SESSION_COOKIE, result.token, secure=desk.secure_cookie)
    clear_cookie(response, LOGIN_COOKIE, secure=desk.secure_cookie)
    return response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    desk = ctx.desk(request)
    current = ctx.session(request)
    assert current is not None
    await sign_out(ctx.uow(request), clock=desk.clock, session=current)
    response = see_other("/signed-out")
    clear_cookie(response, SESSION_COOKIE, secure=desk.secure_cookie)
    return response


@routes.get("/signed-out", name=PUBLIC + "signed_out")
async def signed_out(request: web.Request) -> web.StreamResponse:
    return page(request, "signed_out.html")


@routes.post("/language", name="language")
async def language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    chosen = form.get("language")
    response = see_other(safe_next(form.get("next")))
    if chosen in ("ru", "en"):
        response.set_cookie(LANGUAGE_COOKIE, str(chosen), path="/", samesite="Strict")
    return response


@routes.get("/healthz", name=PUBLIC + "healthz")
async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})
