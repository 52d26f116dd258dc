"""What crosses the master-CRM port: master records read in, events written out, outcomes.

Plain frozen dataclasses, whatever CRM sits behind the port; adapters translate their wire
format into these (reading) and out of them (writing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

log = logging.getLogger("crm_adapter.master")


class Stream(StrEnum):
    """What a sync reads, each with its own change cursor."""

    STAFF = "staff"
    CLIENTS = "clients"
    HOLDINGS = "holdings"
    LIFE_EVENTS = "life_events"


@dataclass(frozen=True)
class MasterStaff:
    remote_id: str
    external_id: str
    full_name: str
    roles: frozenset[str]
    active: bool
    backup_remote_id: str | None = None
    timezone: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class MasterClient:
    remote_id: str
    external_id: str
    first_name: str
    last_name: str
    manager_remote_id: str | None
    modified_at: datetime | None = None
    middle_name: str | None = None
    birthday: date | None = None
    gender: str | None = None
    city: str | None = None
    language: str | None = None
    timezone: str | None = None
    financial_segment: str | None = None
    values_segment: str | None = None
    occupation: str | None = None
    client_since: date | None = None


@dataclass(frozen=True)
class MasterHolding:
    remote_id: str
    client_remote_id: str
    product_type: str
    name: str
    balance: Decimal
    currency: str
    modified_at: datetime | None = None
    rate_percent: Decimal | None = None
    opened_on: date | None = None
    matures_on: date | None = None
    expires_on: date | None = None
    status: str = "active"


@dataclass(frozen=True)
class MasterLifeEvent:
    remote_id: str
    client_remote_id: str
    kind: str
    description: str
    happened_on: date | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class Skipped:
    """A master record the sync left out, and why: a code and a field name, never a value."""

    stream: Stream
    remote_id: str
    reason: str
    field: str | None = None

    def log(self) -> None:
        # Ids and codes only: the record's values are personal data.
        log.warning(
            "crm record skipped: %s %s (%s%s)",
            self.stream.value,
            self.remote_id,
            self.reason,
            f": {self.field}" if self.field else "",
            extra={
                "crm_stream": self.stream.value,
                "crm_id": self.remote_id,
                "reason": self.reason,
                "field": self.field,
            },
        )


T = TypeVar("T")


@dataclass(frozen=True)
class Chunk(Generic[T]):
    """A slice of a stream as the CRM hands it over; `total` is known once the first page is."""

    items: Sequence[T]
    skipped: Sequence[Skipped] = ()
    total: int | None = None


# -- writing ---------------------------------------------------------------------------------


class WriteKind(StrEnum):
    INTERACTION = "interaction"
    NOTE = "note"
    REQUEST = "request"
    REQUEST_CHANGE = "request_change"
    REQUEST_COMMENT = "request_comment"
    CONSENT = "consent"


@dataclass(frozen=True)
class PersonRef:
    """A client or staff member as both sides know them: our external id, the CRM's id."""

    external_id: str
    remote_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "crm_id": self.remote_id}


@dataclass(frozen=True)
class CrmEvent:
    """One queued write, read back from the local record it names.

    `data` is JSON-ready and kind-specific; docs/crm-webhook.schema.json documents each kind.
    """

    write_id: int
    key: str
    kind: WriteKind
    client: PersonRef
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered:
    """The CRM has the write; `remote_id` is what it made of it (a comment, a deal), if any."""

    remote_id: str | None = None


@dataclass(frozen=True)
class Rejected:
    """The CRM refused this write for good (bad data, a record it does not have)."""

    code: str
    reason: str = ""


@dataclass(frozen=True)
class Deferred:
    """Not written this time; try again later (`uncertain`: it may have arrived after all).

    `not_tried`: the CRM never got to it (an earlier write of the request failed first): it
    goes again in the next round, and the attempt does not count.
    """

    code: str
    uncertain: bool = False
    not_tried: bool = False


Outcome = Delivered | Rejected | Deferred


class CrmUnavailable(Exception):
    """The whole request failed: the CRM is down, overloaded or refused our credentials.

    `uncertain`: the request may have reached the CRM (a timeout, a dropped connection, a
    server error after it was sent). `retry_after`: the CRM asked for a pause. `counts`:
    whether the attempt counts toward giving up (a rate-limit answer does not).
    """

    def __init__(
        self,
        code: str,
        *,
        uncertain: bool = False,
        retry_after: float | None = None,
        counts: bool = True,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.uncertain = uncertain
        self.retry_after = retry_after
        self.counts = counts


# -- the queue, as admins see it ---------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    id: int
    kind: str
    client_external_id: str
    attempts: int
    created_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class QueueStatus:
    """The queue at a glance, for admins (bot command, web desk, CLI)."""

    pending: int
    sending: int
    done: int
    dead: int
    oldest_owed_at: datetime | None
    last_delivered_at: datetime | None
    dead_letters: tuple[DeadLetter, ...]
