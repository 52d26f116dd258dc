"""152-FZ rights end to end: a demo client asks for an export or an erasure in the messenger,
the ticket's owner runs it from the bot, and the store is checked from the outside.

Regression tests for issue 21: "Delete my data" and "Export my data" only opened tickets.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import pytest
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from sqlalchemy import select

from bot.sender import BotSender
from common.clock import ManualClock
from crm_adapter import models as m
from crm_adapter.demo.loader import load_demo_data
from scheduler.delivery import DeliveryWorker
from tests.harness import BotHarness
from tests.pii_scan import traces

CLIENT, MANAGER, BACKUP = 7501, 8501, 8502
PHONE = "+7 916 555-12-34"
RELAYED = f"Мой новый номер {PHONE}, звоните после обеда"
NOTE = "встреча прошла, обсудили страхование жизни для дочери"
# What must be gone after the erasure: the name in every form the bank writes it, the phone,
# the texts the client wrote and what was written about them.
NAME_FORMS = ["Воронцова Алина", "Алина Сергеевна", "Алина Воронцова", "Воронцова"]
TRACES = [
    *NAME_FORMS,
    PHONE,
    "555-12-34",
    "звоните после обеда",
    "обсудили страхование",
    "Продала долю в IT-компании",  # a life event of the demo persona
    "Облачные решения",  # a transaction description of the demo persona
    "Сооснователь IT-компании",  # the occupation on the client card
]


@dataclass(frozen=True)
class Demo:
    client_id: int
    manager_id: int
    backup_id: int


async def _demo(harness: BotHarness, clock: ManualClock) -> Demo:
    """The demo bank; C-0002 (Воронцова Алина Сергеевна) and her manager S-0001 linked."""
    await load_demo_data(harness.app.crm, clock=clock)
    async with harness.app.crm.unit_of_work() as uow:
        client = await uow.clients.by_external_id("C-0002")
        manager = await uow.staff.by_external_id("S-0001")
        backup = await uow.staff.by_external_id("S-0002")
        assert client is not None and manager is not None and backup is not None
    await harness.link(harness.user(CLIENT), client_id=client.id)
    await harness.link(harness.user(MANAGER), staff_id=manager.id)
    await harness.link(harness.user(BACKUP), staff_id=backup.id)
    return Demo(client.id, manager.id, backup.id)


async def _history(harness: BotHarness) -> None:
    """A conversation that spreads the client's data: relay both ways, a note, a search."""
    client, manager = harness.user(CLIENT), harness.user(MANAGER)
    await harness.press_button(client, "Мой менеджер")
    await harness.send(client, RELAYED)
    assert "звоните после обеда" in harness.last_text(MANAGER)
    await harness.send(manager, "Записал номер", reply_to_message=harness.last_message(MANAGER))
    await harness.send(manager, f"/note Воронцова {NOTE}")
    await harness.send(manager, "/clients Воронцова")
    await harness.press_button(client, "Завершить")


async def _ask(harness: BotHarness, button: str) -> int:
    """The client asks through Settings; returns the ticket number."""
    client = harness.user(CLIENT)
    await harness.send(client, "/menu")
    await harness.press_button(client, "Настройки")
    await harness.press_button(client, button)
    await harness.press_button(client, "Да, подтверждаю")
    async with harness.app.crm.unit_of_work() as uow:
        ticket = await uow.session.scalar(
            select(m.ServiceRequestRow.id)
            .where(m.ServiceRequestRow.service_code.in_(("data_export", "data_deletion")))
            .order_by(m.ServiceRequestRow.id.desc())
        )
    assert ticket is not None
    return int(ticket)


async def _deliver(harness: BotHarness) -> None:
    worker = DeliveryWorker(
        harness.app.crm, {"telegram": BotSender(harness.app.bot)}, harness.clock, warm_up=0.0
    )
    await worker.drain()


async def _other_clients_texts(harness: BotHarness, client_id: int) -> list[object]:
    async with harness.app.crm.unit_of_work() as uow:
        texts = await uow.session.execute(
            select(m.InteractionRow.id, m.InteractionRow.text)
            .where(m.InteractionRow.client_id != client_id)
            .order_by(m.InteractionRow.id)
        )
        meetings = await uow.session.execute(
            select(m.MeetingRow.id, m.MeetingRow.topic, m.MeetingRow.place)
            .where(m.MeetingRow.client_id != client_id)
            .order_by(m.MeetingRow.id)
        )
        notes = await uow.session.execute(
            select(m.NoteRow.id, m.NoteRow.text).where(m.NoteRow.client_id != client_id)
        )
        return [*texts.all(), *meetings.all(), *notes.all()]


async def _audit(harness: BotHarness, action: str) -> list[tuple[str, int | None]]:
    async with harness.app.crm.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(m.AuditEntryRow.outcome, m.AuditEntryRow.actor_staff_id).where(
                m.AuditEntryRow.action == action
            )
        )
        return [(outcome, actor) for outcome, actor in rows]


