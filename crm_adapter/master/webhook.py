"""The generic webhook behind the master-CRM port, for banks with an in-house CRM.

Each event is one JSON POST (docs/crm-webhook.schema.json) signed with HMAC-SHA256 over
`<timestamp>.<body>` under the shared secret:

    X-Concierge-Timestamp: 1764345600
    X-Concierge-Signature: v1=<hex digest>
    Idempotency-Key: interaction:4711

The receiver answers 2xx when it has the event and 409 when it already had it (both count as
delivered), 408/425/429/5xx to be asked again later, any other 4xx to refuse it for good (a
dead letter). Receivers must deduplicate on `event_id`: after a lost answer the same event,
same key, is sent again. Nothing is read: the bank keeps its master data in the store by its
own means.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

import aiohttp

from crm_adapter.master.http import HttpClient
from crm_adapter.master.records import (
    Chunk,
    CrmEvent,
    CrmUnavailable,
    Deferred,
    Delivered,
    MasterClient,
    MasterHolding,
    MasterLifeEvent,
    MasterStaff,
    Outcome,
    Rejected,
    WriteKind,
)

SCHEMA = "vip-concierge.crm-event/1"
EVENT_TYPES = {
    WriteKind.INTERACTION: "interaction.logged",
    WriteKind.NOTE: "note.added",
    WriteKind.REQUEST: "request.opened",
    WriteKind.REQUEST_CHANGE: "request.changed",
    WriteKind.REQUEST_COMMENT: "request.commented",
    WriteKind.CONSENT: "consent.changed",
}
_AGAIN = frozenset({408, 425, 429})


def envelope(event: CrmEvent) -> dict[str, Any]:
    """The JSON body of one event."""
    return {
        "schema": SCHEMA,
        "event_id": event.key,
        "event_type": EVENT_TYPES[event.kind],
        "occurred_at": event.occurred_at.isoformat(),
        "client": event.client.to_json(),
        "data": event.data,
    }


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver checks (used by the tests' receiver): the signature, in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


async def _nothing() -> AsyncIterator[Any]:
    return
    yield  # an async generator that yields nothing


class WebhookCrm(HttpClient):
    name = "webhook"
    reads_master_data = False
    max_batch = 50

    def __init__(
        self, url: str, secret: str, *, timeout_seconds: float = 15.0, concurrency: int = 8
    ) -> None:
        super().__init__(timeout_seconds=timeout_seconds)
        self._url = url
        self._secret = secret.encode()
        self._slots = asyncio.Semaphore(concurrency)

    def staff(self) -> AsyncIterator[Chunk[MasterStaff]]:
        return _nothing()

    def clients(self, *, since: Any) -> AsyncIterator[Chunk[MasterClient]]:
        return _nothing()

    def holdings(self, *, since: Any) -> AsyncIterator[Chunk[MasterHolding]]:
        return _nothing()

    def life_events(self, *, since: Any) -> AsyncIterator[Chunk[MasterLifeEvent]]:
        return _nothing()

    async def client_ids(self) -> set[str]:
        return set()

    async def clients_absent(self, remote_ids: Collection[str]) -> set[str]:
        return set()

    async def find_delivered(self, events: Sequence[CrmEvent]) -> dict[str, str | None]:
        # Receivers deduplicate on event_id, so sending again is the safe answer.
        return {}

    async def write(self, events: Sequence[CrmEvent]) -> list[Outcome]:
        """Clients in parallel; each client's events one after another, in order, stopping
        at the first that is not delivered (the rest wait for the next round)."""
        by_client: dict[str, list[CrmEvent]] = {}
        for event in events:
            by_client.setdefault(event.client.external_id, []).append(event)
        answers: dict[int, Outcome | CrmUnavailable] = {}

        async def one_client(queue: list[CrmEvent]) -> None:
            for index, event in enumerate(queue):
                answer = await self._post(event)
                answers[event.write_id] = answer
                if not isinstance(answer, Delivered):
                    for later in queue[index + 1 :]:
                        answers[later.write_id] = Deferred("held_back", not_tried=True)
                    return

        await asyncio.gather(*(one_client(queue) for queue in by_client.values()))
        failures = [a for a in answers.values() if isinstance(a, CrmUnavailable)]
        if failures and not any(isinstance(a, Delivered | Rejected) for a in answers.values()):
            raise CrmUnavailable(failures[0].code, uncertain=any(f.uncertain for f in failures))
        return [
            Deferred(a.code, uncertain=a.uncertain) if isinstance(a, CrmUnavailable) else a
            for a in (answers[e.write_id] for e in events)
        ]

    async def _post(self, event: CrmEvent) -> Outcome | CrmUnavailable:
        body = json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": event.key,
            "X-Concierge-Timestamp": timestamp,
            "X-Concierge-Signature": signature(self._secret, timestamp, body),
        }
        async with self._slots:
            try:
                async with self.session.post(self._url, data=body, headers=headers) as response:
                    status = response.status
                    answer = await response.read()
            except aiohttp.ClientConnectorError:
                return CrmUnavailable("unreachable")
            except (TimeoutError, aiohttp.ClientError) as error:
                return CrmUnavailable(f"transport:{type(error).__name__}", uncertain=True)
        if status == 409 or 200 <= status < 300:
            return Delivered(_remote_id(answer))
        if status in _AGAIN:
            return Deferred(f"http_{status}")
        if status >= 500:
            return Deferred(f"http_{status}", uncertain=True)
        return Rejected(f"http_{status}")


def _remote_id(answer: bytes) -> str | None:
    """The receiver may answer `{"id": …}` with what it made of the event."""
    try:
        parsed = json.loads(answer) if answer else None
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("id") is not None:
        return str(parsed["id"])[:64]
    return None
