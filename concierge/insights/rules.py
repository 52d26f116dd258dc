"""The thresholds behind every insight, loaded from `insight_rules.yaml` next to this module.

Each section is a frozen pydantic model whose defaults mirror the shipped YAML, so a file that
sets only some thresholds still loads.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

RULES_FILE = Path(__file__).resolve().parent / "insight_rules.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FinancialRules(_Section):
    credit_dependent_debt_share: float = 0.3
    active_investor_share: float = 0.3
    active_investor_trades_90d: int = 6
    stable_keeper_deposit_share: float = 0.5
    stable_keeper_min_assets_rub: float = 5_000_000
    low_engagement_max_products: int = 1
    low_engagement_max_transactions_90d: int = 3


class ValuesRules(_Section):
    digital_channels: frozenset[str] = frozenset({"messenger", "app", "email", "web"})
    personal_channels: frozenset[str] = frozenset({"meeting", "phone", "branch"})
    min_contacts: int = 5
    technophile_digital_share: float = 0.7
    conservative_personal_share: float = 0.5
    socially_active_min_attended: int = 2
    family_life_events: frozenset[str] = frozenset(
        {"business_handover", "child_abroad", "child_education", "inheritance"}
    )


class ChurnWeights(_Section):
    transaction_drop: float = 0.4
    conversation_drop: float = 0.3
    ignored_invitations: float = 0.25
    falling_ratings: float = 0.25
    falling_nps: float = 0.3


class ChurnRules(_Section):
    recent_days: int = 90
    previous_days: int = 270
    activity_drop_ratio: float = 0.5
    min_previous_transactions: int = 6
    min_previous_contacts: int = 4
    ignored_invitation_days: int = 7
    min_ignored_invitations: int = 2
    rating_window: int = 3
    rating_drop: float = 1.0
    detractor_nps_max: int = 6
    nps_drop: int = 2
    manager_change_window_days: int = 365
    silence_after_change_days: int = 30
    manager_change_silent_score: float = 0.9
    weights: ChurnWeights = ChurnWeights()
    medium_from: float = 0.35
    high_from: float = 0.6


class PotentialRules(_Section):
    large_deposit_rub: float = 10_000_000
    investment_share_of_deposits: float = 0.3
    insurance_share_of_deposits: float = 0.05
    large_incoming_rub: float = 5_000_000
    incoming_lookback_days: int = 60
    idle_days: int = 7
    maturing_days: int = 30


class PopularityRules(_Section):
    media_weight: float = 0.75
    search_weight: float = 0.25


class InsightRules(_Section):
    """All thresholds; defaults mirror the shipped YAML so a partial file still works."""

    fx_to_rub: dict[str, float] = {"RUB": 1.0}  # noqa: RUF012 - pydantic copies defaults
    financial: FinancialRules = FinancialRules()
    values: ValuesRules = ValuesRules()
    churn: ChurnRules = ChurnRules()
    potential: PotentialRules = PotentialRules()
    popularity: PopularityRules = PopularityRules()

    @classmethod
    def from_yaml(cls, path: Path) -> InsightRules:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


@lru_cache(maxsize=1)
def default_rules() -> InsightRules:
    return InsightRules.from_yaml(RULES_FILE)
