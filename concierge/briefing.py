"""The one-screen meeting brief: who, why they matter, what changed, risks, offers, what to say.

Built from the same snapshot and insights as the card; product facts come through the small
`ProductFacts` port (the knowledge base in production, a fake in tests, or nothing at all).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.clock import Clock
from concierge.access import open_client
from concierge.insights.analysis import Insights, analyse, next_birthday
from concierge.insights.churn import RiskLevel
from concierge.insights.potential import Opportunity
from concierge.insights.reasons import Reason, Templates, explain, label, money
from concierge.insights.rules import InsightRules, default_rules
from concierge.notify import Notifier, Outgoing
from concierge.profile import ClientProfile, load_profile
from crm_adapter.dto import Staff
from crm_adapter.port import Crm, UnitOfWork
from crm_adapter.workspace import MeetingView

log = logging.getLogger(__name__)

# Without a previous meeting, "what changed" looks back this far.
DEFAULT_LOOKBACK = timedelta(days=90)
RECENT_LIFE_EVENT = timedelta(days=365)
MAX_FACTS_PER_OFFER = 2


@dataclass(frozen=True)
class Fact:
    """A product fact quoted from a bank document, with where it comes from."""

    text: str
    doc_id: str
    title: str
    section: str | None = None


class ProductFacts(Protocol):
    def facts(self, family: str, *, language: str) -> list[Fact]:
        """Facts about a product family (investments, insurance, deposits, ...)."""
        ...


@dataclass(frozen=True)
class Offer:
    opportunity: Opportunity
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Briefing:
    profile: ClientProfile
    insights: Insights
    language: str
    since: datetime  # "what changed" starts here: the last meeting or the lookback
    since_meeting: bool
    meeting: MeetingView | None
    changes: tuple[Reason, ...]
    offers: tuple[Offer, ...]
    talking_points: tuple[Reason, ...]
    personal: tuple[Reason, ...]
    timezone: str = "Europe/Moscow"  # of the reader: meeting times are shown in it

    def local(self, moment: datetime) -> str:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return f"{moment.astimezone(zone):%d.%m.%Y %H:%M} ({zone.key})"

    @property
    def file_name(self) -> str:
        return f"briefing-{self.profile.client.external_id}-{self.profile.as_of:%Y-%m-%d}.md"


def _changes(profile: ClientProfile, since: datetime, rules: InsightRules) -> list[Reason]:
    since_day = since.date()
    out: list[Reason] = [
        Reason("new_product", {"name": h.name, "date": h.opened_on.isoformat()})
        for h in profile.holdings
        if h.opened_on is not None and h.opened_on >= since_day
    ]
    out += [
        Reason("life_event", {"text": e.description, "date": e.happened_on.isoformat()})
        for e in profile.life_events
        if e.happened_on is not None and e.happened_on >= since_day
    ]
    large = Decimal(str(rules.potential.large_incoming_rub))
    out += [
        Reason(
            "large_incoming",
            {"amount": money(t.amount_rub), "date": t.occurred_at.date().isoformat()},
        )
        for t in profile.transactions
        if t.occurred_at >= since and t.amount_rub >= large
    ]
    out += [
        Reason("new_request", {"id": r.id, "summary": r.summary})
        for r in profile.open_requests
        if r.created_at >= since
    ]
    out += [
        Reason("feedback", {"kind": f.kind, "score": f.score})
        for f in profile.feedback
        if f.created_at >= since
    ]
    out += [
        Reason("rsvp", {"event": i.event_title, "status": i.status})
        for i in profile.invitations
        if i.answered_at is not None and i.answered_at >= since
    ]
    return out


def _talking_points(profile: ClientProfile, insights: Insights) -> list[Reason]:
    today = profile.as_of.date()
    points: list[Reason] = []
    born = profile.client.birthday
    if born is not None and (days := (next_birthday(born, today) - today).days) <= 14:
        points.append(Reason("birthday", {"days": days, "date": born.strftime("%d.%m")}))
    points += [
        Reason("ask_life_event", {"text": e.description})
        for e in profile.life_events
        if e.happened_on is not None and profile.as_of.date() - e.happened_on <= RECENT_LIFE_EVENT
    ][:2]
    points += [
        Reason("request_update", {"id": r.id, "summary": r.summary}) for r in profile.open_requests
    ]
    points += [
        Reason("follow_interest", {"text": n.text}) for n in profile.notes if n.kind == "interest"
    ][:3]
    points += [
        Reason(f"offer_{o.code}", {"amount": money(o.amount_rub)})
        for o in insights.value.opportunities
    ]
    if insights.churn.level is not RiskLevel.LOW:
        points.append(Reason("ask_feedback"))
    if insights.churn.under_management_control:
        points.append(Reason("introduce_manager"))
    return points


def _personal(profile: ClientProfile) -> list[Reason]:
    out: list[Reason] = []
    d = profile.details
    if d is not None:
        if d.what_matters:
            out.append(Reason("what_matters", {"text": d.what_matters}))
        if d.decision_influencer:
            out.append(Reason("influencer", {"text": d.decision_influencer}))
        if d.opinion_leader:
            out.append(Reason("opinion_leader"))
    if profile.client.do_not_disturb:
        out.append(Reason("do_not_disturb"))
    out.append(Reason("channel", {"channel": profile.client.preferred_channel}))
    out += [
        Reason("note", {"date": n.created_at.date().isoformat(), "text": n.text})
        for n in profile.notes
        if n.kind != "interest"
    ][:5]
    return out


def build_briefing(
    profile: ClientProfile,
    insights: Insights,
    *,
    language: str,
    facts: ProductFacts | None = None,
    rules: InsightRules | None = None,
    meeting: MeetingView | None = None,
    timezone: str = "Europe/Moscow",
) -> Briefing:
    """Pure: assembles the brief from the snapshot; facts are fetched per product family."""
    rules = rules or default_rules()
    last = profile.last_meeting()
    since = last.starts_at if last is not None else profile.as_of - DEFAULT_LOOKBACK
    cache: dict[str, tuple[Fact, ...]] = {}
    offers = []
    for opportunity in insights.value.opportunities:
        if facts is not None and opportunity.family not in cache:
            cache[opportunity.family] = tuple(
                facts.facts(opportunity.family, language=language)[:MAX_FACTS_PER_OFFER]
            )
        offers.append(Offer(opportunity, cache.get(opportunity.family, ())))
    return Briefing(
        profile=profile,
        insights=insights,
        language=language,
        since=since,
        since_meeting=last is not None,
        meeting=meeting or profile.next_meeting(),
        changes=tuple(_changes(profile, since, rules)),
        offers=tuple(offers),
        talking_points=tuple(_talking_points(profile, insights)),
        personal=tuple(_personal(profile)),
        timezone=timezone,
    )


async def prepare_briefing(
    uow: UnitOfWork,
    *,
    clock: Clock,
    staff: Staff,
    client_id: int,
    language: str,
    facts: ProductFacts | None = None,
    rules: InsightRules | None = None,
    meeting: MeetingView | None = None,
) -> Briefing | None:
    """The brief if `staff` may see the client (audited as view_briefing), else None."""
    client = await open_client(
        uow, clock=clock, staff=staff, client_id=client_id, action="view_briefing"
    )
    if client is None:
        return None
    rules = rules or default_rules()
    profile = await load_profile(uow, client=client, now=clock.now())
    return build_briefing(
        profile,
        analyse(profile, rules),
        language=language,
        facts=facts,
        rules=rules,
        meeting=meeting,
        timezone=staff.timezone,
    )


# --- rendering ------------------------------------------------------------------------------
class _Format:
    """How one output flavour marks headings and escapes values."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown

    def esc(self, value: str) -> str:
        return value if self.markdown else html.escape(value, quote=False)

    def heading(self, text: str) -> str:
        # `text` is a rendered template whose values were escaped already.
        return f"\n## {text}" if self.markdown else f"\n<b>{text}</b>"

    def title(self, text: str) -> str:
        return f"# {text}" if self.markdown else f"<b>{text}</b>"


