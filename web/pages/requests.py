"""The request queue ordered by SLA, with live timers, and a request's card with its actions."""

from __future__ import annotations

from aiohttp import web

from concierge.request_access import Desk as RequestDesk
from concierge.request_access import for_staff
from concierge.request_messages import staff_request_actions
from concierge.request_queue import manager_queue
from concierge.requests import (
    accept_request,
    comment_request,
    reassign_request,
    resolve_request,
)
from crm_adapter.dto import Role
from web import context as ctx
from web.forms import form_int, form_text
from web.render import page, see_other
from web.security import Refused, require

routes = web.RouteTableDef()
QUEUE_ROLES = (Role.MANAGER, Role.DUTY, Role.ADMIN)
MAX_REPLY = 4000


def _request_desk(request: web.Request) -> RequestDesk:
    """The request use cases' desk, with this desk's service catalogue for the titles."""
    desk = ctx.desk(request)
    return RequestDesk.of(desk.notifier, desk.clock, desk.service_catalogue)


async def _queue(request: web.Request, template: str) -> web.StreamResponse:
    staff = await require(request, *QUEUE_ROLES, page_name="requests")
    clock = ctx.desk(request).clock
    items = await manager_queue(ctx.uow(request), clock, staff=staff)
    titles, language = _request_desk(request), ctx.translator(request).language
    return page(
        request,
        template,
        items=items,
        now=clock.now(),
        title_of=lambda code: titles.title(code, language),
    )


@routes.get("/requests", name="requests")
async def queue(request: web.Request) -> web.StreamResponse:
    return await _queue(request, "requests.html")


@routes.get("/requests/rows", name="requests_rows")
async def queue_rows(request: web.Request) -> web.StreamResponse:
    """The queue's rows alone: the page refreshes them in place (htmx) every half minute."""
    return await _queue(request, "requests_rows.html")


def _request_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get(r"/requests/{id:\d+}", name="request")
async def card(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *QUEUE_ROLES, page_name="request")
    desk, request_desk = ctx.desk(request), _request_desk(request)
    uow = ctx.uow(request)
    found = await for_staff(
        uow,
        request_desk,
        staff=staff,
        request_id=_request_id(request),
        action="view",
        open_only=False,
    )
    t = ctx.translator(request)
    actions = (
        ()
        if found.closed
        else tuple(staff_request_actions(t, found.id, status=found.status.value))
    )
    managers = [
        s for s in await uow.staff.with_role(Role.MANAGER) if s.id != staff.id and s.active
    ]
    return page(
        request,
        "request.html",
        item=found,
        client=await uow.clients.get(found.client_id),
        comments=await uow.requests.comments(found.id),
        service=request_desk.title(found.service_code, t.language),
        steps=[str(a.arguments["action"]) for a in actions],
        labels={str(a.arguments["action"]): a.label for a in actions},
        managers=managers,
        done=request.query.get("done", ""),
        now=desk.clock.now(),
    )


@routes.post(r"/requests/{id:\d+}/{step:accept|resolve|reply|reassign}", name="request_step")
async def step(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *QUEUE_ROLES, page_name="request")
    desk = ctx.desk(request)
    uow = ctx.uow(request)
    request_id, name = _request_id(request), request.match_info["step"]
    form = await request.post()
    if name == "accept":
        await accept_request(uow, desk.notifier, desk.clock, staff=staff, request_id=request_id)
    elif name == "resolve":
        note = form_text(form, "note", limit=MAX_REPLY)
        await resolve_request(
            uow, desk.notifier, desk.clock, staff=staff, request_id=request_id, note=note or None
        )
    elif name == "reply":
        text = form_text(form, "text", limit=MAX_REPLY)
        if not text:
            raise Refused(400, "web.requests.reply_empty")
        await comment_request(
            uow, desk.notifier, desk.clock, staff=staff, request_id=request_id, text=text
        )
    else:
        target = form_int(form, "staff_id")
        if target is None:
            raise Refused(400, "web.error.bad_input")
        await reassign_request(
            uow, desk.notifier, desk.clock, staff=staff, request_id=request_id, to_staff_id=target
        )
    return see_other(f"/requests/{request_id}?done={name}")
