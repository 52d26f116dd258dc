"""Administrators: the management watchlist, the audit log, and the delivery queues."""

from __future__ import annotations

from aiohttp import web

from concierge.crm_queue import crm_queue_report, retry_dead_letters
from concierge.insights.reasons import explain
from concierge.watchlist import management_watchlist
from crm_adapter.dto import Role
from web import context as ctx
from web.render import page, see_other
from web.security import require

routes = web.RouteTableDef()
AUDIT_ROWS = 200
OUTBOX_PROBLEMS = 30


@routes.get("/admin", name="admin")
async def overview(request: web.Request) -> web.StreamResponse:
    staff = await require(request, Role.ADMIN, page_name="admin")
    desk, uow = ctx.desk(request), ctx.uow(request)
    views = await management_watchlist(uow, clock=desk.clock, rules=desk.insight_rules)
    await uow.audit.record(
        now=desk.clock.now(),
        action="view_watchlist",
        actor_staff_id=staff.id,
        details={"client_ids": [v.client.id for v in views], "channel": "web"},
    )
    language = ctx.translator(request).language
    return page(
        request,
        "admin.html",
        views=views,
        first_reason=lambda view: (
            explain(view.insights.churn.reasons[0], desk.catalog, language)
            if view.insights.churn.reasons
            else ""
        ),
    )


@routes.get("/admin/audit", name="admin_audit")
async def audit_log(request: web.Request) -> web.StreamResponse:
    staff = await require(request, Role.ADMIN, page_name="admin_audit")
    uow = ctx.uow(request)
    action = request.query.get("action", "").strip()[:64]
    outcome = request.query.get("outcome", "")
    entries = [
        e
        for e in await uow.audit.recent(limit=AUDIT_ROWS * 5)
        if (not action or e.action == action)
        and (outcome not in ("ok", "denied") or e.outcome == outcome)
    ][:AUDIT_ROWS]
    await uow.audit.record(
        now=ctx.desk(request).clock.now(),
        action="view_audit_log",
        actor_staff_id=staff.id,
        details={"action": action or None, "outcome": outcome or None},
    )
    return page(request, "admin_audit.html", entries=entries, action=action, outcome=outcome)


@routes.get("/admin/delivery", name="admin_delivery")
async def delivery(request: web.Request) -> web.StreamResponse:
    staff = await require(request, Role.ADMIN, page_name="admin_delivery")
    desk, uow = ctx.desk(request), ctx.uow(request)
    report = await crm_queue_report(
        uow, clock=desk.clock, staff=staff, backend=desk.settings.crm.backend
    )
    outbox = uow.outbox
    counts = await outbox.counts()
    problems = [
        *(await outbox.by_status("failed"))[-OUTBOX_PROBLEMS:],
        *(await outbox.by_status("blocked"))[-OUTBOX_PROBLEMS:],
    ]
    return page(
        request,
        "admin_delivery.html",
        counts=counts,
        statuses=("pending", "sending", "sent", "failed", "blocked"),
        problems=problems,
        crm_backend=desk.settings.crm.backend,
        # None when the assistant's own store is the CRM (CRM_BACKEND=local): no queue.
        crm_queue=report.status if report is not None else None,
        done=request.query.get("done", ""),
        requeued=request.query.get("requeued", ""),
    )


@routes.post("/admin/delivery/crm-retry", name="admin_crm_retry")
async def crm_retry(request: web.Request) -> web.StreamResponse:
    """Puts the CRM queue's dead letters back in the queue (after the CRM is fixed)."""
    staff = await require(request, Role.ADMIN, page_name="admin_delivery")
    requeued = await retry_dead_letters(
        ctx.uow(request), clock=ctx.desk(request).clock, staff=staff
    )
    return see_other(f"/admin/delivery?done=requeued&requeued={requeued or 0}")
