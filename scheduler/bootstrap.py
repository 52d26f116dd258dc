"""One wiring point for proactive work: notifier, rule engine, delivery worker, scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from common.clock import Clock
from common.settings import Settings
from concierge.contact_policy import ContactPolicy
from crm_adapter.locks import owner_id
from crm_adapter.sql import SqlCrm
from scheduler.channel import ChannelSender
from scheduler.delivery import DeliveryWorker
from scheduler.leader import leader_lock_for
from scheduler.outbox import OutboxNotifier
from scheduler.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules
from scheduler.service import SchedulerService


@dataclass
class Proactive:
    notifier: OutboxNotifier
    rules: RuleEngine
    delivery: DeliveryWorker | None
    service: SchedulerService

    async def start(self) -> None:
        """Competes for leadership; the leader runs the jobs and the delivery worker."""
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()


def build_proactive(
    settings: Settings,
    *,
    crm: SqlCrm,
    clock: Clock,
    senders: Mapping[str, ChannelSender] | None,
    rules_path: Path = DEFAULT_RULES_PATH,
) -> Proactive:
    """Builds the proactive stack; without `senders` (one per messenger) messages queue but
    nothing is sent."""
    policy = ContactPolicy(marketing_per_week=settings.scheduler.marketing_per_week)
    notifier = OutboxNotifier(crm, clock, policy)
    engine = RuleEngine(crm, notifier, clock, load_rules(rules_path))
    delivery = DeliveryWorker.from_settings(settings, crm, senders, clock) if senders else None
    heartbeat = timedelta(seconds=settings.scheduler.leader_heartbeat_seconds)
    service = SchedulerService(
        settings=settings.scheduler,
        database_url=settings.database.url,
        crm=crm,
        lock=leader_lock_for(crm, owner_id(), clock, heartbeat=heartbeat),
        rules=engine,
        delivery=delivery,
        heartbeat=heartbeat,
    )
    return Proactive(notifier=notifier, rules=engine, delivery=delivery, service=service)
