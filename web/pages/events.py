"""Coordinators' events: create, audience preview, invitations, the RSVP table with filters
and the waitlist, check-in by code at the door, capacity, and the CSV guest list."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from markupsafe import Markup

from concierge.events.audience import AudienceCriteria, CriteriaError, parse_criteria
from concierge.events.changes import change_capacity
from concierge.events.chart import draw_rsvp_chart
from concierge.events.checkin import CheckInResult, check_in
from concierge.events.drafts import EventDraft, create_event, parse_local_time, zone
from concierge.events.invitations import preview_audience, send_invitations
from concierge.events.messages import checkin_text
from concierge.events.model import SUMMARY_ORDER, EventError
from concierge.events.tracking import (
    EventSummary,
    event_summary,
    events_overview,
    export_guests_csv,
    guests,
    staff_names,
)
from crm_adapter.dto import Role, Staff
from web import context as ctx
from web.forms import form_int, form_text
from web.render import page, see_other
from web.security import Refused, require

routes = web.RouteTableDef()
COORDINATION = (Role.COORDINATOR, Role.ADMIN)
# Statuses the guest table can be filtered by (the RSVP answers and the waitlist).
FILTERS = ("accepted", "declined", "maybe", "sent", "waitlisted", "checked_in")
MAX_FIELD = 500


def _event_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _refused(exc: EventError) -> Refused:
    return Refused(409, exc.key, **exc.details)


async def _summary(request: web.Request, event_id: int) -> EventSummary:
    """The event's card figures; an event that does not exist is a 404, not a refusal."""
    try:
        return await event_summary(ctx.uow(request), event_id=event_id)
    except EventError as exc:
        raise Refused(404, exc.key, **exc.details) from exc


async def _audit(request: web.Request, staff: Staff, event_id: int, action: str) -> None:
    # Audience and guest lists show client data to staff: recorded like any other view of it.
    await ctx.uow(request).audit.record(
        now=ctx.desk(request).clock.now(),
        action=action,
        actor_staff_id=staff.id,
        details={"event": event_id, "channel": "web"},
    )


@routes.get("/events", name="events")
async def events(request: web.Request) -> web.StreamResponse:
    await require(request, *COORDINATION, page_name="events")
    return page(request, "events.html", summaries=await events_overview(ctx.uow(request)))


@routes.get("/events/new", name="event_new")
async def new_event(request: web.Request) -> web.StreamResponse:
    await require(request, *COORDINATION, page_name="event_new")
    return page(request, "event_new.html", values={}, error=None)


async def _draft(request: web.Request, form: Mapping[str, object]) -> EventDraft:
    """The form as a draft; an unreadable field raises EventError or CriteriaError."""
    timezone = form_text(form, "timezone", limit=64) or "Europe/Moscow"
    zone(timezone)
    starts_at = parse_local_time(form_text(form, "starts_at", limit=40), timezone)
    ends_at = parse_local_time(form_text(form, "ends_at", limit=40), timezone)
    deadline = form_text(form, "rsvp_deadline", limit=40)
    capacity = form_int(form, "capacity")
    if capacity is None:
        raise EventError("events.err.bad_capacity")
    managers = {
        s.external_id.upper(): s.id for s in await ctx.uow(request).staff.with_role(Role.MANAGER)
    }
    return EventDraft(
        title=form_text(form, "title", limit=200),
        description=form_text(form, "description", limit=2000) or None,
        timezone=timezone,
        starts_at=starts_at,
        ends_at=ends_at,
        venue=form_text(form, "venue", limit=MAX_FIELD) or None,
        city=form_text(form, "city", limit=100) or None,
        capacity=capacity,
        plus_ones_allowed=form.get("plus_ones") == "yes",
        rsvp_deadline=parse_local_time(deadline, timezone) if deadline else None,
        audience=parse_criteria(
            form_text(form, "audience", limit=MAX_FIELD), manager_ids_by_code=managers
        )
        if form_text(form, "audience", limit=MAX_FIELD)
        else AudienceCriteria(),
    )


