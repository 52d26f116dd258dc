"""Assembles a running assistant: the app, the knowledge base, the scheduler and its jobs.

`concierge run` and `concierge console` use this; the tests build the parts they need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from aiogram.client.session.base import BaseSession

from bot.app import App, build_app
from bot.channels import Messengers
from bot.replica_state import ReplicaState
from bot.sender import BotSender
from common.clock import Clock
from common.settings import Settings
from concierge.briefing import ProductFacts
from concierge.briefing_delivery import send_due_briefings
from concierge.events.reminders import send_event_reminders
from concierge.feedback import ask_nps_round
from concierge.notify import Notifier
from concierge.product_facts import KnowledgeProductFacts
from concierge.request_queue import escalate_overdue
from concierge.retention import purge_personal_data
from concierge.watchlist import send_watchlist_digest
from crm_adapter.master.factory import build_master_crm
from crm_adapter.sql import SqlCrm
from knowledge.answers import KnowledgeBase
from scheduler.bootstrap import Proactive, build_proactive

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


@dataclass
class Assistant:
    app: App
    knowledge: KnowledgeBase
    proactive: Proactive
    jobs: dict[str, Job] = field(default_factory=dict)

    async def run_jobs_now(self) -> dict[str, object]:
        """Runs every feature job once (the console's `:jobs`, for demos with a moved clock)."""
        results: dict[str, object] = {}
        for name, job in self.jobs.items():
            results[name] = await job()
        if self.proactive.delivery is not None:
            await self.proactive.delivery.drain()
        if self.proactive.crm_master is not None:
            results["crm.write"] = await self.proactive.crm_master.writer.drain()
        return results

    async def close(self) -> None:
        await self.proactive.stop()
        await self.app.close()


def feature_jobs(
    settings: Settings, *, crm: SqlCrm, notifier: Notifier, clock: Clock, facts: ProductFacts
) -> dict[str, tuple[Job, timedelta]]:
    """The periodic work of each feature; every use case records what it did (idempotent)."""

    async def escalations() -> object:
        async with crm.unit_of_work() as uow:
            done = await escalate_overdue(uow, notifier, clock)
            await uow.commit()
        return len(done)

    async def reminders() -> object:
        async with crm.unit_of_work() as uow:
            sent = await send_event_reminders(uow, notifier, clock)
            await uow.commit()
        return sent

    async def nps() -> object:
        async with crm.unit_of_work() as uow:
            asked = await ask_nps_round(uow, notifier, clock)
            await uow.commit()
        return asked

    async def retention() -> object:
        async with crm.unit_of_work() as uow:
            purged = await purge_personal_data(
                uow,
                clock,
                timedelta(days=settings.scheduler.interaction_retention_days),
                relay_window=timedelta(days=settings.behaviour.relay_reply_days),
            )
            await uow.commit()
        return purged

    async def briefings() -> object:
        lead = timedelta(minutes=settings.scheduler.briefing_lead_minutes)
        return await send_due_briefings(crm, notifier, clock, lead=lead, facts=facts)

    async def watchlist() -> object:
        return await send_watchlist_digest(crm, notifier, clock)

    return {
        "requests.escalate": (escalations, timedelta(minutes=1)),
        "briefings.before_meetings": (briefings, timedelta(minutes=5)),
        "events.reminders": (reminders, timedelta(minutes=10)),
        "feedback.nps": (nps, timedelta(days=1)),
        "insights.watchlist": (watchlist, timedelta(days=1)),
        "retention.purge": (retention, timedelta(days=1)),
    }


def schedule_feature_jobs(
    proactive: Proactive,
    settings: Settings,
    *,
    crm: SqlCrm,
    notifier: Notifier,
    clock: Clock,
    facts: ProductFacts,
) -> dict[str, Job]:
    """Puts every feature job and the rule engine on the scheduler; returns them by name.

    Every process that may lead (each `concierge run` replica, `concierge scheduler`) must
    schedule the same jobs: the job store is shared, and a leader that does not know a stored
    job would skip it.
    """
    jobs: dict[str, Job] = {}
    for name, (job, every) in feature_jobs(
        settings, crm=crm, notifier=notifier, clock=clock, facts=facts
    ).items():
        proactive.service.add_periodic(name, job, every=every)
        jobs[name] = job
    jobs["rules.evaluate"] = proactive.rules.evaluate
    return jobs


async def load_knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base with its model loaded, off the event loop."""
    knowledge = KnowledgeBase.from_settings(settings)
    await asyncio.to_thread(knowledge.warm_up)
    return knowledge


async def assemble(
    settings: Settings,
    *,
    session: BaseSession | None,
    clock: Clock,
    max_session: BaseSession | None = None,
    replica_state: ReplicaState | None = None,
) -> Assistant:
    """Builds and starts everything a process runs; the knowledge model loads off the loop.
    MAX joins with MAX_BOT_TOKEN (or `max_session`, the console's)."""
    crm = await SqlCrm.open(
        settings.database.url,
        echo=settings.database.echo,
        write_back=settings.crm.writes_back,
        secure_delete=settings.database.sqlite_secure_delete,
    )
    master = build_master_crm(settings.crm, crm=crm, language=settings.behaviour.default_language)
    knowledge = await load_knowledge(settings)
    facts = KnowledgeProductFacts(knowledge)
    built: dict[str, Proactive] = {}

    def outbox_notifier(bots: Messengers, _: SqlCrm) -> Notifier:
        # Every process queues through the outbox, so the contact policy and the rate limits
        # hold whichever replica a message starts from; a replica with the scheduler off only
        # queues, and the process that leads the scheduler delivers, in every messenger.
        built["proactive"] = build_proactive(
            settings,
            crm=crm,
            clock=clock,
            senders={messenger: BotSender(bot) for messenger, bot in bots.items()},
            master=master,
        )
        return built["proactive"].notifier

    async def chroma_check() -> object:
        return {"documents_indexed": not await asyncio.to_thread(knowledge.is_empty)}

    app = build_app(
        settings,
        session=session,
        max_session=max_session,
        clock=clock,
        crm=crm,
        notifier_factory=outbox_notifier,
        replica_state=replica_state,
        health_checks={"chroma": chroma_check},
        knowledge=knowledge,
        product_facts=facts,
    )
    proactive = built["proactive"]
    jobs: dict[str, Job] = {}
    if settings.scheduler.enabled:
        jobs = schedule_feature_jobs(
            proactive, settings, crm=crm, notifier=app.notifier, clock=clock, facts=facts
        )

        async def leader_check() -> object:
            return {"leader": proactive.service.is_leader}

        app.health.register("scheduler_leader", leader_check)
        await proactive.start()
    return Assistant(app=app, knowledge=knowledge, proactive=proactive, jobs=jobs)
