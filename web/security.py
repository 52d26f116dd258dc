"""Every desk request's frame: the unit of work, the session, CSRF, roles and refusals.

One middleware opens the unit of work, resumes the session from its cookie, checks the CSRF
token of every form, runs the page and commits; a refusal (ours or a use case's) is rendered
as a page and still committed, so its audit row stays, as in the bot's update middleware.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.i18n import LANGUAGES
from concierge.desk_login import resume
from concierge.notify import bind_unit_of_work, release_unit_of_work
from concierge.request_access import Refusal, RequestRefused
from crm_adapter.dto import Role, Staff
from web import context as ctx
from web.render import page

log = logging.getLogger(__name__)

SESSION_COOKIE = "desk_session"
LOGIN_COOKIE = "desk_login"
LANGUAGE_COOKIE = "desk_lang"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes whose name starts with this are served without a session (sign-in pages, health).
PUBLIC = "public:"
FAVICON_PATH = "/favicon.ico"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A page refuses the request: rendered as an error page with this status and text key."""

    def __init__(self, status: int, key: str, **params: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.params = params


# A refused request action maps to the HTTP status that says why.
REFUSAL_STATUS = {
    Refusal.NOT_FOUND: 404,
    Refusal.NOT_YOURS: 403,
    Refusal.NO_ACCESS: 403,
    Refusal.CLOSED: 409,
    Refusal.ALREADY: 409,
    Refusal.NOT_RESOLVED: 409,
}


def csrf_token(session_token: str) -> str:
    """Bound to the session: a page of another site cannot know it without the cookie."""
    return hmac.new(session_token.encode(), b"desk-csrf", hashlib.sha256).hexdigest()


def cookie_name(base: str, *, secure: bool) -> str:
    # `__Host-` cookies are accepted by browsers only when Secure, path / and host-only.
    return f"__Host-{base}" if secure else base


def set_cookie(response: web.StreamResponse, name: str, value: str, *, secure: bool) -> None:
    response.set_cookie(
        cookie_name(name, secure=secure),
        value,
        path="/",
        httponly=True,
        secure=secure,
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse, name: str, *, secure: bool) -> None:
    response.del_cookie(cookie_name(name, secure=secure), path="/")


def read_cookie(request: web.Request, name: str) -> str:
    return request.cookies.get(cookie_name(name, secure=ctx.desk(request).secure_cookie), "")


def _language(request: web.Request, staff: Staff | None) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    if staff is not None and staff.language in LANGUAGES:
        return staff.language
    return ctx.desk(request).settings.behaviour.default_language


async def _sent_csrf(request: web.Request) -> str:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    form = await request.post()
    value = form.get("csrf")
    return value if isinstance(value, str) else ""


def _static(request: web.Request) -> bool:
    """Files of the desk itself: no session, no database, cacheable."""
    return request.path.startswith("/static/") or request.path == FAVICON_PATH


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every response, pages, files and errors alike."""
    _harden(response, static=_static(request))


def _harden(response: web.StreamResponse, *, static: bool) -> None:
    headers = response.headers
    # Only our own scripts and styles: a value slipping past escaping still cannot run.
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # The login link carries its code in the path: never hand it on as a referrer.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if not static:
        headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def desk_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _static(request):
        return await handler(request)
    desk = ctx.desk(request)
    async with desk.crm.unit_of_work(interactive=True) as uow:
        # Use cases that notify queue through the outbox inside this transaction.
        bound = bind_unit_of_work(uow)
        request[ctx.UOW] = uow
        try:
            response = await _handle(request, handler)
        except web.HTTPException as exc:
            if exc.status < 500:
                await uow.commit()
            raise
        finally:
            release_unit_of_work(bound)
        await uow.commit()
    return response


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    desk = ctx.desk(request)
    token = read_cookie(request, SESSION_COOKIE)
    current = await resume(ctx.uow(request), clock=desk.clock, token=token, policy=desk.policy)
    request[ctx.SESSION] = current
    request[ctx.TRANSLATOR] = desk.catalog.translator(
        _language(request, current.staff if current else None)
    )
    route = request.match_info.route.name or ""
    public = route.startswith(PUBLIC)
    if current is not None:
        request[ctx.CSRF] = csrf_token(token)
    elif not public:
        return page(request, "signed_out.html", status=401)
    try:
        if request.method in UNSAFE_METHODS and not public:
            await _check_csrf(request)
        return await handler(request)
    except Refused as refused:
        return page(
            request,
            "error.html",
            status=refused.status,
            message_key=refused.key,
            params=refused.params,
        )
    except RequestRefused as refused:
        return page(
            request,
            "error.html",
            status=REFUSAL_STATUS.get(refused.reason, 403),
            message_key=f"requests.refused.{refused.reason.value}",
            params={},
        )


async def _check_csrf(request: web.Request) -> None:
    expected = request.get(ctx.CSRF, "")
    sent = await _sent_csrf(request)
    if expected and sent and hmac.compare_digest(sent, expected):
        return
    desk = ctx.desk(request)
    current = ctx.session(request)
    await ctx.uow(request).audit.record(
        now=desk.clock.now(),
        action="web_csrf",
        outcome="denied",
        actor_staff_id=current.staff.id if current else None,
        details={"path": request.path[:200]},
    )
    log.warning("desk form without a valid CSRF token refused")
    raise Refused(403, "web.error.csrf")


async def require(request: web.Request, *roles: Role, page_name: str) -> Staff:
    """The signed-in staff member if they hold one of `roles`; else a 403, audited."""
    staff = ctx.staff(request)
    if any(staff.has_role(role) for role in roles):
        return staff
    await ctx.uow(request).audit.record(
        now=ctx.desk(request).clock.now(),
        action="web_page",
        outcome="denied",
        actor_staff_id=staff.id,
        details={"page": page_name},
    )
    raise Refused(403, "web.error.forbidden")


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)
