"""The meeting brief as text: Telegram HTML or a Markdown document (`render`), and as plain
data for the CLI and integrations (`to_dict`)."""

from __future__ import annotations

import html
from typing import Any

from common.i18n import localize_masks, show_date
from concierge.briefing import DEFAULT_LOOKBACK, Briefing
from concierge.insights.reasons import Reason, Templates, explain, label, money


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
        # Like common.i18n.Translator: a quoted text's placeholders worded for the reader.
        safe = {
            k: fmt.esc(localize_masks(v, lang, texts)) if isinstance(v, str) else v
            for k, v in params.items()
        }
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
        t("since", date=show_date(briefing.since.date()))
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
                date=show_date(e.happened_on),
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
