"""The CRM's personal-data slice on both engines: erasure by rule, mentions, retention.

Regression tests for issue 21: nothing erased a client, and the retention purge left notes,
request summaries, relay mappings and audit details (which hold client names).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from common.clock import ManualClock
from concierge.erasure_terms import name_forms
from concierge.retention import purge_personal_data
from crm_adapter import models as m
from crm_adapter.models import Base
from crm_adapter.personal_data_erasure import ERASURE, client_columns, text_columns
from crm_adapter.personal_data_retention import RETAINED, RETENTION
from crm_adapter.sql import SqlCrm
from tests.factories import MiniBank, log_message, make_bank
from tests.pii_scan import traces

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)


def test_every_table_pointing_at_a_client_has_an_erasure_rule() -> None:
    pointing = {t.name for t in Base.metadata.sorted_tables if client_columns(t)}
    assert pointing <= set(ERASURE), f"decide what erasure does to {pointing - set(ERASURE)}"


def test_every_table_with_text_is_purged_or_kept_for_a_stated_reason() -> None:
    with_text = {t.name for t in Base.metadata.sorted_tables if text_columns(t)}
    decided = set(RETENTION) | set(RETAINED)
    assert with_text <= decided, f"decide the retention of {with_text - decided}"
    assert not set(RETENTION) & set(RETAINED)


async def _spread(crm: SqlCrm, bank: MiniBank) -> None:
    """Copies of client 1's name where no foreign key points at them, and client 2's data."""
    async with crm.unit_of_work() as uow:
        await uow.audit.record(
            now=NOW,
            action="search_clients",
            actor_staff_id=bank.manager_id,
            details={"query": "Волк", "client_ids": [bank.client_id]},
        )
        await uow.audit.record(
            now=NOW,
            action="note",
            actor_staff_id=bank.manager_id,
            details={"said": "звонил Волков Иван, просил перезвонить"},
        )
        await log_message(
            uow,
            at=NOW,
            actor="bot",
            direction="out",
            staff_id=bank.manager_id,
            chat_id=555,
            text="✉️ <b>Волков Иван Петрович</b> · stable_keeper\n\nПривезите наличные",
            payload={"method": "sendMessage"},
        )
        await uow.outbox.add(
            idempotency_key="brief",
            chat_id=555,
            client_id=None,
            staff_id=bank.manager_id,
            text="Брифинг перед встречей",
            keyboard=None,
            message_class="service",
            kind="briefing",
            occasion_key=None,
            now=NOW,
            not_before=NOW,
            document=("brief.md", "# Волков Иван Петрович\nвклад".encode()),
        )
        await uow.profiles.add_note(
            client_id=bank.other_client_id,
            author_id=bank.backup_id,
            text="Морозова Елена Сергеевна: советуется с мужем",
            kind="note",
            now=NOW,
        )
        await uow.commit()


async def test_erasure_scrubs_mentions_and_spares_other_clients(store: SqlCrm) -> None:
    bank = await make_bank(store)
    await _spread(store, bank)
    async with store.unit_of_work() as uow:
        client = await uow.clients.get(bank.client_id)
        assert client is not None
        report = await uow.personal_data.erase(
            bank.client_id,
            mentions=name_forms(client, await uow.clients.all()),
            fragments=[],
            now=NOW,
        )
        await uow.commit()
    assert report.scrubbed["audit_entry"] == 1 and report.scrubbed["interaction"] == 1
    assert not await traces(store, ["Волков", "Иван Петрович", "Волк"])
    assert {t.needle for t in await traces(store, ["Морозова Елена"])} == {"Морозова Елена"}
    async with store.unit_of_work() as uow:
        holdings = await uow.profiles.holdings(bank.client_id)
        erased = await uow.clients.get(bank.client_id)
    assert holdings and erased is not None and erased.erased_at is not None


async def _old_and_new(crm: SqlCrm, bank: MiniBank) -> None:
    async with crm.unit_of_work() as uow:
        s = uow.session
        for moment in (OLD, NOW):
            s.add(m.NoteRow(client_id=bank.client_id, created_at=moment, text="заметка"))
            request = m.ServiceRequestRow(
                client_id=bank.client_id,
                service_code="concierge",
                status="resolved",
                summary="Столик в ресторане на имя Волкова",
                details={"answers": {"wish": "столик"}},
                created_at=moment,
                ack_due_at=moment,
                resolve_due_at=moment,
                closed_at=moment,
            )
            s.add(request)
            await s.flush()
            s.add(
                m.RequestCommentRow(
                    request_id=request.id, author_kind="client", text="спасибо", created_at=moment
                )
            )
            s.add(
                m.RelayedMessageRow(
                    staff_id=bank.manager_id,
                    staff_chat_id=1,
                    message_id=int(moment.timestamp()),
                    client_id=bank.client_id,
                    created_at=moment,
                )
            )
            s.add(
                m.AuditEntryRow(
                    occurred_at=moment, action="search_clients", details={"query": "Волков"}
                )
            )
            s.add(
                m.OutboxMessageRow(
                    idempotency_key=f"k{moment.timestamp()}",
                    chat_id=1,
                    client_id=bank.client_id,
                    text="Иван Петрович, добрый день",
                    message_class="service",
                    kind="notification",
                    created_at=moment,
                    not_before=moment,
                    next_attempt_at=moment,
                    status="sent",
                )
            )
            s.add(
                m.FeedbackRow(
                    client_id=bank.client_id,
                    kind="nps",
                    score=9,
                    comment="всё отлично",
                    created_at=moment,
                )
            )
        await uow.commit()


async def test_retention_purges_every_personal_data_table(store: SqlCrm) -> None:
    bank = await make_bank(store)
    await _old_and_new(store, bank)
    async with store.unit_of_work() as uow:
        purged = await purge_personal_data(uow, ManualClock(NOW), timedelta(days=365))
        await uow.commit()
    for table in ("note", "service_request", "request_comment", "relayed_message"):
        assert purged[table] == 1, table
    assert purged["audit_entry"] >= 1 and purged["outbox_message"] == 1
    assert purged["feedback"] == 1
    async with store.unit_of_work() as uow:
        s = uow.session
        assert await s.scalar(select(func.count()).select_from(m.NoteRow)) == 1
        assert await s.scalar(select(func.count()).select_from(m.RelayedMessageRow)) == 1
        summaries = set(await s.scalars(select(m.ServiceRequestRow.summary)))
        comments = list(await s.scalars(select(m.RequestCommentRow.text)))
        audit = list(
            await s.scalars(
                select(m.AuditEntryRow.details).where(m.AuditEntryRow.occurred_at < NOW)
            )
        )
        outbox = list(await s.scalars(select(m.OutboxMessageRow.text)))
        feedback = list(await s.scalars(select(m.FeedbackRow.comment)))
    assert summaries == {"[удалено]", "Столик в ресторане на имя Волкова"}
    assert sorted(comments, key=str) == sorted([None, "спасибо"], key=str)
    assert audit == [None]
    assert set(outbox) == {"Иван Петрович, добрый день", "[удалено]"}
    assert sorted(feedback, key=str) == sorted([None, "всё отлично"], key=str)


async def test_relay_mappings_go_once_they_can_no_longer_be_answered(crm: SqlCrm) -> None:
    bank = await make_bank(crm)
    async with crm.unit_of_work() as uow:
        for age in (timedelta(days=8), timedelta(days=6)):
            await uow.relay.add(
                staff_id=bank.manager_id,
                staff_chat_id=1,
                message_id=age.days,
                client_id=bank.client_id,
                now=NOW - age,
            )
        await uow.commit()
    async with crm.unit_of_work() as uow:
        purged = await purge_personal_data(
            uow, ManualClock(NOW), timedelta(days=365), relay_window=timedelta(days=7)
        )
        await uow.commit()
        left = list(await uow.session.scalars(select(m.RelayedMessageRow.message_id)))
    assert purged["relayed_message"] == 1 and left == [6]
