"""Each trigger condition against crafted client facts and a fixed time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from common.clock import ManualClock
from crm_adapter.dto import Client, ProductHolding
from scheduler.conditions import (
    CONDITIONS,
    ClientFacts,
    IncomingPayment,
    InvitationFact,
    MeetingFact,
)
from scheduler.rules import RuleError, load_rules
from tests.unit.insight_fixtures import make_client as insight_client

MSK = ZoneInfo("Europe/Moscow")
clock = ManualClock(datetime(2026, 6, 15, 7, 0, tzinfo=UTC))  # 10:00 Moscow


def make_client(**overrides: object) -> Client:
    """The insight tests' client, born on the clock's day (15 June)."""
    values: dict[str, object] = {
        "id": 7,
        "external_id": "C7",
        "first_name": "Ирина",
        "middle_name": "Павловна",
        "last_name": "Соколова",
        "birthday": date(1975, 6, 15),
        "manager_id": 1,
        "client_since": date(2015, 1, 1),
    }
    return insight_client(**(values | overrides))


def holding(
    hid: int,
    kind: str,
    *,
    balance: int = 1_000_000,
    matures: date | None = None,
    expires: date | None = None,
) -> ProductHolding:
    return ProductHolding(
        id=hid,
        client_id=7,
        product_type=kind,
        name=f"{kind} {hid}",
        balance=Decimal(balance),
        currency="RUB",
        rate_percent=None,
        opened_on=None,
        matures_on=matures,
        expires_on=expires,
        status="active",
    )


def check(
    name: str, facts: ClientFacts, now: datetime | None = None, **params: object
) -> list[str]:
    return [o.key for o in CONDITIONS[name](facts, now or clock.now(), params)]


def test_birthday_today_in_the_client_time_zone() -> None:
    assert check("birthday_today", ClientFacts(make_client())) == ["2026"]
    # 20:30 UTC on 14 June is already 15 June in Vladivostok, still 14 June in Moscow.
    late = datetime(2026, 6, 14, 20, 30, tzinfo=UTC)
    far_east = ClientFacts(make_client(timezone="Asia/Vladivostok"))
    assert check("birthday_today", far_east, late) == ["2026"]
    assert check("birthday_today", ClientFacts(make_client()), late) == []


def test_birthday_on_29_february_is_celebrated_on_28th_in_common_years() -> None:
    facts = ClientFacts(make_client(birthday=date(1980, 2, 29)))
    assert check("birthday_today", facts, datetime(2027, 2, 28, 9, tzinfo=UTC)) == ["2027"]


@pytest.mark.parametrize(
    ("days_left", "window", "fires"),
    [(14, 14, True), (3, 14, True), (15, 14, False), (-1, 3, False)],
)
def test_deposit_matures_in(days_left: int, window: int, fires: bool) -> None:
    matures = date(2026, 6, 15) + timedelta(days=days_left)
    facts = ClientFacts(make_client(), holdings=(holding(1, "deposit", matures=matures),))
    assert bool(check("deposit_matures_in", facts, days=window)) is fires


def test_card_expires_in() -> None:
    facts = ClientFacts(
        make_client(),
        holdings=(
            holding(1, "premium_card", expires=date(2026, 7, 10)),
            holding(2, "premium_card", expires=date(2026, 9, 1)),
        ),
    )
    assert check("card_expires_in", facts, days=30) == ["1:2026-07-10"]


def test_large_incoming_funds_only_recent_and_large() -> None:
    now = clock.now()
    facts = ClientFacts(
        make_client(),
        incoming=(
            IncomingPayment(1, now - timedelta(days=1), Decimal(6_000_000)),
            IncomingPayment(2, now - timedelta(days=5), Decimal(9_000_000)),
            IncomingPayment(3, now - timedelta(hours=1), Decimal(100_000)),
        ),
    )
    assert check("large_incoming_funds", facts, min_rub=5_000_000, days=3) == ["1"]


def test_idle_balance_needs_cash_and_no_investments() -> None:
    rich = (holding(1, "deposit", balance=12_000_000),)
    assert check(
        "idle_balance", ClientFacts(make_client(), holdings=rich), min_rub=10_000_000
    ) == ["2026-Q2"]
    invested = (*rich, holding(2, "brokerage"))
    assert (
        check("idle_balance", ClientFacts(make_client(), holdings=invested), min_rub=10_000_000)
        == []
    )


def test_no_contact_for_keys_by_the_last_contact() -> None:
    now = clock.now()
    silent = ClientFacts(make_client(), last_contact_at=now - timedelta(days=50))
    assert check("no_contact_for", silent, days=45) == [
        f"since:{(now - timedelta(days=50)).date().isoformat()}"
    ]
    recent = ClientFacts(make_client(), last_contact_at=now - timedelta(days=10))
    assert check("no_contact_for", recent, days=45) == []


def test_meeting_tomorrow_in_local_dates() -> None:
    tomorrow_11 = datetime(2026, 6, 16, 11, 0, tzinfo=MSK)
    day_after = datetime(2026, 6, 17, 11, 0, tzinfo=MSK)
    facts = ClientFacts(
        make_client(),
        meetings=(
            MeetingFact(1, tomorrow_11, "Офис", None),
            MeetingFact(2, day_after, None, None),
        ),
    )
    occasions = CONDITIONS["meeting_tomorrow"](facts, clock.now(), {})
    assert [(o.key, o.fields["time"]) for o in occasions] == [("1", "11:00")]


def test_invitation_unanswered_after_days() -> None:
    now = clock.now()
    facts = ClientFacts(
        make_client(),
        unanswered_invitations=(
            InvitationFact(1, "Ужин с шефом", now - timedelta(days=4)),
            InvitationFact(2, "Турнир", now - timedelta(days=1)),
        ),
    )
    assert check("invitation_unanswered", facts, days=3) == ["1"]


def test_shipped_rules_file_is_valid_and_covers_every_condition() -> None:
    rules = load_rules()
    assert {r.condition for r in rules} == set(CONDITIONS)
    greeting = next(r for r in rules if r.id == "birthday_greeting")
    assert greeting.send_at == time(10, 0)
    assert "<b>" not in greeting.render("ru", {"name": "<b>Ирина</b>"})  # escaped


def test_unknown_condition_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - id: x\n    condition: moon_is_full\n    templates: {ru: a}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match="unknown condition"):
        load_rules(path)
