"""The computed part of a demo client's history: holdings, twelve months of transactions and
contacts, and the meetings held, from seeded rules and the vocabulary of `bank.yaml`.

Every random choice comes from a `random.Random` seeded with the load's seed, the client's
external id and what is being made, so a client's history is the same on every load and
does not depend on which other clients were loaded with it. Changing the order of the
choices below changes the demo bank.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm_adapter import models as m
from crm_adapter.demo.spec import Channel, ClientSpec, Direction, HistoryVocabulary

DUBAI = "Asia/Dubai"
DIRECTIONS: tuple[Direction, ...] = ("in", "out")


def seeded(seed: int, *key: str) -> random.Random:
    # String seeds are hashed deterministically (not by PYTHONHASHSEED).
    return random.Random(":".join((str(seed), *key)))


def at_local(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def rub(rng: random.Random, low: int, high: int, step: int = 1) -> Decimal:
    """A random amount between low and high roubles, with kopecks when step is 1."""
    if step == 1:
        return Decimal(rng.randrange(low * 100, high * 100)) / 100
    return Decimal(rng.randrange(low // step, high // step) * step)


class ClientHistory:
    """Makes the rows of one new client's history; the loader adds them to the session."""

    def __init__(
        self,
        vocabulary: HistoryVocabulary,
        *,
        now: datetime,
        today: date,
        seed: int,
        staff: dict[str, int],
    ) -> None:
        self.words = vocabulary
        self.now = now
        self.today = today  # in Moscow, the bank's calendar
        self.seed = seed
        self.staff = staff

    def manager_on(self, spec: ClientSpec, day: date) -> int:
        """Who managed the client on that day (a client whose manager changed had another)."""
        change = spec.manager_change
        if change and day < self.today - timedelta(days=change.days_ago):
            return self.staff[change.previous]
        return self.staff[spec.manager]

    def start(self, spec: ClientSpec) -> date:
        """The first day of history: a year ago, or when the client came."""
        since = spec.client_for.total_days
        return max(self.today - timedelta(days=365), self.today - timedelta(days=since))

    # holdings ------------------------------------------------------------------------------

    def holdings(self, spec: ClientSpec, client_id: int) -> list[m.ProductHoldingRow]:
        rng = seeded(self.seed, spec.external_id, "holdings")
        since_days = spec.client_for.total_days
        since = self.today - timedelta(days=since_days)
        fin = spec.financial_segment
        rows: list[m.ProductHoldingRow] = []

        def hold(kind: str, name: str, balance: Decimal, **extra: Any) -> None:
            opened = since + timedelta(days=rng.randint(0, max(since_days - 30, 1)))
            extra.setdefault("opened_on", opened)
            rows.append(
                m.ProductHoldingRow(
                    client_id=client_id, product_type=kind, name=name, balance=balance, **extra
                )
            )

        potential = "potential" in spec.traits
        wants_deposit = any(t.startswith("deposit_") for t in spec.traits)
        if potential or wants_deposit or fin == "stable_keeper" or rng.random() < 0.5:
            # Only the "potential" clients hold a large deposit without investments or insurance.
            low, high = (30_000_000, 120_000_000) if potential else (5_000_000, 60_000_000)
            if not potential and fin in ("credit_dependent", "low_engagement"):
                low, high = 3_000_000, 25_000_000
            matures = self.today + timedelta(days=self.deposit_days(spec, rng))
            hold(
                "deposit",
                rng.choice(("Вклад «Капитал»", "Вклад «Приоритет»", "Вклад «Резерв+»")),
                rub(rng, low, high, 100_000),
                rate_percent=Decimal(rng.choice(("14.500", "15.200", "16.000", "17.300"))),
                opened_on=matures - timedelta(days=rng.choice((181, 367))),
                matures_on=matures,
            )
        if fin in ("stable_keeper", "low_engagement") or potential:
            hold(
                "savings",
                "Накопительный счёт «Гавань»",
                rub(rng, 1_000_000, 10_000_000, 1000),
                rate_percent=Decimal("13.000"),
            )
        card_days = (
            rng.choice((12, 27)) if "card_expiring" in spec.traits else rng.randint(90, 900)
        )
        hold(
            "premium_card",
            rng.choice(("Карта «Белая Гавань Infinite»", "Карта «Белая Гавань Signature»")),
            rub(rng, 100_000, 3_000_000),
            expires_on=self.today + timedelta(days=card_days),
        )
        if not potential:
            self.segment_products(spec, rng, hold)
        return rows

    @staticmethod
    def deposit_days(spec: ClientSpec, rng: random.Random) -> int:
        for trait, days in (("deposit_3", 2), ("deposit_14", 10), ("deposit_30", 25)):
            if trait in spec.traits:
                return days
        return rng.randint(45, 330)

    def segment_products(
        self, spec: ClientSpec, rng: random.Random, hold: Callable[..., None]
    ) -> None:
        """Investments, insurance, credit and FX fitting the client's financial segment."""
        fin = spec.financial_segment
        chance = {
            "stable_keeper": 0.3,
            "active_investor": 0.8,
            "credit_dependent": 0.15,
            "low_engagement": 0.0,
        }[fin]
        if fin == "active_investor":
            hold("brokerage", "Брокерский счёт", rub(rng, 15_000_000, 150_000_000, 10_000))
        if fin == "stable_keeper":
            hold(
                "insurance_life",
                "Накопительное страхование жизни «Наследие»",
                rub(rng, 3_000_000, 20_000_000, 10_000),
            )
        if fin == "credit_dependent":
            hold(
                "credit_line",
                "Кредитная линия для бизнеса (лимит 200 млн ₽)",
                -rub(rng, 20_000_000, 150_000_000, 100_000),
                rate_percent=Decimal("22.500"),
            )
            if rng.random() < 0.6:
                hold(
                    "insurance_property",
                    "Страхование недвижимости",
                    rub(rng, 50_000_000, 300_000_000, 1_000_000),
                )
        optional = (
            ("trust", "Доверительное управление «Сбалансированный»", 20_000_000, 80_000_000),
            ("mutual_fund", "ПИФ «Облигации Плюс»", 2_000_000, 15_000_000),
            ("structured", "Структурный продукт «Защита капитала 100%»", 5_000_000, 30_000_000),
            ("alternative", "Фонд недвижимости «Альтернатива»", 10_000_000, 40_000_000),
        )
        for kind, name, low, high in optional:
            if rng.random() < chance:
                hold(kind, name, rub(rng, low, high, 10_000))
        if fin == "active_investor" and rng.random() < 0.6:
            currency = rng.choice(("USD", "EUR", "CNY"))
            hold("fx", f"Валютный счёт {currency}", rub(rng, 50_000, 2_000_000), currency=currency)
        if rng.random() < 0.35 or spec.timezone == DUBAI:
            hold(
                "insurance_travel",
                "Страхование путешественников, весь мир",
                Decimal("150000.00"),
                currency="EUR",
                expires_on=self.today + timedelta(days=rng.randint(60, 360)),
            )

    # transactions --------------------------------------------------------------------------

    def transactions(self, spec: ClientSpec, client_id: int) -> list[m.TransactionRow]:
        rng = seeded(self.seed, spec.external_id, "transactions")
        start = self.start(spec)
        declining = "at_risk" in spec.traits
        rules = self.words.transactions + self.words.segment_transactions[spec.financial_segment]
        rows: list[m.TransactionRow] = []
        for month in range(12):
            quiet = declining and month < 3
            for rule in rules:
                for _ in range(rule.per_month):
                    when = self.now - timedelta(days=30 * month + rng.uniform(0.5, 30))
                    # The at-risk clients nearly stop using their accounts in the last quarter.
                    if when.date() < start or (quiet and rng.random() > 0.25):
                        continue
                    amount = rub(rng, rule.low_rub, rule.high_rub)
                    rows.append(
                        m.TransactionRow(
                            client_id=client_id,
                            occurred_at=when,
                            amount_rub=(amount * Decimal("0.3")).quantize(Decimal("0.01"))
                            if quiet
                            else amount,
                            category=rule.category,
                            description=rng.choice(rule.descriptions),
                        )
                    )
        if spec.inflow:
            rows.append(
                m.TransactionRow(
                    client_id=client_id,
                    occurred_at=self.now - timedelta(hours=spec.inflow.hours_ago),
                    amount_rub=Decimal(spec.inflow.amount_rub),
                    category="income",
                    description=spec.inflow.description,
                )
            )
        return rows

    # contacts ------------------------------------------------------------------------------

    def interactions(self, spec: ClientSpec, client_id: int) -> list[m.Base]:
        """Twelve months of contacts in the client's favourite channels, plus held meetings."""
        rng = seeded(self.seed, spec.external_id, "interactions")
        start = self.start(spec)
        churn = "churn" in spec.traits
        change = spec.manager_change
        silent_since = self.today - timedelta(days=change.days_ago) if change else None
        rows: list[m.Base] = []
        for month in range(12):
            # The churn client simply goes silent; the other at-risk ones stop answering.
            at_risk_recent = "at_risk" in spec.traits and not churn and month < 3
            for _ in range(1 if at_risk_recent else rng.randint(1, 3)):
                day = self.today - timedelta(days=30 * month + rng.randint(1, 29))
                if day < start or (churn and silent_since is not None and day >= silent_since):
                    continue
                when = at_local(
                    day, rng.randint(9, 19), rng.choice((0, 15, 30, 45)), spec.timezone
                )
                if at_risk_recent:
                    missed = rng.choice(self.words.unanswered)
                    rows.append(
                        self.interaction(spec, client_id, when, missed.channel, "out", missed.text)
                    )
                    continue
                rows.extend(self.contact(spec, client_id, when, rng))
        if spec.inflow:
            when = self.now - timedelta(hours=spec.inflow.hours_ago) + timedelta(minutes=2)
            amount = f"{spec.inflow.amount_rub:,}".replace(",", " ")
            text = f"Уведомление: поступление {amount} ₽ на текущий счёт."
            rows.append(
                self.interaction(
                    spec, client_id, when, "messenger", "out", text, kind="notification"
                )
            )
        for message in spec.messages:
            when = self.now - timedelta(hours=message.hours_ago)
            rows.append(
                self.interaction(
                    spec, client_id, when, message.channel, message.direction, message.text
                )
            )
        return rows

    def contact(
        self, spec: ClientSpec, client_id: int, when: datetime, rng: random.Random
    ) -> list[m.Base]:
        weights = self.words.channel_weights[spec.values_segment]
        channel = rng.choices(tuple(weights), tuple(weights.values()))[0]
        direction: Direction = "out" if channel == "meeting" else rng.choice(DIRECTIONS)
        if channel == "messenger" and direction == "out" and rng.random() < 0.25:
            text = rng.choice(self.words.notifications)
            return [
                self.interaction(
                    spec, client_id, when, channel, direction, text, kind="notification"
                )
            ]
        text = rng.choice(self.words.texts[channel][direction])
        rows: list[m.Base] = [self.interaction(spec, client_id, when, channel, direction, text)]
        if channel == "meeting":
            rows.append(
                m.MeetingRow(
                    client_id=client_id,
                    manager_id=self.manager_on(spec, when.date()),
                    starts_at=when,
                    place=rng.choice(self.words.meeting_places),
                    topic=text.split(": ", 1)[-1].rstrip(".").capitalize(),
                    status="held",
                    created_at=when - timedelta(days=rng.randint(2, 10)),
                )
            )
        return rows

    def interaction(
        self,
        spec: ClientSpec,
        client_id: int,
        when: datetime,
        channel: Channel,
        direction: Direction,
        text: str,
        *,
        kind: str | None = None,
    ) -> m.InteractionRow:
        # Demo history has no update_id and no chat_id: it never came through a messenger.
        return m.InteractionRow(
            occurred_at=when,
            channel=channel,
            direction=direction,
            kind=kind or self.words.kind_by_channel[channel],
            actor="client" if direction == "in" else "staff",
            client_id=client_id,
            staff_id=self.manager_on(spec, when.date()),
            text=text,
        )
