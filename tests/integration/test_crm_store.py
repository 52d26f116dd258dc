"""The SQL CRM store on SQLite and PostgreSQL: migrations, dedupe, links, codes, consent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.clock import ManualClock
from concierge.linking import LinkOutcome, issue_link_code, redeem_link_code
from crm_adapter.dto import Role
from crm_adapter.models import Base, StaffRow
from crm_adapter.port import DuplicateUpdate
from crm_adapter.sql import SqlCrm
from tests.factories import log_message, make_bank


async def test_migrations_match_the_models(store: SqlCrm) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with store.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_redelivered_update_is_refused(store: SqlCrm, clock: ManualClock) -> None:
    async with store.unit_of_work() as uow:
        await log_message(uow, at=clock.now(), actor="unknown", update_id=777)
        await uow.commit()
    async with store.unit_of_work() as uow:
        with pytest.raises(DuplicateUpdate):
            await log_message(uow, at=clock.now(), actor="unknown", update_id=777)
        # The transaction stays usable after a lost claim.
        await log_message(uow, at=clock.now(), actor="unknown", update_id=778)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.interactions.count() == 2


async def test_times_come_back_in_utc(store: SqlCrm, clock: ManualClock) -> None:
    async with store.unit_of_work() as uow:
        await log_message(uow, at=clock.now(), update_id=1)
        await uow.commit()
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        note = await uow.profiles.add_note(
            client_id=bank.client_id,
            author_id=bank.manager_id,
            text="x",
            kind="note",
            now=clock.now(),
        )
        await uow.commit()
    assert note.created_at == clock.now() and note.created_at.tzinfo is not None


async def test_link_code_is_single_use_even_under_a_race(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        issued = await issue_link_code(uow, clock=clock, client_id=bank.client_id)
        await uow.commit()

    async def redeem(user_id: int) -> LinkOutcome:
        async with store.unit_of_work() as uow:
            result = await redeem_link_code(
                uow,
                clock=clock,
                code=issued.code,
                user_id=user_id,
                chat_id=user_id,
                language="ru",
            )
            await uow.commit()
            return result.outcome

    first = await redeem(1)
    outcomes = await asyncio.gather(redeem(2), redeem(3))
    assert first is LinkOutcome.LINKED
    assert set(outcomes) == {LinkOutcome.USED}
    async with store.unit_of_work() as uow:
        link = await uow.links.for_client(bank.client_id)
    assert link is not None and link.user_id == 1


async def test_expired_code_is_refused(store: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        issued = await issue_link_code(uow, clock=clock, staff_id=bank.manager_id)
        await uow.commit()
    clock.advance(timedelta(hours=24, seconds=1))
    async with store.unit_of_work() as uow:
        result = await redeem_link_code(
            uow, clock=clock, code=issued.code, user_id=5, chat_id=5, language=None
        )
        await uow.commit()
        audit = await uow.audit.recent()
    assert result.outcome is LinkOutcome.EXPIRED
    assert audit[0].action == "link_account" and audit[0].outcome == "denied"


async def test_relinking_moves_the_account(store: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        await uow.links.bind(
            user_id=10,
            chat_id=10,
            client_id=bank.client_id,
            staff_id=None,
            now=clock.now(),
            language="ru",
        )
        await uow.links.bind(
            user_id=11,
            chat_id=11,
            client_id=bank.client_id,
            staff_id=None,
            now=clock.now(),
            language="ru",
        )
        await uow.commit()
        assert await uow.links.by_user(10) is None
        link = await uow.links.for_client(bank.client_id)
    assert link is not None and link.user_id == 11


async def test_consent_history_is_kept(store: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        await uow.consents.record(
            client_id=bank.client_id,
            granted=True,
            document_version="v1",
            channel="messenger",
            now=clock.now(),
        )
        await uow.commit()
    clock.advance(timedelta(minutes=5))
    async with store.unit_of_work() as uow:
        await uow.consents.withdraw(bank.client_id, now=clock.now())
        await uow.commit()
        current = await uow.consents.current(bank.client_id)
    assert current is not None and not current.active


async def test_staff_with_a_role_are_found_by_the_whole_role_word(store: SqlCrm) -> None:
    async with store.unit_of_work() as uow:
        uow.session.add_all(
            [
                StaffRow(external_id="S-A", full_name="А", roles="admin, manager"),
                StaffRow(external_id="S-B", full_name="Б", roles="manager"),
                StaffRow(external_id="S-C", full_name="В", roles="duty", active=False),
                StaffRow(external_id="S-D", full_name="Г", roles="duty,coordinator"),
                StaffRow(external_id="S-E", full_name="Д", roles="coordinators-guest"),
            ]
        )
        await uow.commit()
    async with store.unit_of_work() as uow:
        found = {role: [s.external_id for s in await uow.staff.with_role(role)] for role in Role}
    assert found == {
        Role.MANAGER: ["S-A", "S-B"],
        Role.COORDINATOR: ["S-D"],
        Role.DUTY: ["S-D"],  # the inactive duty officer is nobody to escalate to
        Role.ADMIN: ["S-A"],
    }


async def test_a_unit_of_work_makes_its_session_on_first_use(store: SqlCrm) -> None:
    async with store.unit_of_work() as uow:
        await uow.commit()
        assert not uow.began and not uow.relinked
        assert await uow.staff.get(10**6) is None
        assert uow.began and uow.staff is uow.staff
        await uow.commit()


async def test_reading_by_id_sees_what_the_unit_of_work_has_not_flushed(store: SqlCrm) -> None:
    # Staff and clients by id are read with a Core statement, which does not flush first.
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        row = await uow.session.get(StaffRow, bank.manager_id)
        assert row is not None
        row.full_name = "Новое Имя"
        staff = await uow.staff.get(bank.manager_id)
        assert staff is not None and staff.full_name == "Новое Имя"
        assert await uow.clients.get(10**6) is None
