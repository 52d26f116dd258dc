"""The generic webhook: every kind of write as a signed JSON POST that follows the documented
schema, in each client's order; retried while the receiver fails, refused for good on a 4xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from common.clock import ManualClock
from crm_adapter.master.records import QueueStatus
from crm_adapter.master.webhook import WebhookCrm, verify
from crm_adapter.sql import SqlCrm
from scheduler.crm_writer import CrmWriter
from tests.factories import log_message, make_bank

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "crm-webhook.schema.json").read_text("utf-8")
)
SECRET = "webhook-test-secret"  # noqa: S105 - the test's own receiver


@dataclass
class Receiver:
    """A bank's in-house CRM: checks the signature, keeps each event once."""

    secret: bytes
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    posts: int = 0
    fail_next: int = 0
    refuse: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        body = await request.read()
        timestamp = request.headers["X-Concierge-Timestamp"]
        if not verify(self.secret, timestamp, body, request.headers["X-Concierge-Signature"]):
            return web.Response(status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        event = json.loads(body)
        assert request.headers["Idempotency-Key"] == event["event_id"]
        if event["event_type"] in self.refuse:
            return web.Response(status=422)
        if event["event_id"] in self.events:
            return web.Response(status=409)
        self.events[event["event_id"]] = event
        self.order.append(event["event_id"])
        return web.json_response({"id": f"ext-{len(self.events)}"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    found = Receiver(SECRET.encode())
    app = web.Application()
    app.router.add_post("/crm/events", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield found, f"http://127.0.0.1:{port}/crm/events"
    await runner.cleanup()


async def _every_kind(store: SqlCrm, clock: ManualClock) -> int:
    """Writes of every kind for one client, and messages of another; how many were queued."""
    bank = await make_bank(store)
    now = clock.now()
    async with store.unit_of_work() as uow:
        for n in range(3):
            for client_id in (bank.client_id, bank.other_client_id):
                await log_message(uow, at=now, client_id=client_id, text=f"сообщение {n}")
        # A press, then what the bot answered: a toast is sent, the empty answer and the
        # keyboard taken away are not (the local log keeps them).
        await uow.interactions.record(
            occurred_at=now,
            channel="messenger",
            direction="in",
            kind="callback",
            actor="client",
            client_id=bank.client_id,
            text="menu:manager",
            payload={"callback_id": "1", "button": "Мой менеджер"},
        )
        for method, toast in (
            ("answerCallbackQuery", "Готово"),
            ("answerCallbackQuery", None),
            ("editMessageReplyMarkup", None),
        ):
            await log_message(
                uow,
                at=now,
                actor="bot",
                direction="out",
                client_id=bank.client_id,
                text=toast,
                payload={"method": method},
            )
        await uow.profiles.add_note(
            client_id=bank.client_id,
            author_id=bank.manager_id,
            text="Заметка",
            kind="note",
            now=now,
        )
        request = await uow.requests.add(
            client_id=bank.client_id,
            service_code="cash_delivery",
            status="new",
            urgent=False,
            summary="Доставка наличных",
            details={},
            assignee_id=bank.manager_id,
            created_at=now,
            ack_due_at=now + timedelta(hours=1),
            resolve_due_at=now + timedelta(days=1),
        )
        await uow.requests.update(request.id, status="resolved", resolved_at=now, closed_at=now)
        await uow.requests.add_comment(
            request_id=request.id,
            author_kind="client",
            author_staff_id=None,
            text="Спасибо",
            file_id="file-1",
            now=now,
        )
        await uow.consents.record(
            client_id=bank.client_id,
            granted=True,
            document_version="2025-09-01",
            channel="messenger",
            now=now,
        )
        await uow.consents.withdraw(bank.client_id, now=now)
        await uow.commit()
    return 6 + 2 + 6


async def _drain_and_close(store: SqlCrm, master: WebhookCrm, clock: ManualClock) -> None:
    """One pass of the writer to the receiver; the webhook client is closed after."""
    try:
        await CrmWriter(store, master, clock).drain()
    finally:
        await master.close()


async def _queue_status(store: SqlCrm) -> QueueStatus:
    async with store.unit_of_work() as uow:
        return await uow.crm_writes.status()


async def test_every_write_is_a_signed_post_following_the_schema_once_and_in_order(
    store: SqlCrm, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    found, url = receiver
    queued = await _every_kind(store, clock)
    master = WebhookCrm(url, SECRET)
    found.fail_next = 3  # the receiver is briefly unwell
    writer = CrmWriter(store, master, clock, retry_base=1.0)
    try:
        await writer.drain()
        for _ in range(5):
            clock.advance(timedelta(minutes=1))
            await writer.drain()
    finally:
        await master.close()

    assert len(found.events) == queued
    for event in found.events.values():
        jsonschema.validate(event, SCHEMA)
    types = [found.events[k]["event_type"] for k in found.order]
    assert set(types) == {
        "interaction.logged",
        "note.added",
        "request.opened",
        "request.changed",
        "request.commented",
        "consent.changed",
    }
    first = [
        found.events[k]["event_type"]
        for k in found.order
        if found.events[k]["client"]["external_id"] == "C-0001"
    ]
    assert first == [
        "interaction.logged",
        "interaction.logged",
        "interaction.logged",
        "interaction.logged",
        "interaction.logged",
        "note.added",
        "request.opened",
        "request.changed",
        "request.commented",
        "consent.changed",
        "consent.changed",
    ]
    interactions = [
        found.events[k]["data"]
        for k in found.order
        if found.events[k]["client"]["external_id"] == "C-0001"
        and found.events[k]["event_type"] == "interaction.logged"
    ]
    assert [(d["kind"], d["text"], d["button"], d["content"]) for d in interactions[-2:]] == [
        ("callback", "menu:manager", "Мой менеджер", None),
        ("message", "Готово", None, None),
    ]
    opened = next(e for e in found.events.values() if e["event_type"] == "request.opened")
    # Sent as the request is when it goes: it was resolved before the writer ran.
    assert opened["data"]["status"] == "resolved" and opened["data"]["assignee"]["external_id"]
    status = await _queue_status(store)
    assert (status.done, status.pending, status.dead) == (queued, 0, 0)


async def test_a_refusal_is_a_dead_letter_and_a_wrong_secret_never_delivers(
    store: SqlCrm, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    found, url = receiver
    queued = await _every_kind(store, clock)
    found.refuse = {"note.added"}
    await _drain_and_close(store, WebhookCrm(url, SECRET), clock)
    status = await _queue_status(store)
    assert status.dead == 1 and status.dead_letters[0].last_error == "refused: http_422"
    assert status.done == queued - 1  # the client's later writes went on after the dead one
    assert "note.added" not in {e["event_type"] for e in found.events.values()}

    async with store.unit_of_work() as uow:
        await uow.crm_writes.requeue_dead(now=clock.now())
        await uow.commit()
    await _drain_and_close(store, WebhookCrm(url, "not-the-secret"), clock)
    status = await _queue_status(store)
    assert status.dead == 1 and status.dead_letters[0].last_error == "refused: http_401"
