"""The demo bank's data file (`bank.yaml`) read and checked: every field, every cross-reference.

Dates in the file are relative ("days ago", "days from today"), so the bank always looks
current whenever it is loaded; `crm_adapter.demo.loader` turns them into rows.
"""

from __future__ import annotations

from datetime import time
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

BANK_FILE = Path(__file__).with_name("bank.yaml")

FinancialSegment = Literal[
    "stable_keeper", "active_investor", "credit_dependent", "low_engagement"
]
ValuesSegment = Literal["technophile", "conservative", "socially_active", "family_oriented"]
Channel = Literal["messenger", "email", "phone", "meeting"]
Direction = Literal["in", "out"]
# What the history generator does with a client (crm_adapter.demo.history).
Trait = Literal[
    "churn",  # silent since the manager changed (needs `manager_change`)
    "at_risk",  # activity drops in the last quarter, the bank's contacts go unanswered
    "potential",  # a large deposit, no investments or insurance
    "birthday_0",
    "birthday_2",
    "birthday_5",  # birthday in 0, 2 or 5 days
    "deposit_3",
    "deposit_14",
    "deposit_30",  # a deposit maturing within 3, 14 or 30 days
    "card_expiring",  # the premium card expires within a month
]
AUDIENCE_KEYS = frozenset({"values_segments", "financial_segments", "cities"})


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Persona(Spec):
    """A well-described person of the demo bank, for the README and the console."""

    external_id: str
    kind: Literal["client", "staff"]
    title: str
    description: str


class StaffSpec(Spec):
    external_id: str
    full_name: str
    roles: str
    email: str
    phone: str
    backup: str | None = None
    timezone: str = "Europe/Moscow"
    work_start: time = time(9, 0)
    work_end: time = time(19, 0)


class MemberSpec(Spec):
    name: str
    kind: Literal["person", "company"]
    relation: str
    annual_profit_rub: int
    client: str | None = None


class GroupSpec(Spec):
    name: str
    description: str
    members: tuple[MemberSpec, ...]


class Tenure(Spec):
    years: int = 0
    days: int = 0

    @property
    def total_days(self) -> int:
        return self.years * 365 + self.days


class ManagerChange(Spec):
    previous: str
    days_ago: int


class Inflow(Spec):
    amount_rub: int
    hours_ago: int
    description: str


class Message(Spec):
    hours_ago: int
    channel: Channel
    direction: Direction
    text: str


class LifeEventSpec(Spec):
    kind: str
    happens_in_days: int  # negative: it happened that many days ago
    recorded_days_ago: int
    description: str


class NoteSpec(Spec):
    days_ago: int
    kind: Literal["note", "interest", "fact"]
    text: str


class NpsSpec(Spec):
    days_ago: int
    score: int = Field(ge=1, le=5)
    comment: str | None = None


class MeetingSpec(Spec):
    days_ahead: int  # 0: in about two hours from now (hour and minute are then not used)
    hour: int = 0
    minute: int = 0
    place: str
    topic: str


class CommentSpec(Spec):
    author: Literal["client", "staff"]
    minutes_after: int
    text: str


class RatingSpec(Spec):
    score: int = Field(ge=1, le=5)
    comment: str | None = None


class RequestSpec(Spec):
    service: str
    status: Literal["new", "accepted", "resolved"]
    urgent: bool
    summary: str
    created_minutes_ago: int
    resolve_hours: int
    comments: tuple[CommentSpec, ...] = ()
    details: dict[str, Any] | None = None
    assignee: str | None = None  # the client's manager unless given
    rating: RatingSpec | None = None


class ClientSpec(Spec):
    external_id: str
    first_name: str
    middle_name: str
    last_name: str
    gender: Literal["m", "f"]
    city: str
    financial_segment: FinancialSegment
    values_segment: ValuesSegment
    occupation: str
    manager: str
    client_for: Tenure
    timezone: str = "Europe/Moscow"
    language: Literal["ru", "en"] = "ru"
    preferred_channel: Channel = "messenger"
    decision_influencer: str | None = None
    what_matters: str | None = None
    public_person: bool = False
    opinion_leader: bool = False
    do_not_disturb: bool = False
    marketing_opt_out: bool = False
    quiet_hours: tuple[int, int] = (22, 9)
    holding_group: str | None = None
    manager_change: ManagerChange | None = None
    traits: frozenset[Trait] = frozenset()
    # Listed history, on top of what history.py computes.
    inflow: Inflow | None = None  # a large incoming transfer of the last days
    messages: tuple[Message, ...] = ()
    life_events: tuple[LifeEventSpec, ...] = ()
    notes: tuple[NoteSpec, ...] = ()
    nps: tuple[NpsSpec, ...] = ()
    upcoming_meeting: MeetingSpec | None = None
    requests: tuple[RequestSpec, ...] = ()

    @model_validator(mode="after")
    def _churn_has_a_manager_change(self) -> ClientSpec:
        if "churn" in self.traits and self.manager_change is None:
            raise ValueError(f"{self.external_id}: a churn client needs a manager_change")
        return self


