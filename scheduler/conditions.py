"""Named trigger conditions the rules file refers to; pure functions over a client's facts.

A condition returns the client's current *occasions*: each has a key that is stable for as
long as it is the same occasion in the bank's eyes (this year's birthday, this deposit's
maturity, this incoming payment) and the fields its templates may use. The engine stores the
key with a unique constraint, so an occasion fires once however often rules are evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm_adapter.dto import Client, ProductHolding

INVESTMENT_TYPES = frozenset(
    {"brokerage", "trust", "mutual_fund", "structured", "alternative", "insurance_life"}
)
CASH_TYPES = frozenset({"current", "savings", "deposit"})


@dataclass(frozen=True)
class IncomingPayment:
    id: int
    occurred_at: datetime
    amount_rub: Decimal


@dataclass(frozen=True)
class MeetingFact:
    id: int
    starts_at: datetime
    place: str | None
    topic: str | None


@dataclass(frozen=True)
class InvitationFact:
    id: int
    event_title: str
    sent_at: datetime


@dataclass(frozen=True)
class ClientFacts:
    """Everything the conditions may look at for one client, loaded once per evaluation."""

    client: Client
    holdings: tuple[ProductHolding, ...] = ()
    incoming: tuple[IncomingPayment, ...] = ()
    last_contact_at: datetime | None = None
    meetings: tuple[MeetingFact, ...] = ()
    unanswered_invitations: tuple[InvitationFact, ...] = ()

    def local_now(self, now: datetime) -> datetime:
        return now.astimezone(ZoneInfo(self.client.timezone))


@dataclass(frozen=True)
class Occasion:
    key: str
    fields: Mapping[str, str] = field(default_factory=dict)


Condition = Callable[[ClientFacts, datetime, Mapping[str, Any]], list[Occasion]]
CONDITIONS: dict[str, Condition] = {}


def condition(name: str) -> Callable[[Condition], Condition]:
    """Registers a condition under the name the rules file uses."""

    def register(func: Condition) -> Condition:
        CONDITIONS[name] = func
        return func

    return register


def rub(amount: Decimal) -> str:
    return f"{amount:,.0f}".replace(",", "\u00a0") + "\u00a0₽"


@condition("birthday_today")
def birthday_today(facts: ClientFacts, now: datetime, params: Mapping[str, Any]) -> list[Occasion]:
    birthday = facts.client.birthday
    today = facts.local_now(now).date()
    if birthday is None:
        return []
    # A 29 February birthday is celebrated on 28 February in other years.
    month, day = birthday.month, birthday.day
    if (month, day) == (2, 29) and not _is_leap(today.year):
        day = 28
    if (today.month, today.day) != (month, day):
        return []
    return [Occasion(str(today.year), {"age": str(today.year - birthday.year)})]


@condition("deposit_matures_in")
def deposit_matures_in(
    facts: ClientFacts, now: datetime, params: Mapping[str, Any]
) -> list[Occasion]:
    days = int(params["days"])
    today = facts.local_now(now).date()
    found = []
    for h in facts.holdings:
        if h.product_type != "deposit" or h.status != "active" or h.matures_on is None:
            continue
        left = (h.matures_on - today).days
        # "Within" rather than "exactly": a day the scheduler was down must not lose it.
        if 0 <= left <= days:
            found.append(
                Occasion(
                    f"{h.id}:{h.matures_on.isoformat()}:{days}",
                    {
                        "product": h.name,
                        "matures_on": _d(h.matures_on),
                        "days_left": str(left),
                        "amount": rub(h.balance),
                    },
                )
            )
    return found


@condition("card_expires_in")
def card_expires_in(
    facts: ClientFacts, now: datetime, params: Mapping[str, Any]
) -> list[Occasion]:
    days = int(params["days"])
    today = facts.local_now(now).date()
    return [
        Occasion(
            f"{h.id}:{h.expires_on.isoformat()}",
            {"product": h.name, "expires_on": _d(h.expires_on)},
        )
        for h in facts.holdings
        if h.product_type == "premium_card"
        and h.status == "active"
        and h.expires_on is not None
        and 0 <= (h.expires_on - today).days <= days
    ]


@condition("large_incoming_funds")
def large_incoming_funds(
    facts: ClientFacts, now: datetime, params: Mapping[str, Any]
) -> list[Occasion]:
    minimum = Decimal(str(params["min_rub"]))
    since = now - timedelta(days=int(params.get("days", 3)))
    return [
        Occasion(str(p.id), {"amount": rub(p.amount_rub), "received_on": _d(p.occurred_at.date())})
        for p in facts.incoming
        if p.occurred_at >= since and p.amount_rub >= minimum
    ]


@condition("idle_balance")
def idle_balance(facts: ClientFacts, now: datetime, params: Mapping[str, Any]) -> list[Occasion]:
    """Large money kept in cash products with nothing invested: unrealised potential."""
    minimum = Decimal(str(params.get("min_rub", 10_000_000)))
    active = [h for h in facts.holdings if h.status == "active"]
    if any(h.product_type in INVESTMENT_TYPES for h in active):
        return []
    cash = sum(
        (h.balance for h in active if h.product_type in CASH_TYPES and h.currency == "RUB"),
        Decimal(0),
    )
    if cash < minimum:
        return []
    # Once a quarter at most: the manager needs a nudge, not a daily nag.
    local = facts.local_now(now)
    quarter = (local.month - 1) // 3 + 1
    return [Occasion(f"{local.year}-Q{quarter}", {"amount": rub(cash)})]


@condition("no_contact_for")
def no_contact_for(facts: ClientFacts, now: datetime, params: Mapping[str, Any]) -> list[Occasion]:
    days = int(params["days"])
    last = facts.last_contact_at
    if last is None or now - last < timedelta(days=days):
        return []
    # Keyed by the last contact: a new silence after a new contact is a new occasion.
    return [
        Occasion(
            f"since:{last.date().isoformat()}",
            {"days": str((now - last).days), "last_contact": _d(last.date())},
        )
    ]


@condition("meeting_tomorrow")
def meeting_tomorrow(
    facts: ClientFacts, now: datetime, params: Mapping[str, Any]
) -> list[Occasion]:
    zone = ZoneInfo(facts.client.timezone)
    tomorrow = facts.local_now(now).date() + timedelta(days=1)
    found = []
    for meeting in facts.meetings:
        local = meeting.starts_at.astimezone(zone)
        if local.date() == tomorrow:
            found.append(
                Occasion(
                    str(meeting.id),
                    {
                        "time": local.strftime("%H:%M"),
                        "place": meeting.place or "",
                        "topic": meeting.topic or "",
                    },
                )
            )
    return found


@condition("invitation_unanswered")
def invitation_unanswered(
    facts: ClientFacts, now: datetime, params: Mapping[str, Any]
) -> list[Occasion]:
    days = int(params["days"])
    return [
        Occasion(str(inv.id), {"event": inv.event_title, "days": str((now - inv.sent_at).days)})
        for inv in facts.unanswered_invitations
        if now - inv.sent_at >= timedelta(days=days)
    ]


def _d(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
