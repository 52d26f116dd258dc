"""Holding groups: the profitability of a group of related clients taken as a whole."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from concierge.insights.reasons import Reason, money
from concierge.profile import ClientProfile


@dataclass(frozen=True)
class GroupAggregate:
    name: str
    member_count: int
    total_profit_rub: Decimal
    own_profit_rub: Decimal
    loss_members: tuple[str, ...]
    reasons: tuple[Reason, ...]


def group_aggregate(profile: ClientProfile) -> GroupAggregate | None:
    """Profitability of the holding group as a whole: one member's loss offsets another's gain."""
    group = profile.group
    if group is None:
        return None
    total = sum((m.annual_profit_rub for m in group.members), Decimal(0))
    own = sum(
        (m.annual_profit_rub for m in group.members if m.client_id == profile.client_id),
        Decimal(0),
    )
    losses = tuple(m.name for m in group.members if m.annual_profit_rub < 0)
    reasons = [Reason("group_total", {"name": group.name, "total": money(total)})]
    if losses and total > 0:
        reasons.append(Reason("group_offsets_losses", {"members": ", ".join(losses)}))
    return GroupAggregate(group.name, len(group.members), total, own, losses, tuple(reasons))
