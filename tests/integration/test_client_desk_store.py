"""The client-desk repositories on a real database (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_adapter.sql import SqlCrm
from tests.factories import make_bank

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


# On SQLite only for now: conftest's `any_db_url` errors (instead of skipping) when it asks
# for the async `postgres_url` fixture from inside a running loop; reported to the lead.
async def test_requests_queue_due_relay_and_surveys(crm: SqlCrm) -> None:
    bank = await make_bank(crm)
    async with crm.unit_of_work() as uow:
        common = {
            "status": "new",
            "summary": "s",
            "details": {},
            "created_at": NOW,
            "resolve_due_at": NOW + timedelta(hours=4),
        }
        urgent = await uow.requests.add(
            client_id=bank.client_id,
            service_code="urgent_transfer",
            urgent=True,
            ack_due_at=NOW - timedelta(minutes=1),
            assignee_id=bank.manager_id,
            **common,
        )
        await uow.requests.add(
            client_id=bank.other_client_id,
            service_code="concierge",
            urgent=False,
            ack_due_at=NOW - timedelta(minutes=1),
            assignee_id=bank.backup_id,
            **common,
        )
        assert [r.id for r in await uow.requests.unacknowledged_due(NOW)] == [urgent.id]
        mine = await uow.requests.open_queue(client_ids=[bank.client_id], assignee_id=None)
        assert [r.id for r in mine] == [urgent.id]
        assert await uow.requests.count_open(bank.client_id) == 1
        await uow.requests.update(urgent.id, status="resolved", closed_at=NOW)
        assert await uow.requests.count_open(bank.client_id) == 0

        await uow.relay.add(
            staff_id=bank.manager_id,
            staff_chat_id=10,
            message_id=5,
            client_id=bank.client_id,
            now=NOW,
        )
        found = await uow.relay.find(staff_chat_id=10, message_id=5)
        assert found is not None and found.client_id == bank.client_id
        assert await uow.relay.find(staff_chat_id=11, message_id=5) is None

        claim = {"client_id": bank.client_id, "kind": "nps", "period": "2026Q4", "now": NOW}
        assert await uow.feedback.claim_survey(**claim)
        assert not await uow.feedback.claim_survey(**claim)  # once per quarter, durably
        assert await uow.feedback.answer_survey(**claim)
        assert not await uow.feedback.answer_survey(**claim)
        await uow.commit()
