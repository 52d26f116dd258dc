"""Trigger rules from `rules.yaml` and the engine that evaluates them into outbox messages."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select

from common.clock import Clock
from concierge.contact_policy import wall_clock
from concierge.notify import MessageClass, Outgoing
from crm_adapter import models as m
from crm_adapter.dto import Client
from crm_adapter.sql import SqlCrm, SqlUnitOfWork
from scheduler.conditions import (
    CONDITIONS,
    ClientFacts,
    IncomingPayment,
    InvitationFact,
    MeetingFact,
    Occasion,
)
from scheduler.outbox import OutboxNotifier

log = logging.getLogger(__name__)

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")
LANGUAGES = ("ru", "en")
# Contacts that count as "being in touch" for no_contact_for: real conversation, not logs.
CONTACT_KINDS = ("message", "command", "callback", "meeting", "call")


class RuleError(ValueError):
    """The rules file is wrong; the message names the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    id: str
    condition: str
    params: Mapping[str, Any]
    audience: str  # client | manager
    templates: Mapping[str, str]
    message_class: MessageClass
    priority: int = 100
    send_at: time | None = None  # local time of the recipient
    enabled: bool = True

    def render(self, language: str, fields: Mapping[str, str]) -> str:
        template = self.templates.get(language) or self.templates["ru"]
        # Values come from the CRM and from people: escaped because messages go as HTML.
        return template.format_map({k: html.escape(v) for k, v in fields.items()})


@dataclass
class EvaluationReport:
    fired: list[str] = field(default_factory=list)
    queued: int = 0
    suppressed: int = 0


def load_rules(path: Path = DEFAULT_RULES_PATH) -> list[Rule]:
    """Reads and validates the rules file; a bad rule stops start-up, not a night's run."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = [_parse_rule(item) for item in raw.get("rules", [])]
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise RuleError(f"duplicate rule ids in {path}")
    return rules


def _parse_rule(item: Mapping[str, Any]) -> Rule:
    rule_id = str(item.get("id") or "")
    if not rule_id:
        raise RuleError("a rule without an id")
    try:
        condition = item["condition"]
        name, params = (
            (condition, {})
            if isinstance(condition, str)
            else (condition["name"], condition.get("params") or {})
        )
        if name not in CONDITIONS:
            raise RuleError(f"rule {rule_id}: unknown condition {name!r}")
        audience = item.get("audience", "client")
        if audience not in {"client", "manager"}:
            raise RuleError(f"rule {rule_id}: audience must be client or manager")
        templates = {str(k): str(v) for k, v in item["templates"].items()}
        if "ru" not in templates:
            raise RuleError(f"rule {rule_id}: a Russian template is required (the default)")
        send_at = item.get("send_at")
        return Rule(
            id=rule_id,
            condition=name,
            params=dict(params),
            audience=audience,
            templates=templates,
            message_class=MessageClass(item.get("class", "service")),
            priority=int(item.get("priority", 100)),
            send_at=time.fromisoformat(str(send_at)) if send_at else None,
            enabled=bool(item.get("enabled", True)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, RuleError):
            raise
        raise RuleError(f"rule {rule_id}: {exc}") from exc


class RuleEngine:
    """Evaluates every enabled rule for every client; each occasion fires once."""

    def __init__(
        self, crm: SqlCrm, notifier: OutboxNotifier, clock: Clock, rules: Sequence[Rule]
    ) -> None:
        self._crm = crm
        self._notifier = notifier
        self._clock = clock
        self.rules = [r for r in rules if r.enabled]

    async def evaluate(self) -> EvaluationReport:
        now = self._clock.now()
        report = EvaluationReport()
        async with self._crm.unit_of_work() as uow:
            clients = await uow.clients.all()
        for client in clients:
            async with self._crm.unit_of_work() as uow:
                facts = await load_facts(uow, client, now=now)
                fired = (
                    await uow.rule_firings.fired(
                        f"{rule.id}:{client.id}:{occasion.key}"
                        for rule in self.rules
                        for occasion in _occasions(rule, facts, now)
                    )
                    if self.rules
                    else set()
                )
            for rule in self.rules:
                for occasion in _occasions(rule, facts, now):
                    key = f"{rule.id}:{client.id}:{occasion.key}"
                    if key not in fired:
                        await self._fire(
                            rule,
                            client=client,
                            occasion=occasion,
                            key=key,
                            now=now,
                            report=report,
                        )
        return report

    async def _fire(
        self,
        rule: Rule,
        *,
        client: Client,
        occasion: Occasion,
        key: str,
        now: datetime,
        report: EvaluationReport,
    ) -> None:
        async with self._crm.unit_of_work() as uow:
            # The firing and the enqueue commit together: never one without the other.
            if not await uow.rule_firings.claim(
                rule_id=rule.id, client_id=client.id, occasion_key=key, now=now
            ):
                return
            fields = {
                "name": client.polite_name,
                "client_name": client.full_name,
                "first_name": client.first_name,
                **occasion.fields,
            }
            if rule.audience == "client":
                language = client.language if client.language in LANGUAGES else "ru"
                message = self._message(rule, key, language, fields)
                requested = _preferred_time(rule, client.timezone, now)
                result = await self._notifier.enqueue_for_client(
                    uow, client.id, message, not_before=requested, priority=rule.priority
                )
            else:
                manager = await uow.staff.get(client.manager_id) if client.manager_id else None
                if manager is None:
                    log.info("rule %s: client %s has no manager", rule.id, client.id)
                    await uow.commit()
                    return
                language = manager.language if manager.language in LANGUAGES else "ru"
                message = self._message(rule, key, language, fields)
                requested = _preferred_time(rule, manager.timezone, now)
                result = await self._notifier.enqueue_for_staff(
                    uow, manager.id, message, not_before=requested, priority=rule.priority
                )
            await uow.commit()
        report.fired.append(key)
        if result.queued:
            report.queued += 1
        else:
            report.suppressed += 1

    @staticmethod
    def _message(rule: Rule, key: str, language: str, fields: Mapping[str, str]) -> Outgoing:
        return Outgoing(
            text=rule.render(language, fields),
            message_class=rule.message_class,
            occasion_key=key,
            kind=f"rule:{rule.id}"[:32],
            payload={"rule_id": rule.id},
        )


def _occasions(rule: Rule, facts: ClientFacts, now: datetime) -> list[Occasion]:
    return CONDITIONS[rule.condition](facts, now, rule.params)


def _preferred_time(rule: Rule, timezone: str, now: datetime) -> datetime | None:
    """Today's preferred local time, or now if it has passed (a late greeting beats none)."""
    if rule.send_at is None:
        return None
    zone = ZoneInfo(timezone)
    return max(now, wall_clock(now.astimezone(zone).date(), rule.send_at, zone))


