"""A client's value and potential: balances by product family and the next best offers.

Balances are counted in roubles at the rules' exchange rates; each offer (`Opportunity`)
names the product family whose knowledge-base facts the brief quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from concierge.insights.reasons import Reason, money
from concierge.insights.rules import InsightRules
from concierge.profile import ClientProfile
from crm_adapter.dto import ProductHolding

DEPOSIT_TYPES = frozenset({"deposit", "savings"})
INVESTMENT_TYPES = frozenset({"brokerage", "trust", "mutual_fund", "structured", "alternative"})
INSURANCE_TYPES = frozenset({"insurance_life", "insurance_property", "insurance_travel"})
CREDIT_TYPES = frozenset({"credit_line"})


@dataclass(frozen=True)
class Opportunity:
    code: str  # invest_deposits | insure_family | place_idle_funds | deposit_maturing
    family: (
        str  # product family, the key of knowledge-base facts: investments | insurance | deposits
    )
    amount_rub: Decimal
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ValueSummary:
    assets_rub: Decimal
    deposits_rub: Decimal
    investments_rub: Decimal
    insurance_rub: Decimal
    credit_rub: Decimal
    product_count: int
    opportunities: tuple[Opportunity, ...]

    @property
    def potential_rub(self) -> Decimal:
        return sum((o.amount_rub for o in self.opportunities), Decimal(0))


def _rub(amount: Decimal, currency: str, rules: InsightRules) -> Decimal:
    rate = rules.fx_to_rub.get(currency.upper())
    # An unknown currency is counted at par rather than dropped: understating is worse here.
    return amount * Decimal(str(rate if rate is not None else 1.0))


def value_summary(profile: ClientProfile, rules: InsightRules) -> ValueSummary:
    active = [h for h in profile.holdings if h.status == "active"]

    def total(types: frozenset[str]) -> Decimal:
        return sum(
            (_rub(h.balance, h.currency, rules) for h in active if h.product_type in types),
            Decimal(0),
        )

    deposits, investments = total(DEPOSIT_TYPES), total(INVESTMENT_TYPES)
    insurance, credit = total(INSURANCE_TYPES), total(CREDIT_TYPES)
    assets = sum(
        (_rub(h.balance, h.currency, rules) for h in active if h.product_type not in CREDIT_TYPES),
        Decimal(0),
    )
    summary = ValueSummary(
        assets_rub=assets,
        deposits_rub=deposits,
        investments_rub=investments,
        insurance_rub=insurance,
        credit_rub=credit,
        product_count=len(active),
        opportunities=(),
    )
    return ValueSummary(
        **{**summary.__dict__, "opportunities": tuple(_opportunities(profile, summary, rules))}
    )


def _opportunities(
    profile: ClientProfile, v: ValueSummary, rules: InsightRules
) -> list[Opportunity]:
    r = rules.potential
    found: list[Opportunity] = []
    large = v.deposits_rub >= Decimal(str(r.large_deposit_rub))
    if large and not v.investments_rub:
        found.append(
            _cross_sell(
                "invest_deposits",
                "investments",
                "deposits_no_investments",
                v.deposits_rub,
                r.investment_share_of_deposits,
            )
        )
    if large and not v.insurance_rub:
        found.append(
            _cross_sell(
                "insure_family",
                "insurance",
                "deposits_no_insurance",
                v.deposits_rub,
                r.insurance_share_of_deposits,
            )
        )
    idle = _idle_funds(profile, rules)
    if idle is not None:
        found.append(idle)
    today = profile.as_of.date()
    horizon = today + timedelta(days=r.maturing_days)
    found.extend(
        _maturing(h, today, rules)
        for h in profile.holdings
        if h.status == "active"
        and h.product_type in DEPOSIT_TYPES
        and h.matures_on is not None
        and today <= h.matures_on <= horizon
    )
    return found


def _cross_sell(
    code: str, family: str, reason: str, deposits: Decimal, share: float
) -> Opportunity:
    """A share of large deposits offered in a product family the client does not hold yet."""
    return Opportunity(
        code,
        family,
        (deposits * Decimal(str(share))).quantize(Decimal(1)),
        (Reason(reason, {"deposits": money(deposits)}),),
    )


def _maturing(h: ProductHolding, today: date, rules: InsightRules) -> Opportunity:
    assert h.matures_on is not None
    amount = _rub(h.balance, h.currency, rules)
    return Opportunity(
        "deposit_maturing",
        "deposits",
        amount.quantize(Decimal(1)),
        (
            Reason(
                "deposit_maturing",
                {
                    "name": h.name,
                    "date": h.matures_on.isoformat(),
                    "amount": money(amount),
                    "days": (h.matures_on - today).days,
                },
            ),
        ),
    )


def _idle_funds(profile: ClientProfile, rules: InsightRules) -> Opportunity | None:
    """A large incoming transfer that has sat untouched: money to place before it leaves."""
    r = rules.potential
    now = profile.as_of
    threshold = Decimal(str(r.large_incoming_rub))
    window_start = now - timedelta(days=r.incoming_lookback_days)
    settled_before = now - timedelta(days=r.idle_days)
    incoming = [
        t
        for t in profile.transactions
        if t.amount_rub >= threshold and window_start <= t.occurred_at <= settled_before
    ]
    if not incoming:
        return None
    biggest = max(incoming, key=lambda t: t.amount_rub)
    arrived = biggest.occurred_at
    placed = any(
        h.opened_on is not None and h.opened_on >= arrived.date() for h in profile.holdings
    )
    spent = -sum(
        (
            t.amount_rub
            for t in profile.transactions
            if t.occurred_at > arrived and t.amount_rub < 0
        ),
        Decimal(0),
    )
    # Funds count as idle unless a product was opened since or at least half was spent.
    if placed or spent * 2 >= biggest.amount_rub:
        return None
    return Opportunity(
        "place_idle_funds",
        "investments",
        biggest.amount_rub.quantize(Decimal(1)),
        (
            Reason(
                "idle_funds",
                {
                    "amount": money(biggest.amount_rub),
                    "date": arrived.date().isoformat(),
                    "days": (now - arrived).days,
                },
            ),
        ),
    )
