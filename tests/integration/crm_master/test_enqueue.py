"""Writes for the bank's CRM are queued in the transaction of each local change, on both
engines: the update ledger's inbound claim and reply log, and every repository that stores an
interaction, a note, a request or a consent change; nothing without write-back, nothing for a
change rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from common.clock import ManualClock
from crm_adapter import models as m
from crm_adapter.dto import LinkedAccount
from crm_adapter.port import DuplicateUpdate
from crm_adapter.sql import SqlCrm
from tests.factories import make_bank


async def _queued(crm: SqlCrm) -> list[tuple[str, int, int]]:
    async with crm.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(m.CrmWriteRow.kind, m.CrmWriteRow.entity_id, m.CrmWriteRow.client_id).order_by(
                m.CrmWriteRow.id
            )
        )
        return [(str(k), int(e), int(c)) for k, e, c in rows]


@pytest.fixture(params=[True, False], ids=["write-back", "local"])
async def crm(request: pytest.FixtureRequest, any_db_url: str) -> AsyncIterator[SqlCrm]:
    store = SqlCrm.from_url(any_db_url, write_back=request.param)
    yield store
    await store.close()


def _inbound(client_id: int | None, update_id: int, clock: ManualClock) -> dict[str, Any]:
    return {
        "occurred_at": clock.now(),
        "channel": "messenger",
        "direction": "in",
        "kind": "message",
        "actor": "client" if client_id else "unknown",
        "client_id": client_id,
        "staff_id": None,
        "chat_id": 100 + update_id,
        "text": "Здравствуйте",
        "payload": {},
        "update_id": update_id,
    }


async def test_the_ledger_queues_clients_interactions_with_them(
    crm: SqlCrm, clock: ManualClock
) -> None:
    bank = await make_bank(crm)
    client_id = bank.client_id

    def inbound_of_client(_found: LinkedAccount | None) -> dict[str, Any]:
        return _inbound(client_id, 1, clock)

    await crm.ledger.open_update(1, inbound_of_client)
    await crm.ledger.open_update(2, lambda _found: _inbound(None, 2, clock))  # a stranger
    with pytest.raises(DuplicateUpdate):
        await crm.ledger.open_update(1, inbound_of_client)  # redelivered: nothing new
    reply = {"occurred_at": clock.now(), "kind": "message", "text": "Добрый день", "payload": {}}
    owners = {("telegram", 101): (client_id, None), ("telegram", 102): (None, None)}
    # What answers a press: a toast shows the client something; an empty answer (it only
    # stops the spinner) and a keyboard taken away show nothing and are not queued.
    pressed = {"method": "answerCallbackQuery", "callback_query_id": "7"}
    await crm.ledger.log_replies(
        [
            {**reply, "chat_id": 101, "text": None, "payload": pressed},
            {**reply, "chat_id": 101},
            {**reply, "chat_id": 102},
            {**reply, "chat_id": 101, "text": "Готово", "payload": pressed},
            {
                **reply,
                "chat_id": 101,
                "text": None,
                "payload": {"method": "editMessageReplyMarkup"},
            },
        ],
        known_owners=owners,
    )
    # Only protocol calls: not even the queue's statement runs.
    await crm.ledger.log_replies(
        [{**reply, "chat_id": 101, "text": None, "payload": pressed}], known_owners=owners
    )

    async with crm.unit_of_work() as uow:
        logged = await uow.session.execute(
            select(
                m.InteractionRow.id, m.InteractionRow.client_id, m.InteractionRow.text
            ).order_by(m.InteractionRow.id)
        )
        rows = [(i, text) for i, owner, text in logged if owner == client_id]
    # The local log keeps every call; the CRM gets what the client saw.
    assert len(rows) == 6
    shown = [i for i, text in rows if text is not None]
    queued = await _queued(crm)
    if crm.write_back:
        assert queued == [("interaction", i, client_id) for i in shown] and len(shown) == 3
    else:
        assert queued == []


async def test_repositories_queue_notes_requests_and_consent_changes(
    crm: SqlCrm, clock: ManualClock
) -> None:
    bank = await make_bank(crm)
    now = clock.now()
    async with crm.unit_of_work() as uow:
        client = await uow.clients.get(bank.client_id)
        manager = await uow.staff.get(bank.manager_id)
        assert client is not None and manager is not None
        interaction = await uow.interactions.record(
            occurred_at=now,
            channel="messenger",
            direction="out",
            kind="notification",
            actor="bot",
            client_id=client.id,
            text="Напоминание",
        )
        await uow.interactions.record(
            occurred_at=now,
            channel="messenger",
            direction="out",
            kind="notification",
            actor="bot",
            staff_id=manager.id,
            text="Staff only: not the client's timeline",
        )
        note = await uow.profiles.add_note(
            client_id=client.id,
            author_id=manager.id,
            text="Интересуется ПИФ",
            kind="note",
            now=now,
        )
        # add_note's mirror in the interaction log is not written back a second time.
        await uow.interactions.record(
            occurred_at=now,
            channel="crm",
            direction="internal",
            kind="note",
            actor="staff",
            client_id=client.id,
            staff_id=manager.id,
            text="Интересуется ПИФ",
        )
        request = await uow.requests.add(
            client_id=client.id,
            service_code="card_block",
            status="new",
            urgent=True,
            summary="Блокировка карты",
            details={},
            assignee_id=manager.id,
            created_at=now,
            ack_due_at=now,
            resolve_due_at=now,
        )
        await uow.requests.update(request.id, status="accepted", acknowledged_at=now)
        comment = await uow.requests.add_comment(
            request_id=request.id,
            author_kind="staff",
            author_staff_id=manager.id,
            text="Карта заблокирована",
            file_id=None,
            now=now,
        )
        consent = await uow.consents.record(
            client_id=client.id, granted=True, document_version="v1", channel="messenger", now=now
        )
        await uow.consents.withdraw(client.id, now=now)
        await uow.commit()
    async with crm.unit_of_work() as uow:  # rolled back: nothing of it is queued
        await uow.profiles.add_note(
            client_id=client.id, author_id=manager.id, text="черновик", kind="note", now=now
        )

    queued = await _queued(crm)
    if not crm.write_back:
        assert queued == []
        return
    assert queued == [
        ("interaction", interaction, client.id),
        ("note", note.id, client.id),
        ("request", request.id, client.id),
        ("request_change", request.id, client.id),
        ("request_comment", comment.id, client.id),
        ("consent", consent.id, client.id),
        ("consent", consent.id, client.id),
    ]
    async with crm.unit_of_work() as uow:
        keys = (await uow.session.scalars(select(m.CrmWriteRow.idempotency_key))).all()
    assert len(set(keys)) == len(keys)