async def test_erasure_leaves_no_trace_in_any_table_nor_in_conversation_state(
    harness: BotHarness, clock: ManualClock
) -> None:
    demo = await _demo(harness, clock)
    await _history(harness)
    ticket = await _ask(harness, "Удалить мои данные")
    # Half-way through a form when the erasure runs: conversation state to forget.
    await harness.press_button(harness.user(CLIENT), "Мой менеджер")
    storage = harness.app.dispatcher.storage
    assert any(k.chat_id == CLIENT for k in storage.storage)  # type: ignore[attr-defined]
    assert await traces(harness.app.crm, TRACES), "the scenario must spread the data first"

    others_before = await _other_clients_texts(harness, demo.client_id)
    await harness.send(harness.user(MANAGER), f"/erase {ticket}")
    assert "Удалить персональные данные клиента Воронцова Алина Сергеевна" in harness.last_text(
        MANAGER
    )
    await harness.press_button(harness.user(MANAGER), "Удалить безвозвратно")
    assert f"Данные клиента удалены по заявке #{ticket}" in harness.last_text(MANAGER)

    left = await traces(harness.app.crm, TRACES)
    assert not left, "\n".join(f"{t.table}.{t.column}: {t.needle!r}" for t in left[:20])
    # Nobody else's history was touched (demo texts repeat from client to client).
    assert await _other_clients_texts(harness, demo.client_id) == others_before
    assert not any(k.chat_id == CLIENT for k in storage.storage)  # type: ignore[attr-defined]
    assert await _audit(harness, "data_erased") == [("ok", demo.manager_id)]

    await _deliver(harness)
    assert "Ваши персональные данные удалены" in harness.last_text(CLIENT)
    async with harness.app.crm.unit_of_work() as uow:
        client = await uow.clients.get(demo.client_id)
        consents = (
            await uow.session.scalars(
                select(m.ConsentRow.withdrawn_at).where(m.ConsentRow.client_id == demo.client_id)
            )
        ).all()
        holdings = await uow.profiles.holdings(demo.client_id)
        ticket_row = await uow.requests.get(ticket)
    # Stubs keep the foreign keys and the accounting; the consent records stay as proof.
    assert client is not None and client.erased_at is not None and client.last_name == "C-0002"
    assert [c is not None for c in consents] == [True]
    assert holdings, "holdings are accounting records and stay"
    assert ticket_row is not None and ticket_row.closed

    # The person is a stranger to the bot now.
    await harness.send(harness.user(CLIENT), "Алло?")
    assert "Чтобы подключиться" in harness.last_text(CLIENT)


async def test_export_delivers_an_archive_of_the_clients_history(
    harness: BotHarness, clock: ManualClock
) -> None:
    demo = await _demo(harness, clock)
    await _history(harness)
    ticket = await _ask(harness, "Выгрузить мои данные")
    await harness.send(harness.user(MANAGER), f"/export {ticket}")
    assert f"Выгрузка по заявке #{ticket} готова" in harness.last_text(MANAGER)
    await _deliver(harness)

    [document] = [
        c.method
        for c in harness.session.calls
        if isinstance(c.method, SendDocument) and c.method.chat_id == CLIENT
    ]
    assert isinstance(document.document, BufferedInputFile)
    assert document.document.filename.startswith("personal-data-C-0002-")
    archive = zipfile.ZipFile(io.BytesIO(document.document.data))
    names = set(archive.namelist())
    assert {"README.txt", "data.json", "client.csv", "interaction.csv", "note.csv"} <= names
    data = json.loads(archive.read("data.json"))
    sections = data["sections"]
    assert sections["client"][0]["last_name"] == "Воронцова"
    texts = [row["text"] for row in sections["interaction"] if row.get("text")]
    # Stored, so exported, with the phone masked (common.sensitive).
    assert RELAYED.replace(PHONE, "[phone]") in texts and "Записал номер" in texts
    assert any(NOTE in row["text"] for row in sections["note"])
    assert any(row["service_code"] == "data_export" for row in sections["service_request"])
    assert len(sections["interaction"]) > 50, "a year of demo history"
    assert "звоните после обеда" in archive.read("interaction.csv").decode("utf-8-sig")
    assert "code_hash" not in json.dumps(sections)
    assert await _audit(harness, "data_exported") == [("ok", demo.manager_id)]
    async with harness.app.crm.unit_of_work() as uow:
        kept = await uow.session.scalar(
            select(m.OutboxMessageRow.document_content).where(
                m.OutboxMessageRow.kind == "data_export"
            )
        )
    assert kept is None, "a sent archive is not kept at rest"


@pytest.mark.parametrize("command", ["/export", "/erase"])
async def test_only_the_tickets_owner_may_run_it_and_refusals_are_audited(
    harness: BotHarness, clock: ManualClock, command: str
) -> None:
    demo = await _demo(harness, clock)
    button = "Выгрузить мои данные" if command == "/export" else "Удалить мои данные"
    ticket = await _ask(harness, button)
    await harness.send(harness.user(BACKUP), f"{command} {ticket}")
    if command == "/erase":
        await harness.press_button(harness.user(BACKUP), "Удалить безвозвратно")
    assert "только ответственный по заявке" in harness.last_text(BACKUP)
    action = "data_export" if command == "/export" else "data_erasure"
    assert await _audit(harness, action) == [("denied", demo.backup_id)]
    async with harness.app.crm.unit_of_work() as uow:
        client = await uow.clients.get(demo.client_id)
    assert client is not None and client.erased_at is None and client.last_name == "Воронцова"


async def test_a_ticket_for_something_else_is_refused(
    harness: BotHarness, clock: ManualClock
) -> None:
    await _demo(harness, clock)
    ticket = await _ask(harness, "Выгрузить мои данные")
    await harness.send(harness.user(MANAGER), f"/erase {ticket}")
    assert "/erase" in harness.last_text(MANAGER)  # not an erasure ticket: the usage line
    await harness.send(harness.user(MANAGER), "/export 99999999999999999999")
    assert "/export" in harness.last_text(MANAGER)