class EventSpec(Spec):
    title: str
    description: str
    days_from_today: int  # negative for a past event
    hour: int
    venue: str
    city: str
    capacity: int = Field(gt=0)
    plus_ones: bool
    rsvp_days_before: int
    audience: dict[str, list[str]]
    status: Literal["draft", "open", "done"]
    coordinator: str
    timezone: str = "Europe/Moscow"
    invitations: dict[
        str, Literal["planned", "sent", "accepted", "declined", "maybe", "checked_in"]
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _audience_keys(self) -> EventSpec:
        if unknown := set(self.audience) - AUDIENCE_KEYS:
            raise ValueError(f"{self.title}: unknown audience keys {sorted(unknown)}")
        return self


class TransactionRule(Spec):
    category: str
    descriptions: tuple[str, ...]
    low_rub: int
    high_rub: int
    per_month: int


class MissedContact(Spec):
    """The bank tried, the at-risk client did not answer."""

    channel: Channel
    text: str


class HistoryVocabulary(Spec):
    """What the computed history is made of: channels, texts and monthly transactions."""

    channel_weights: dict[ValuesSegment, dict[Channel, int]]
    kind_by_channel: dict[Channel, str]
    texts: dict[Channel, dict[Direction, tuple[str, ...]]]
    notifications: tuple[str, ...]
    unanswered: tuple[MissedContact, ...]
    meeting_places: tuple[str, ...]
    transactions: tuple[TransactionRule, ...]  # every client
    segment_transactions: dict[FinancialSegment, tuple[TransactionRule, ...]]

    @model_validator(mode="after")
    def _every_segment_covered(self) -> HistoryVocabulary:
        if set(self.channel_weights) != set(get_args(ValuesSegment)):
            raise ValueError("channel_weights must name every values segment")
        if set(self.segment_transactions) != set(get_args(FinancialSegment)):
            raise ValueError("segment_transactions must name every financial segment")
        return self


class DemoBank(Spec):
    personas: tuple[Persona, ...]
    staff: tuple[StaffSpec, ...]
    holding_groups: tuple[GroupSpec, ...]
    clients: tuple[ClientSpec, ...]
    events: tuple[EventSpec, ...]
    history: HistoryVocabulary

    @model_validator(mode="after")
    def _references_resolve(self) -> DemoBank:
        staff = _unique("staff", [s.external_id for s in self.staff])
        clients = _unique("client", [c.external_id for c in self.clients])
        groups = _unique("holding group", [g.name for g in self.holding_groups])
        _unique("event", [e.title for e in self.events])
        refs: list[tuple[str, str | None, set[str]]] = [
            (f"persona {p.external_id}", p.external_id, staff | clients) for p in self.personas
        ]
        refs += [(f"backup of {s.external_id}", s.backup, staff) for s in self.staff]
        refs += [
            (f"member {m.name}", m.client, clients) for g in self.holding_groups for m in g.members
        ]
        for c in self.clients:
            previous = c.manager_change.previous if c.manager_change else None
            refs += [
                (f"manager of {c.external_id}", c.manager, staff),
                (f"group of {c.external_id}", c.holding_group, groups),
                (f"previous manager of {c.external_id}", previous, staff),
            ]
            refs += [(f"assignee of {c.external_id}", r.assignee, staff) for r in c.requests]
        for e in self.events:
            refs.append((f"coordinator of {e.title}", e.coordinator, staff))
            refs += [(f"guest of {e.title}", guest, clients) for guest in e.invitations]
        missing = [f"{what}: {ref}" for what, ref, known in refs if ref and ref not in known]
        if missing:
            raise ValueError("unknown references: " + "; ".join(missing))
        return self


def _unique(kind: str, keys: list[str]) -> set[str]:
    if len(set(keys)) != len(keys):
        raise ValueError(f"a {kind} is listed twice")
    return set(keys)


@cache
def demo_bank(path: Path = BANK_FILE) -> DemoBank:
    """The data file, parsed and checked (once per process)."""
    # libyaml's safe loader where PyYAML has it: the pure-Python one is several times slower.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as file:
        return DemoBank.model_validate(yaml.load(file, Loader=loader))
