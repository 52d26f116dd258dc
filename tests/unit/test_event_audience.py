"""The audience rules of closed events, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from concierge.events.audience import (
    AudienceCriteria,
    ClientFacts,
    CriteriaError,
    ExclusionReason,
    Source,
    exclusion_reason,
    matches,
    parse_criteria,
    select_audience,
)
from crm_adapter.dto import AudienceOverride, Client
from tests.unit.insight_fixtures import make_client

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def client(client_id: int = 1, **fields: Any) -> Client:
    values: dict[str, Any] = {
        "id": client_id,
        "external_id": f"C-{client_id}",
        "last_name": f"Клиент{client_id}",
        "birthday": None,
        "financial_segment": "stable_keeper",
        "values_segment": "socially_active",
        "client_since": None,
    }
    return make_client(**(values | fields))


def facts(
    c: Client, *, value: int = 0, interests: tuple[str, ...] = (), consent: bool = True
) -> ClientFacts:
    return ClientFacts(
        client=c, value_rub=Decimal(value), interest_texts=interests, consent=consent
    )


def test_empty_criteria_match_everyone() -> None:
    assert AudienceCriteria().is_everyone
    assert matches(AudienceCriteria(), facts(client()))


def test_every_criterion_narrows() -> None:
    item = facts(client(), value=30_000_000, interests=("Интересуется современным искусством",))
    assert matches(AudienceCriteria(financial_segments=frozenset({"stable_keeper"})), item)
    assert not matches(AudienceCriteria(financial_segments=frozenset({"active_investor"})), item)
    assert not matches(AudienceCriteria(values_segments=frozenset({"technophile"})), item)
    assert matches(AudienceCriteria(manager_ids=frozenset({10})), item)
    assert not matches(AudienceCriteria(manager_ids=frozenset({11})), item)
    assert matches(AudienceCriteria(min_value_rub=Decimal(25_000_000)), item)
    assert not matches(AudienceCriteria(min_value_rub=Decimal(50_000_000)), item)
    assert matches(AudienceCriteria(cities=frozenset({"москва"})), item)
    assert not matches(AudienceCriteria(cities=frozenset({"Казань"})), item)
    assert matches(AudienceCriteria(interests=("искусств",)), item)
    assert not matches(AudienceCriteria(interests=("гольф", "вино")), item)


def test_policy_exclusions_in_order_of_precedence() -> None:
    assert exclusion_reason(facts(client())) is None
    assert exclusion_reason(facts(client(), consent=False)) is ExclusionReason.NO_CONSENT
    assert (
        exclusion_reason(facts(client(marketing_opt_out=True, do_not_disturb=True)))
        is ExclusionReason.MARKETING_OPT_OUT
    )
    assert exclusion_reason(facts(client(do_not_disturb=True))) is ExclusionReason.DO_NOT_DISTURB
    assert exclusion_reason(facts(client(erased_at=NOW), consent=False)) is ExclusionReason.ERASED


def test_manager_overrides_apply_but_never_beat_the_policy() -> None:
    matching, other, opted_out = (
        client(1),
        client(2, city="Казань"),
        client(3, city="Казань", marketing_opt_out=True),
    )
    criteria = AudienceCriteria(cities=frozenset({"Москва"}))

    def override(client_id: int, include: bool) -> AudienceOverride:
        return AudienceOverride(
            id=client_id,
            event_id=1,
            client_id=client_id,
            include=include,
            staff_id=10,
            decided_at=NOW,
        )

    audience = select_audience(
        criteria,
        [facts(matching), facts(other), facts(opted_out)],
        [override(1, False), override(2, True), override(3, True)],
    )
    assert [(m.client.id, m.source) for m in audience.included] == [(2, Source.MANAGER)]
    assert [c.id for c in audience.removed] == [1]
    assert [(c.id, r) for c, r in audience.excluded] == [(3, ExclusionReason.MARKETING_OPT_OUT)]


def test_parse_criteria_line() -> None:
    criteria = parse_criteria(
        "segments=stable_keeper, active_investor; values=socially_active; managers=s-0001;"
        " min=10 000 000; интересы=Искусство,вино; город=Москва",
        manager_ids_by_code={"S-0001": 10},
    )
    assert criteria.financial_segments == {"stable_keeper", "active_investor"}
    assert criteria.values_segments == {"socially_active"}
    assert criteria.manager_ids == {10}
    assert criteria.min_value_rub == Decimal(10_000_000)
    assert criteria.interests == ("искусство", "вино")
    assert criteria.cities == {"Москва"}
    assert AudienceCriteria.from_json(criteria.to_json()) == criteria
    assert parse_criteria("-", manager_ids_by_code={}).is_everyone


@pytest.mark.parametrize("line", ["colour=red", "segments", "min=lots", "managers=S-9999"])
def test_parse_criteria_refuses_what_it_does_not_understand(line: str) -> None:
    with pytest.raises(CriteriaError):
        parse_criteria(line, manager_ids_by_code={"S-0001": 10})