def render(briefing: Briefing, texts: Templates, *, markdown: bool = False) -> str:
    """The brief as Telegram HTML (default) or as a Markdown document."""
    fmt = _Format(markdown)
    lang = briefing.language
    p = briefing.profile
    i = briefing.insights

    def t(key: str, **params: Any) -> str:
        safe = {k: fmt.esc(v) if isinstance(v, str) else v for k, v in params.items()}
        return texts.template(lang, f"manager.brief.{key}").format(**safe)

    def why(reason: Reason) -> str:
        return explain(reason, texts, lang, escape=not markdown)

    def name_of(group: str, code: str) -> str:
        return label(texts, lang, group, code)

    def say(prefix: str, reason: Reason) -> str:
        return explain(
            Reason(f"{prefix}{reason.code}", reason.params), texts, lang, escape=not markdown
        )

    def bullet(line: str) -> str:
        return f"- {line}" if markdown else f"• {line}"

    lines = [fmt.title(t("title", name=p.client.full_name))]
    if briefing.meeting is not None:
        m = briefing.meeting
        lines.append(
            t(
                "meeting",
                when=briefing.local(m.starts_at),
                place=m.place or "—",
                topic=m.topic or "—",
            )
        )

    lines.append(fmt.heading(t("who")))
    years = (p.as_of.date() - p.client.client_since).days // 365 if p.client.client_since else 0
    lines.append(
        bullet(
            t(
                "identity",
                name=p.client.polite_name,
                city=p.client.city or "—",
                years=years,
                occupation="; " + p.details.occupation
                if p.details and p.details.occupation
                else "",
            )
        )
    )
    lines.append(
        bullet(
            t(
                "segments",
                financial=name_of("segment", i.financial.segment.value),
                values=name_of("segment", i.values.segment.value),
            )
        )
    )
    lines.append(
        bullet(
            t(
                "value",
                assets=money(i.value.assets_rub),
                potential=money(i.value.potential_rub),
                products=i.value.product_count,
            )
        )
    )
    if i.group is not None:
        lines.append(bullet(why(i.group.reasons[0])))
    if i.popularity is not None:
        lines.append(bullet(why(i.popularity.reason)))

    lines.append(fmt.heading(t("changes_since_meeting" if briefing.since_meeting else "changes")))
    lines.append(
        t("since", date=briefing.since.date().isoformat())
        if briefing.since_meeting
        else t("since_lookback", days=DEFAULT_LOOKBACK.days)
    )
    lines += [bullet(say("change_", c)) for c in briefing.changes] or [bullet(t("nothing"))]

    lines.append(fmt.heading(t("open_issues")))
    lines += [
        bullet(
            t(
                "request",
                id=r.id,
                summary=r.summary,
                status=label(texts, lang, "request_status", r.status),
            )
        )
        for r in p.open_requests
    ] or [bullet(t("nothing"))]

    lines.append(fmt.heading(t("risks")))
    lines.append(
        bullet(
            t(
                "churn",
                level=name_of("risk", i.churn.level.value),
                score=f"{i.churn.score:.2f}",
            )
        )
    )
    if i.churn.under_management_control:
        lines.append(bullet(t("under_control")))
    lines += [bullet(why(r)) for r in i.churn.reasons]

    lines.append(fmt.heading(t("opportunities")))
    for offer in briefing.offers:
        lines.append(
            bullet(
                name_of("offer", offer.opportunity.code) + ": " + why(offer.opportunity.reasons[0])
            )
        )
        lines += [
            "    " + bullet(t("fact", text=f.text, title=f.title, section=f.section or "—"))
            for f in offer.facts
        ]
    if not briefing.offers:
        lines.append(bullet(t("nothing")))

    lines.append(fmt.heading(t("talking_points")))
    lines += [bullet(say("talk_", r)) for r in briefing.talking_points] or [bullet(t("nothing"))]

    lines.append(fmt.heading(t("personal")))
    recent_events = [e for e in p.life_events if e.happened_on is not None][:3]
    lines += [
        bullet(
            t(
                "life_event",
                date=e.happened_on.isoformat() if e.happened_on else "",
                text=e.description,
            )
        )
        for e in recent_events
    ]
    lines += [bullet(say("personal_", r)) for r in briefing.personal]
    return "\n".join(lines).strip() + "\n"