async def load_facts(uow: SqlUnitOfWork, client: Client, *, now: datetime) -> ClientFacts:
    """Reads what the conditions need about one client (a few indexed queries)."""
    s = uow.session
    holdings = tuple(await uow.profiles.holdings(client.id))
    tx = m.TransactionRow
    incoming = tuple(
        IncomingPayment(r.id, r.occurred_at, r.amount_rub)
        for r in await s.scalars(
            select(tx).where(
                tx.client_id == client.id,
                tx.amount_rub > 0,
                tx.occurred_at >= now - timedelta(days=31),
            )
        )
    )
    it = m.InteractionRow
    last_contact = await s.scalar(
        select(func.max(it.occurred_at)).where(
            it.client_id == client.id,
            it.direction.in_(("in", "out")),
            it.kind.in_(CONTACT_KINDS),
        )
    )
    mt = m.MeetingRow
    meetings = tuple(
        MeetingFact(r.id, r.starts_at, r.place, r.topic)
        for r in await s.scalars(
            select(mt).where(
                mt.client_id == client.id,
                mt.status == "planned",
                mt.starts_at >= now,
                mt.starts_at < now + timedelta(days=3),
            )
        )
    )
    inv, ev = m.InvitationRow, m.EventRow
    invitations = tuple(
        InvitationFact(inv_id, title, sent_at)
        for inv_id, title, sent_at in await s.execute(
            select(inv.id, ev.title, inv.sent_at)
            .join(ev, ev.id == inv.event_id)
            .where(
                inv.client_id == client.id,
                inv.status == "sent",
                inv.sent_at.is_not(None),
                ev.status == "open",
            )
        )
        if sent_at is not None  # always, by the filter; narrows the type
    )
    return ClientFacts(
        client=client,
        holdings=holdings,
        incoming=incoming,
        last_contact_at=last_contact,
        meetings=meetings,
        unanswered_invitations=invitations,
    )
