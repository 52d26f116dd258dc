"""How the manager workspace looks in the chat: the client card, client lists, the overview."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup

from bot.callbacks import RowId
from bot.keyboards import Keyboard
from common.i18n import Catalog, Raw, Translator, show_date, show_iso_date
from concierge.insights.analysis import Flag
from concierge.insights.reasons import Reason, explain, label
from concierge.profile import ClientProfile
from concierge.search import Match
from concierge.workspace import ClientView, PortfolioEntry, PortfolioOverview
from crm_adapter.dto import Client

MAX_LIST_BUTTONS = 30
RECENT_ITEMS = 5


class ClientCb(CallbackData, prefix="cl"):
    """A button about one client; access is checked again on every press."""

    action: str  # card | brief | note | history
    client_id: RowId


def money(amount: Decimal) -> str:
    return f"{amount:,.0f}".replace(",", " ")


def _button_label(client: Client, flags: Iterable[Flag], t: Translator) -> str:
    marks = "".join(t(f"manager.flag.{f.value}") for f in flags)
    return f"{client.last_name} {client.first_name} {marks}".strip()


def client_list(
    rows: Iterable[tuple[Client, Iterable[Flag]]], t: Translator
) -> InlineKeyboardMarkup:
    kb = Keyboard()
    for client, flags in list(rows)[:MAX_LIST_BUTTONS]:
        kb.button(
            text=_button_label(client, flags, t),
            callback_data=ClientCb(action="card", client_id=client.id),
        )
    kb.adjust(1)
    return kb.as_markup()


def portfolio_list(entries: list[PortfolioEntry], t: Translator) -> InlineKeyboardMarkup:
    return client_list(((e.view.client, e.flags) for e in entries), t)


def matches_list(matches: Iterable[Match], t: Translator) -> InlineKeyboardMarkup:
    return client_list(((m.client, ()) for m in matches), t)


def card_keyboard(client_id: int, t: Translator) -> InlineKeyboardMarkup:
    kb = Keyboard()
    kb.button(
        text=t("manager.btn.briefing"), callback_data=ClientCb(action="brief", client_id=client_id)
    )
    kb.button(
        text=t("manager.btn.note"), callback_data=ClientCb(action="note", client_id=client_id)
    )
    kb.button(
        text=t("manager.btn.history"),
        callback_data=ClientCb(action="history", client_id=client_id),
    )
    return kb.as_markup()


def card_text(view: ClientView, t: Translator, catalog: Catalog) -> str:
    """The 360 card: identity, preferences, value, products, group, life, contacts, risk."""
    p, i = view.profile, view.insights
    c = p.client
    lang = t.language
    none = t("manager.card.none")

    def name_of(group: str, code: str) -> str:
        return label(catalog, lang, group, code)

    def why(reason: Reason) -> str:
        return t("manager.card.reason", text=Raw(explain(reason, catalog, lang)))

    lines = [
        t("manager.card.title", name=c.full_name, external_id=c.external_id),
        t(
            "manager.card.identity",
            polite=c.polite_name,
            city=c.city or none,
            since=show_date(c.client_since, none),
            birthday=show_date(c.birthday, none),
        ),
        t(
            "manager.card.contact",
            channel=name_of("channel", c.preferred_channel),
            quiet=f"{c.quiet_start:%H:%M}–{c.quiet_end:%H:%M}",
            tz=c.timezone,
            dnd=Raw(t("manager.card.dnd")) if c.do_not_disturb else "",
            no_marketing=Raw(t("manager.card.no_marketing")) if c.marketing_opt_out else "",
        ),
        t("manager.card.manager", manager=p.manager.full_name if p.manager else none),
        t(
            "manager.card.segments",
            financial=t(f"manager.segment.{i.financial.segment.value}"),
            values=t(f"manager.segment.{i.values.segment.value}"),
        ),
    ]
    lines += [why(r) for r in (*i.financial.reasons, *i.values.reasons)]
    if i.popularity is not None:
        lines.append(why(i.popularity.reason))
    v = i.value
    lines.append(
        t(
            "manager.card.value",
            assets=money(v.assets_rub),
            deposits=money(v.deposits_rub),
            investments=money(v.investments_rub),
            insurance=money(v.insurance_rub),
            credit=money(v.credit_rub),
            potential=money(v.potential_rub),
        )
    )
    active = [h for h in p.holdings if h.status == "active"]
    if active:
        lines.append(t("manager.card.holdings"))
        lines += [
            t(
                "manager.card.holding",
                name=h.name,
                balance=money(h.balance),
                currency=h.currency,
                matures=Raw(t("manager.card.matures", date=show_date(h.matures_on)))
                if h.matures_on
                else "",
            )
            for h in active
        ]
    if i.group is not None and p.group is not None:
        lines.append(
            t(
                "manager.card.group",
                name=i.group.name,
                members=i.group.member_count,
                total=money(i.group.total_profit_rub),
                own=money(i.group.own_profit_rub),
            )
        )
        lines += [
            t(
                "manager.card.group_member",
                name=m.name,
                kind=m.member_kind,
                relation=f", {m.relation}" if m.relation else "",
                profit=money(m.annual_profit_rub),
            )
            for m in p.group.members
        ]
        lines += [why(r) for r in i.group.reasons[1:]]
    if p.life_events:
        lines.append(t("manager.card.life_events"))
        lines += [
            t(
                "manager.card.life_event",
                date=show_date(e.happened_on),
                text=e.description,
            )
            for e in p.life_events[:RECENT_ITEMS]
        ]
    lines += _activity_lines(p, t, name_of)
    lines.append(
        t(
            "manager.card.churn",
            level=t(f"manager.risk.{i.churn.level.value}"),
            score=f"{i.churn.score:.2f}",
        )
    )
    if i.churn.under_management_control:
        lines.append(t("manager.card.under_control"))
    lines += [why(r) for r in i.churn.reasons]
    if v.opportunities:
        lines.append(t("manager.card.opportunities"))
        lines += [
            t(
                "manager.card.opportunity",
                offer=t(f"manager.offer.{o.code}"),
                amount=money(o.amount_rub),
                why=Raw(explain(o.reasons[0], catalog, lang)),
            )
            for o in v.opportunities
        ]
    return "\n".join(lines)


def _activity_lines(
    p: ClientProfile, t: Translator, name_of: Callable[[str, str], str]
) -> list[str]:
    """Contacts, open requests, interests, ratings and events: the living part of the card."""
    none = t("manager.card.none")
    lines: list[str] = []
    latest: dict[str, str] = {}
    # People talking (no bot notices, no internal notes); oldest first, so the newest wins.
    for contact in p.contacts:
        if contact.actor in ("client", "staff") and contact.direction != "internal":
            latest[contact.medium] = contact.occurred_at.date().isoformat()
    if latest:
        items = ", ".join(
            t("manager.card.contact_item", channel=name_of("channel", ch), date=show_iso_date(day))
            for ch, day in sorted(latest.items(), key=lambda kv: kv[1], reverse=True)
        )
        lines.append(t("manager.card.contacts", items=Raw(items)))
    if p.open_requests:
        lines.append(t("manager.card.requests"))
        lines += [
            t(
                "manager.card.request",
                id=r.id,
                summary=r.summary,
                status=name_of("request_status", r.status),
            )
            for r in p.open_requests
        ]
    interests = [n for n in p.notes if n.kind == "interest"]
    if interests:
        lines.append(t("manager.card.interests"))
        lines += [
            t("manager.card.interest", date=show_date(n.created_at.date()), text=n.text)
            for n in interests[:RECENT_ITEMS]
        ]
    ratings = [str(f.score) for f in p.feedback if f.kind != "nps"][-RECENT_ITEMS:]
    nps = [str(f.score) for f in p.feedback if f.kind == "nps"][-3:]
    if ratings or nps:
        lines.append(
            t(
                "manager.card.feedback",
                ratings=", ".join(ratings) or none,
                nps=", ".join(nps) or none,
            )
        )
    upcoming = [inv for inv in p.invitations if inv.event_starts_at >= p.as_of]
    if upcoming:
        lines.append(t("manager.card.events"))
        lines += [
            t(
                "manager.card.event",
                date=show_date(inv.event_day),
                title=inv.event_title,
                status=name_of("rsvp", inv.status),
            )
            for inv in upcoming[:RECENT_ITEMS]
        ]
    return lines


def overview_text(overview: PortfolioOverview, t: Translator) -> str:
    lines = [
        t(
            "manager.portfolio_title",
            count=overview.clients,
            assets=money(overview.assets_rub),
            potential=money(overview.potential_rub),
        ),
        t("manager.portfolio_segments"),
    ]
    lines += [
        f"  {t(f'manager.segment.{segment}')}: {count}"
        for segment, count in overview.by_segment.items()
    ]
    lines.append(t("manager.portfolio_risk", **overview.by_risk))
    if overview.top_opportunities:
        lines.append(t("manager.portfolio_top"))
        lines += [
            "  "
            + t(
                "manager.portfolio_offer",
                name=client.full_name,
                offer=t(f"manager.offer.{o.code}"),
                amount=money(o.amount_rub),
            )
            for client, o in overview.top_opportunities
        ]
    return "\n".join(lines)
