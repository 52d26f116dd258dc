"""Clients management must watch: high churn risk, above all the silent after a manager change."""

from __future__ import annotations

import html

from common.clock import Clock
from concierge.briefing_delivery import default_texts
from concierge.insights.analysis import analyse
from concierge.insights.churn import RiskLevel
from concierge.insights.reasons import Templates, explain
from concierge.insights.rules import InsightRules, default_rules
from concierge.notify import Notifier, Outgoing
from concierge.profile import load_profile
from concierge.workspace import ClientView
from crm_adapter.dto import Role
from crm_adapter.port import Crm, UnitOfWork

MAX_DIGEST_LINES = 20


async def management_watchlist(
    uow: UnitOfWork, *, clock: Clock, rules: InsightRules | None = None
) -> list[ClientView]:
    """High-risk clients across the bank, clients under management control first.

    A system view for supervisors' digests (the scheduler), not a staff member's browsing, so
    it is audited once as the system reading the portfolio.
    """
    rules = rules or default_rules()
    now = clock.now()
    found: list[ClientView] = []
    for client in await uow.clients.all():
        if client.out_of_service:
            continue
        profile = await load_profile(uow, client=client, now=now)
        insights = analyse(profile, rules)
        if insights.churn.level is RiskLevel.HIGH:
            found.append(ClientView(profile, insights))
    found.sort(
        key=lambda v: (not v.insights.churn.under_management_control, -v.insights.churn.score)
    )
    await uow.audit.record(
        now=now,
        action="management_watchlist",
        details={"client_ids": [v.client.id for v in found]},
    )
    return found


def digest_text(views: list[ClientView], texts: Templates, language: str) -> str:
    lines = [texts.template(language, "manager.watchlist.title").format(count=len(views))]
    for view in views[:MAX_DIGEST_LINES]:
        churn = view.insights.churn
        key = "control_line" if churn.under_management_control else "line"
        lines.append(
            texts.template(language, f"manager.watchlist.{key}").format(
                name=html.escape(view.client.full_name, quote=False),
                external_id=html.escape(view.client.external_id, quote=False),
                score=f"{churn.score:.2f}",
                why=explain(churn.reasons[0], texts, language) if churn.reasons else "",
            )
        )
    return "\n".join(lines)


async def send_watchlist_digest(
    crm: Crm,
    notifier: Notifier,
    clock: Clock,
    *,
    texts: Templates | None = None,
    rules: InsightRules | None = None,
) -> int:
    """Sends every administrator today's watchlist; returns how many received it.

    Meant for a daily scheduler job; the occasion key (one per day) lets an outbox-backed
    notifier drop a repeated run.
    """
    texts = texts or default_texts()
    async with crm.unit_of_work() as uow:
        views = await management_watchlist(uow, clock=clock, rules=rules)
        admins = await uow.staff.with_role(Role.ADMIN)
        await uow.commit()
    if not views:
        return 0
    day = clock.now().date().isoformat()
    delivered = 0
    for admin in admins:
        message = Outgoing(
            text=digest_text(views, texts, admin.language),
            kind="watchlist",
            occasion_key=f"watchlist:{day}:staff:{admin.id}",
        )
        delivered += await notifier.to_staff(admin.id, message)
    return delivered
