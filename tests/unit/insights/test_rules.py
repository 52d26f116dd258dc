"""Insight thresholds load from YAML; untouched sections keep their defaults."""

from __future__ import annotations

from pathlib import Path

from concierge.insights.potential import value_summary
from concierge.insights.rules import InsightRules, default_rules
from tests.unit.insight_fixtures import holding, profile

RULES = default_rules()


def test_thresholds_are_configurable_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("potential:\n  large_deposit_rub: 50000000\n", encoding="utf-8")
    rules = InsightRules.from_yaml(path)
    assert (
        value_summary(profile(holdings=[holding("deposit", 30_000_000)]), rules).opportunities
        == ()
    )
    assert rules.churn.high_from == 0.6  # untouched sections keep their defaults