def to_dict(briefing: Briefing) -> dict[str, Any]:
    """A JSON-ready view for the CLI and integrations: codes and numbers, no rendered prose."""
    p, i = briefing.profile, briefing.insights

    def reasons(items: tuple[Reason, ...]) -> list[dict[str, Any]]:
        return [{"code": r.code, **r.params} for r in items]

    return {
        "client": {
            "id": p.client.id,
            "external_id": p.client.external_id,
            "name": p.client.full_name,
        },
        "as_of": p.as_of.isoformat(),
        "since": briefing.since.isoformat(),
        "meeting": briefing.meeting.model_dump(mode="json") if briefing.meeting else None,
        "segments": {
            "financial": i.financial.segment.value,
            "financial_reasons": reasons(i.financial.reasons),
            "values": i.values.segment.value,
            "values_reasons": reasons(i.values.reasons),
        },
        "value": {
            "assets_rub": str(i.value.assets_rub),
            "potential_rub": str(i.value.potential_rub),
            "products": i.value.product_count,
        },
        "group": (
            {
                "name": i.group.name,
                "members": i.group.member_count,
                "total_profit_rub": str(i.group.total_profit_rub),
                "loss_members": list(i.group.loss_members),
            }
            if i.group
            else None
        ),
        "popularity_index": i.popularity.index if i.popularity else None,
        "churn": {
            "score": i.churn.score,
            "level": i.churn.level.value,
            "under_management_control": i.churn.under_management_control,
            "reasons": reasons(i.churn.reasons),
        },
        "changes": reasons(briefing.changes),
        "open_requests": [r.model_dump(mode="json") for r in p.open_requests],
        "offers": [
            {
                "code": o.opportunity.code,
                "family": o.opportunity.family,
                "amount_rub": str(o.opportunity.amount_rub),
                "reasons": reasons(o.opportunity.reasons),
                "facts": [f.__dict__ for f in o.facts],
            }
            for o in briefing.offers
        ],
        "talking_points": reasons(briefing.talking_points),
        "personal": reasons(briefing.personal),
    }


# --- automatic briefings before meetings --------------------------------------------------
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
