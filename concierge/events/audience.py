"""Who is invited to a closed event: the coordinator's criteria, managers' choices, the policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from crm_adapter.dto import AudienceOverride, Client


class ExclusionReason(StrEnum):
    # Order matters: the first reason that applies is the one shown to the coordinator.
    ERASED = "erased"
    NO_CONSENT = "no_consent"
    MARKETING_OPT_OUT = "marketing_opt_out"
    DO_NOT_DISTURB = "do_not_disturb"


class Source(StrEnum):
    CRITERIA = "criteria"
    MANAGER = "manager"


@dataclass(frozen=True)
class AudienceCriteria:
    """Target audience of an event; an empty criterion does not narrow the audience."""

    financial_segments: frozenset[str] = frozenset()
    values_segments: frozenset[str] = frozenset()
    manager_ids: frozenset[int] = frozenset()
    min_value_rub: Decimal | None = None
    interests: tuple[str, ...] = ()
    cities: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "financial_segments": sorted(self.financial_segments),
            "values_segments": sorted(self.values_segments),
            "manager_ids": sorted(self.manager_ids),
            "min_value_rub": str(self.min_value_rub) if self.min_value_rub is not None else None,
            "interests": list(self.interests),
            "cities": sorted(self.cities),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AudienceCriteria:
        data = data or {}
        minimum = data.get("min_value_rub")
        return cls(
            financial_segments=frozenset(data.get("financial_segments") or ()),
            values_segments=frozenset(data.get("values_segments") or ()),
            manager_ids=frozenset(int(i) for i in data.get("manager_ids") or ()),
            min_value_rub=Decimal(minimum) if minimum is not None else None,
            interests=tuple(data.get("interests") or ()),
            cities=frozenset(data.get("cities") or ()),
        )

    @property
    def is_everyone(self) -> bool:
        return self == AudienceCriteria()


class CriteriaError(ValueError):
    """The audience line could not be understood; the message names the bad part."""


# Keys a coordinator may type, in Russian or English, mapped to the criterion they set.
_KEYS = {
    "segments": "financial_segments",
    "segment": "financial_segments",
    "сегменты": "financial_segments",
    "values": "values_segments",
    "ценности": "values_segments",
    "managers": "managers",
    "менеджеры": "managers",
    "min": "min_value_rub",
    "минимум": "min_value_rub",
    "interests": "interests",
    "интересы": "interests",
    "city": "cities",
    "cities": "cities",
    "город": "cities",
}


def parse_criteria(line: str, *, manager_ids_by_code: dict[str, int]) -> AudienceCriteria:
    """Parses `segments=a,b; values=c; managers=S-0001; min=10000000; interests=x; city=Y`.

    A single dash or an empty line means every client. Managers are given by their CRM
    code (external id) because staff know each other by it, not by database ids.
    """
    line = line.strip()
    if line in {"", "-", "—"}:
        return AudienceCriteria()
    found: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in line.split(";"))):
        key, sep, raw = part.partition("=")
        target = _KEYS.get(key.strip().lower())
        if not sep or target is None:
            raise CriteriaError(part)
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if target == "min_value_rub":
            try:
                found[target] = Decimal(raw.strip().replace(" ", "").replace("_", ""))
            except InvalidOperation as exc:
                raise CriteriaError(part) from exc
        elif target == "managers":
            unknown = [v for v in values if v.upper() not in manager_ids_by_code]
            if unknown:
                raise CriteriaError(", ".join(unknown))
            found["manager_ids"] = frozenset(manager_ids_by_code[v.upper()] for v in values)
        elif target == "interests":
            found[target] = tuple(v.lower() for v in values)
        else:
            found[target] = frozenset(values)
    return AudienceCriteria(**found)


@dataclass(frozen=True)
class ClientFacts:
    """What the audience rules need to know about one client."""

    client: Client
    value_rub: Decimal = Decimal(0)
    interest_texts: tuple[str, ...] = ()
    consent: bool = False


def matches(criteria: AudienceCriteria, facts: ClientFacts) -> bool:
    """True when the client meets every criterion the coordinator set."""
    client = facts.client
    if criteria.financial_segments and client.financial_segment not in criteria.financial_segments:
        return False
    if criteria.values_segments and client.values_segment not in criteria.values_segments:
        return False
    if criteria.manager_ids and client.manager_id not in criteria.manager_ids:
        return False
    if criteria.min_value_rub is not None and facts.value_rub < criteria.min_value_rub:
        return False
    if criteria.cities and (client.city or "").casefold() not in {
        c.casefold() for c in criteria.cities
    }:
        return False
    if criteria.interests:
        haystack = " ".join(facts.interest_texts).casefold()
        if not any(keyword.casefold() in haystack for keyword in criteria.interests):
            return False
    return True


def exclusion_reason(facts: ClientFacts) -> ExclusionReason | None:
    """Why the contact policy forbids inviting this client, or None when it allows it.

    These apply even to clients a manager added by hand: an invitation is marketing, and
    neither a manager nor a coordinator may override consent or a refusal of marketing.
    """
    client = facts.client
    if client.out_of_service:
        return ExclusionReason.ERASED
    if not facts.consent:
        return ExclusionReason.NO_CONSENT
    if client.marketing_opt_out:
        return ExclusionReason.MARKETING_OPT_OUT
    if client.do_not_disturb:
        return ExclusionReason.DO_NOT_DISTURB
    return None


@dataclass(frozen=True)
class AudienceMember:
    client: Client
    source: Source


@dataclass(frozen=True)
class Audience:
    """Who would be invited, and who matched but must not be, with the reason."""

    included: list[AudienceMember] = field(default_factory=list)
    excluded: list[tuple[Client, ExclusionReason]] = field(default_factory=list)
    # Clients their manager removed: shown to the manager so the removal can be undone.
    removed: list[Client] = field(default_factory=list)


def select_audience(
    criteria: AudienceCriteria,
    facts: Iterable[ClientFacts],
    overrides: Iterable[AudienceOverride] = (),
) -> Audience:
    """Applies the criteria, then managers' additions and removals, then the contact policy."""
    decided = {o.client_id: o.include for o in overrides}
    audience = Audience()
    for item in facts:
        client_id = item.client.id
        wanted = decided.get(client_id, matches(criteria, item))
        if not wanted:
            if decided.get(client_id) is False:
                audience.removed.append(item.client)
            continue
        reason = exclusion_reason(item)
        if reason is not None:
            audience.excluded.append((item.client, reason))
            continue
        source = Source.MANAGER if decided.get(client_id) else Source.CRITERIA
        audience.included.append(AudienceMember(item.client, source))
    return audience
