"""A holding group's profitability taken as a whole."""

from __future__ import annotations

from decimal import Decimal

from concierge.insights.holding_groups import group_aggregate
from concierge.insights.rules import default_rules
from crm_adapter.workspace import HoldingGroupView, HoldingMemberView
from tests.unit.insight_fixtures import codes, profile

RULES = default_rules()


def test_holding_group_profit_assessed_as_a_whole() -> None:
    def member(
        name: str, kind: str, profit: int, client_id: int | None = None
    ) -> HoldingMemberView:
        return HoldingMemberView(
            name=name,
            member_kind=kind,
            relation=None,
            client_id=client_id,
            annual_profit_rub=Decimal(profit),
        )

    group = HoldingGroupView(
        id=1,
        name="Волков Групп",
        members=(
            member("ООО Волков Логистик", "company", -2_000_000),
            member("АО Волков Строй", "company", 9_000_000),
            member("Волков И. П.", "person", 1_500_000, client_id=1),
        ),
    )
    agg = group_aggregate(profile(group=group))
    assert agg is not None
    assert agg.total_profit_rub == Decimal(8_500_000)
    assert agg.own_profit_rub == Decimal(1_500_000)
    assert agg.loss_members == ("ООО Волков Логистик",)
    assert codes(agg.reasons) == {"group_total", "group_offsets_losses"}
    assert group_aggregate(profile()) is None
