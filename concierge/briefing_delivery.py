"""Briefs sent on their own: each manager gets the brief of a meeting shortly before it."""

from __future__ import annotations

import html
import logging
from datetime import timedelta

from common.clock import Clock
from concierge.briefing import Briefing, ProductFacts, prepare_briefing
from concierge.briefing_render import render
from concierge.insights.reasons import Templates
from concierge.insights.rules import InsightRules
from concierge.notify import Notifier, Outgoing
from crm_adapter.dto import Staff
from crm_adapter.port import Crm, UnitOfWork
from crm_adapter.workspace import MeetingView

log = logging.getLogger(__name__)


def default_texts() -> Templates:
    # Deferred: the texts live with the bot's locale files; callers may pass their own.
    from common.i18n import Catalog

    return Catalog.shared()


def briefing_message(briefing: Briefing, texts: Templates) -> Outgoing:
    """The chat summary with the full brief attached as a Markdown document."""
    document = render(briefing, texts, markdown=True).encode("utf-8")
    summary = texts.template(briefing.language, "manager.brief.auto_caption").format(
        name=html.escape(briefing.profile.client.full_name, quote=False),
        when=briefing.local(briefing.meeting.starts_at) if briefing.meeting else "—",
        risk=texts.template(
            briefing.language, f"manager.risk.{briefing.insights.churn.level.value}"
        ),
    )
    return Outgoing(
        text=summary,
        document=(briefing.file_name, document),
        kind="briefing",
        occasion_key=f"briefing:meeting:{briefing.meeting.id}" if briefing.meeting else None,
        payload={"client_id": briefing.profile.client.id},
    )


async def _briefing_reader(uow: UnitOfWork, meeting: MeetingView) -> Staff | None:
    """The meeting's manager, or their backup while the manager is away (the backup holds
    the meeting then); None when neither can take it."""
    manager = await uow.staff.get(meeting.manager_id)
    if manager is None or not manager.active:
        return None
    if not manager.absent or manager.backup_id is None:
        return manager
    backup = await uow.staff.get(manager.backup_id)
    return backup if backup is not None and backup.active and not backup.absent else manager


async def send_due_briefings(
    crm: Crm,
    notifier: Notifier,
    clock: Clock,
    *,
    lead: timedelta = timedelta(hours=2),
    facts: ProductFacts | None = None,
    texts: Templates | None = None,
    rules: InsightRules | None = None,
) -> int:
    """Sends each manager the brief of every meeting starting within `lead`, once per meeting.

    The meeting is claimed and committed before sending (two overlapping runs cannot both
    send, and the notifier's own writes never wait on our transaction); a failed delivery
    releases the claim so the next run retries. Returns the number of briefs delivered.
    """
    texts = texts or default_texts()
    now = clock.now()
    async with crm.unit_of_work() as uow:
        due = await uow.workspace.due_meetings(start=now, end=now + lead)
    sent = 0
    for meeting in due:
        async with crm.unit_of_work() as uow:
            reader = await _briefing_reader(uow, meeting)
            if reader is None:
                continue
            if not await uow.workspace.mark_briefing_sent(meeting.id, now=now):
                continue
            briefing = await prepare_briefing(
                uow,
                clock=clock,
                staff=reader,
                client_id=meeting.client_id,
                language=reader.language,
                facts=facts,
                rules=rules,
                meeting=meeting,
            )
            await uow.commit()
        if briefing is None:
            # Not this manager's client any more: the refusal is audited, nothing is sent.
            continue
        if await notifier.to_staff(reader.id, briefing_message(briefing, texts)):
            sent += 1
            continue
        log.warning("briefing for meeting %s not delivered; will retry", meeting.id)
        async with crm.unit_of_work() as uow:
            await uow.workspace.release_briefing(meeting.id)
            await uow.commit()
    return sent
