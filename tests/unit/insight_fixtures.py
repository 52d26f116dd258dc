"""Crafted client snapshots for insight and briefing unit tests (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from concierge.insights.reasons import Reason
from concierge.profile import ClientProfile
from crm_adapter.dto import Client, LifeEvent, Note, ProductHolding
from crm_adapter.workspace import (
    ClientDetails,
    Contact,
    Feedback,
    InvitationView,
    MeetingView,
    OpenRequest,
    Transaction,
)

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def make_client(**changes: Any) -> Client:
    fields: dict[str, Any] = {
        "id": 1,
        "external_id": "C-0001",
        "first_name": "Иван",
        "middle_name": "Петрович",
        "last_name": "Волков",
        "birthday": date(1970, 3, 14),
        "city": "Москва",
        "timezone": "Europe/Moscow",
        "language": "ru",
        "preferred_channel": "messenger",
        "quiet_start": time(22, 0),
        "quiet_end": time(9, 0),
        "do_not_disturb": False,
        "marketing_opt_out": False,
        "financial_segment": None,
        "values_segment": None,
        "manager_id": 10,
        "holding_group_id": None,
        "client_since": date(2012, 5, 1),
    }
    fields.update(changes)
    return Client(**fields)


_ids = iter(range(1, 10_000))


def holding(product_type: str, balance: int | str, **changes: Any) -> ProductHolding:
    fields: dict[str, Any] = {
        "id": next(_ids),
        "client_id": 1,
        "product_type": product_type,
        "name": f"{product_type} {balance}",
        "balance": Decimal(str(balance)),
        "currency": "RUB",
        "rate_percent": None,
        "opened_on": date(2020, 1, 1),
        "matures_on": None,
        "expires_on": None,
        "status": "active",
    }
    fields.update(changes)
    return ProductHolding(**fields)


def tx(days_ago: float, amount: int = -10_000, category: str = "payment") -> Transaction:
    return Transaction(
        occurred_at=ago(days_ago), amount_rub=Decimal(amount), category=category, description=None
    )


def contact(days_ago: float, channel: str = "messenger", actor: str = "client") -> Contact:
    direction = "in" if actor == "client" else "out"
    return Contact(
        occurred_at=ago(days_ago),
        channel=channel,
        direction=direction,
        kind="message",
        actor=actor,
    )


def feedback(days_ago: float, score: int, kind: str = "request") -> Feedback:
    return Feedback(kind=kind, score=score, comment=None, created_at=ago(days_ago))


def invitation(
    title: str, status: str, *, sent_days_ago: float = 20, **changes: Any
) -> InvitationView:
    fields: dict[str, Any] = {
        "event_id": next(_ids),
        "event_title": title,
        "event_starts_at": NOW + timedelta(days=10),
        "event_timezone": "Europe/Moscow",
        "status": status,
        "sent_at": ago(sent_days_ago),
        "answered_at": None,
        "checked_in_at": None,
    }
    fields.update(changes)
    return InvitationView(**fields)


def life_event(kind: str, description: str, days_ago: int = 60) -> LifeEvent:
    return LifeEvent(
        id=next(_ids),
        client_id=1,
        kind=kind,
        happened_on=(NOW - timedelta(days=days_ago)).date(),
        description=description,
    )


def note(text: str, kind: str = "note", days_ago: float = 5) -> Note:
    return Note(
        id=next(_ids), client_id=1, author_id=10, created_at=ago(days_ago), text=text, kind=kind
    )


def meeting(days_from_now: float, status: str = "planned", **changes: Any) -> MeetingView:
    fields: dict[str, Any] = {
        "id": next(_ids),
        "client_id": 1,
        "manager_id": 10,
        "starts_at": NOW + timedelta(days=days_from_now),
        "place": "Офис на Тверской",
        "topic": "Обзор портфеля",
        "status": status,
        "briefing_sent_at": None,
    }
    fields.update(changes)
    return MeetingView(**fields)


def request(summary: str, days_ago: float = 3) -> OpenRequest:
    return OpenRequest(
        id=next(_ids),
        service_code="cash_delivery",
        status="accepted",
        urgent=False,
        summary=summary,
        created_at=ago(days_ago),
        resolve_due_at=NOW + timedelta(days=1),
    )


def details(**changes: Any) -> ClientDetails:
    fields: dict[str, Any] = {
        "client_id": 1,
        "occupation": None,
        "is_public_person": False,
        "opinion_leader": False,
        "decision_influencer": None,
        "what_matters": None,
        "previous_manager_id": None,
        "manager_since": None,
    }
    fields.update(changes)
    return ClientDetails(**fields)


def profile(**parts: Any) -> ClientProfile:
    client = parts.pop("client", None) or make_client()
    for key, value in list(parts.items()):
        if isinstance(value, list):
            parts[key] = tuple(value)
    return ClientProfile(client=client, as_of=NOW, **parts)


def codes(reasons: tuple[Reason, ...]) -> set[str]:
    """The codes of the reasons a rule gave, for comparing without their numbers."""
    return {r.code for r in reasons}