@routes.post("/events", name="event_create")
async def create(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_new")
    form = await request.post()
    t = ctx.translator(request)
    try:
        draft = await _draft(request, form)
        event = await create_event(
            ctx.uow(request), clock=ctx.desk(request).clock, draft=draft, coordinator_id=staff.id
        )
    except EventError as exc:
        error = t(exc.key, **exc.details)
    except CriteriaError as exc:
        error = t("events.err.bad_criteria", value=str(exc))
    else:
        return see_other(f"/events/{event.id}?done=created")
    # The form comes back filled in, with what was wrong, so nothing typed is lost.
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    return page(request, "event_new.html", status=400, values=values, error=error)


@routes.get(r"/events/{id:\d+}", name="event")
async def event_card(request: web.Request) -> web.StreamResponse:
    await require(request, *COORDINATION, page_name="event")
    summary = await _summary(request, _event_id(request))
    return _card(request, summary, done=request.query.get("done", ""))


def _card(
    request: web.Request,
    summary: EventSummary,
    *,
    done: str = "",
    checkin: CheckInResult | None = None,
    status: int = 200,
) -> web.Response:
    """The event's card: after a redirect (`done` says what was done) or a check-in."""
    return page(
        request,
        "event.html",
        status=status,
        summary=summary,
        event=summary.event,
        order=SUMMARY_ORDER,
        filters=FILTERS,
        done=done,
        checkin=checkin,
        # The translator escaped every value in it; the text is our own HTML.
        checkin_text=Markup(checkin_text(ctx.translator(request), checkin))  # noqa: S704
        if checkin
        else "",
    )


@routes.get(r"/events/{id:\d+}/chart.png", name="event_chart")
async def event_chart(request: web.Request) -> web.StreamResponse:
    await require(request, *COORDINATION, page_name="event")
    t = ctx.translator(request)
    summary = await _summary(request, _event_id(request))
    png = await draw_rsvp_chart(summary, t)
    return web.Response(body=png, content_type="image/png")


@routes.get(r"/events/{id:\d+}/audience", name="event_audience")
async def audience(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_audience")
    uow, event_id = ctx.uow(request), _event_id(request)
    summary = await _summary(request, event_id)
    # Events are never deleted: one the summary found is there for the preview too.
    found = await preview_audience(uow, event_id=event_id)
    await _audit(request, staff, event_id, "event_audience_previewed")
    names = await staff_names(uow, {m.client.manager_id or 0 for m in found.included})
    return page(
        request, "event_audience.html", event=summary.event, audience=found, managers=names
    )


@routes.post(r"/events/{id:\d+}/invite", name="event_invite")
async def invite(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_invite")
    desk, event_id = ctx.desk(request), _event_id(request)
    try:
        report = await send_invitations(
            ctx.uow(request),
            desk.notifier,
            desk.clock,
            event_id,
            staff_id=staff.id,
            catalog=desk.catalog,
        )
    except EventError as exc:
        raise _refused(exc) from exc
    return see_other(
        f"/events/{event_id}?done=sent&queued={report.queued}"
        f"&already={report.already_invited}&excluded={report.excluded}"
    )


@routes.get(r"/events/{id:\d+}/guests", name="event_guests")
async def guest_table(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_guests")
    uow, event_id = ctx.uow(request), _event_id(request)
    status = request.query.get("status", "")
    status = status if status in FILTERS else ""
    summary = await _summary(request, event_id)
    found = await guests(uow, event_id=event_id, status=status or None)
    await _audit(request, staff, event_id, "event_guests_viewed")
    return page(
        request,
        "event_guests.html",
        event=summary.event,
        summary=summary,
        guests=found,
        chosen=status,
        filters=FILTERS,
    )


@routes.get(r"/events/{id:\d+}/guests.csv", name="event_csv")
async def guest_csv(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_csv")
    event_id = _event_id(request)
    try:
        content = await export_guests_csv(
            ctx.uow(request), event_id=event_id, t=ctx.translator(request)
        )
    except EventError as exc:
        raise Refused(404, exc.key, **exc.details) from exc
    await _audit(request, staff, event_id, "event_guests_exported")
    return web.Response(
        body=content,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="event-{event_id}-guests.csv"'},
    )


@routes.post(r"/events/{id:\d+}/checkin", name="event_checkin")
async def checkin(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_checkin")
    uow, event_id = ctx.uow(request), _event_id(request)
    code = form_text(await request.post(), "code", limit=32)
    if not code:
        raise Refused(400, "events.usage.checkin")
    result = await check_in(uow, clock=ctx.desk(request).clock, staff_id=staff.id, code=code)
    summary = await _summary(request, event_id)
    # The page answers at once (no redirect): the next guest is already at the door.
    return _card(
        request, summary, checkin=result, status=200 if result.outcome.value == "ok" else 409
    )


@routes.post(r"/events/{id:\d+}/capacity", name="event_capacity")
async def capacity(request: web.Request) -> web.StreamResponse:
    staff = await require(request, *COORDINATION, page_name="event_capacity")
    desk, event_id = ctx.desk(request), _event_id(request)
    seats = form_int(await request.post(), "capacity")
    if seats is None or seats < 1:
        raise Refused(400, "events.err.bad_capacity")
    try:
        promoted = await change_capacity(
            ctx.uow(request),
            notifier=desk.notifier,
            clock=desk.clock,
            event_id=event_id,
            staff_id=staff.id,
            capacity=seats,
            catalog=desk.catalog,
        )
    except EventError as exc:
        raise _refused(exc) from exc
    return see_other(f"/events/{event_id}?done=capacity&promoted={len(promoted)}")
