"""Sync in from Bitrix24 (the stand-in): the demo bank into an empty store, changes, removals,
reassignments reaching access rules, bad records skipped with id-only log lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bench.bitrix24_portal import Portal, seed_synthetic
from bench.bitrix24_standin import Bitrix24StandIn
from common.clock import ManualClock
from concierge.access import open_client
from concierge.identity import identity_of
from concierge.request_access import staff_may_act
from crm_adapter import models as m
from crm_adapter.dto import Client, LinkedAccount, Role, Staff
from crm_adapter.master.bitrix24.adapter import Bitrix24Crm
from crm_adapter.master.records import Stream
from crm_adapter.master.sync import sync_from_master
from crm_adapter.sql import SqlCrm, SqlUnitOfWork
from tests.integration.crm_master.conftest import HOLDINGS, LIFE_EVENTS, bitrix24


async def _count(crm: SqlCrm, model: type[m.Base]) -> int:
    async with crm.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def _reassign_in_crm(master: Bitrix24Crm, portal: Portal, client: str, staff: str) -> None:
    """Through the REST API, as a bank employee's change in Bitrix24 would arrive."""
    contact = portal.contact_by_client_id(client)
    manager = portal.user_by_staff_id(staff)
    await master.rest.call(
        "crm.contact.update", {"id": contact["ID"], "fields": {"ASSIGNED_BY_ID": manager["ID"]}}
    )


async def _reassigned(uow: SqlUnitOfWork) -> tuple[Client, Staff, Staff]:
    """Client C-0001 with its manager before (S-0001) and after (S-0003) the reassignment
    the tests make in the CRM."""
    client = await uow.clients.by_external_id("C-0001")
    before = await uow.staff.by_external_id("S-0001")
    after = await uow.staff.by_external_id("S-0003")
    assert client is not None and before is not None and after is not None
    return client, before, after


@pytest.fixture
async def any_store(any_db_url: str) -> AsyncIterator[SqlCrm]:
    crm = SqlCrm.from_url(any_db_url, write_back=True)
    yield crm
    await crm.close()


async def test_demo_bank_syncs_into_an_empty_store(
    any_store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    report = await sync_from_master(any_store, master, clock, full=True)

    assert report[Stream.STAFF].created == 7
    assert report[Stream.CLIENTS].created == 32
    assert report[Stream.HOLDINGS].created == len(portal.items[HOLDINGS])
    assert report[Stream.LIFE_EVENTS].created == len(portal.items[LIFE_EVENTS])
    assert sum(r.skipped for r in report.streams.values()) == 0
    assert await _count(any_store, m.ClientRow) == 32
    assert await _count(any_store, m.ProductHoldingRow) == len(portal.items[HOLDINGS])
    async with any_store.unit_of_work() as uow:
        client = await uow.clients.by_external_id("C-0001")
        sokolov = await uow.staff.by_external_id("S-0001")
        orlova = await uow.staff.by_external_id("S-0002")
        admin = await uow.staff.by_external_id("S-0006")
        assert client is not None and sokolov is not None and orlova is not None
        assert admin is not None and admin.has_role(Role.ADMIN)
        assert client.manager_id == sokolov.id  # ASSIGNED_BY_ID -> the personal manager
        assert sokolov.backup_id == orlova.id
        assert client.last_name == "Громов"
        holdings = await uow.profiles.holdings(client.id)
        assert holdings and all(h.client_id == client.id for h in holdings)

    # Nothing changed in the CRM: an incremental and a full sync create nothing.
    again = await sync_from_master(any_store, master, clock)
    assert [again[s].created for s in Stream] == [0, 0, 0, 0]
    assert again[Stream.CLIENTS].removed == 0
    full = await sync_from_master(any_store, master, clock, full=True)
    assert [full[s].created for s in Stream] == [0, 0, 0, 0]
    assert await _count(any_store, m.ClientRow) == 32
    assert await _count(any_store, m.ProductHoldingRow) == len(portal.items[HOLDINGS])


async def test_a_reassignment_in_the_crm_changes_who_may_open_the_client_card(
    store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    await sync_from_master(store, master, clock, full=True)
    clock.advance(timedelta(minutes=5))
    await _reassign_in_crm(master, portal, "C-0001", "S-0003")

    report = await sync_from_master(store, master, clock)

    assert report[Stream.CLIENTS].updated == 1
    async with store.unit_of_work() as uow:
        client, before, after = await _reassigned(uow)
        assert (
            await open_client(uow, clock=clock, staff=before, client_id=client.id, action="t")
            is None
        )
        opened = await open_client(uow, clock=clock, staff=after, client_id=client.id, action="t")
        assert opened is not None and opened.manager_id == after.id
        row = await uow.session.get(m.ClientRow, client.id)
        assert row is not None and row.previous_manager_id == before.id


async def test_open_requests_follow_a_client_reassigned_in_the_crm(
    store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    # The old manager had accepted the client's request (so was its assignee): after the
    # reassignment they could still comment to the client and received the client's
    # comments, name and all, as if the CRM had never taken the client from them.
    await sync_from_master(store, master, clock, full=True)
    async with store.unit_of_work() as uow:
        client, before, after = await _reassigned(uow)
        now = clock.now()
        fields = {
            "client_id": client.id,
            "service_code": "cash_delivery",
            "summary": "Наличные к пятнице",
            "created_at": now,
            "ack_due_at": now,
            "resolve_due_at": now + timedelta(days=1),
        }
        accepted = await uow.requests.add(**fields, status="accepted", assignee_id=before.id)
        done = await uow.requests.add(**fields, status="resolved", assignee_id=before.id)
        await uow.commit()
    clock.advance(timedelta(minutes=5))
    await _reassign_in_crm(master, portal, "C-0001", "S-0003")

    await sync_from_master(store, master, clock)

    async with store.unit_of_work() as uow:
        moved = await uow.requests.get(accepted.id)
        history = await uow.requests.get(done.id)
        assert moved is not None and history is not None
        assert moved.assignee_id == after.id
        assert not await staff_may_act(uow, before, moved)
        assert await staff_may_act(uow, after, moved)
        assert history.assignee_id == before.id  # a closed request keeps who did it


async def test_a_client_removed_in_the_crm_is_out_of_service_after_one_sync(
    store: SqlCrm, master: Bitrix24Crm, portal: Portal, clock: ManualClock
) -> None:
    await sync_from_master(store, master, clock, full=True)
    contact = portal.contact_by_client_id("C-0002")
    await master.rest.call("crm.contact.delete", {"id": contact["ID"]})

    report = await sync_from_master(store, master, clock)

    assert report[Stream.CLIENTS].removed == 1
    async with store.unit_of_work() as uow:
        client = await uow.clients.by_external_id("C-0002")
        manager = await uow.staff.by_external_id("S-0001")
        admin = await uow.staff.by_external_id("S-0006")
        assert client is not None and manager is not None and admin is not None
        assert client.out_of_service and client.manager_id is None
        for staff in (manager, admin):
            assert (
                await open_client(uow, clock=clock, staff=staff, client_id=client.id, action="t")
                is None
            )
        others = [c for c in await uow.clients.all() if c.out_of_service]
        assert [c.external_id for c in others] == ["C-0002"]
        link = await uow.links.bind(
            user_id=555,
            chat_id=555,
            client_id=client.id,
            staff_id=None,
            now=clock.now(),
            language=None,
        )
    # The bot no longer knows the person behind the client's messenger account.
    found = LinkedAccount(link=link, client=client)
    assert identity_of(found, user_id=555, chat_id=555, default_language="ru").client is None


async def test_bad_crm_data_is_logged_without_personal_data_and_skipped(
    store: SqlCrm,
    master: Bitrix24Crm,
    portal: Portal,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nameless = portal.contact_by_client_id("C-0003")
    nameless["LAST_NAME"] = ""
    orphan = portal.contact_by_client_id("C-0004")
    integration_user = next(u for u in portal.users.values() if u["XML_ID"] == "integration")
    orphan["ASSIGNED_BY_ID"] = integration_user["ID"]  # not one of the VIP staff
    bad_date = portal.contact_by_client_id("C-0005")
    bad_date["BIRTHDATE"] = "14 мая"
    coordinator = portal.user_by_staff_id("S-0005")
    coordinator["WORK_PHONE"] = "звонить секретарю 2-15"
    stray = portal.add_item(
        HOLDINGS, contactId=999_999, title="Вклад", opportunity=5, ufCrmVipProductType="deposit"
    )
    caplog.set_level(logging.WARNING, logger="crm_adapter.master")

    report = await sync_from_master(store, master, clock, full=True)

    assert report[Stream.CLIENTS].skipped == 3 and report[Stream.CLIENTS].created == 29
    assert report[Stream.STAFF].skipped == 1 and report[Stream.STAFF].created == 7
    # The holdings of the three skipped clients have no client to go to either.
    skipped_contacts = {int(c["ID"]) for c in (nameless, orphan, bad_date)}
    theirs = [h for h in portal.items[HOLDINGS].values() if h["contactId"] in skipped_contacts]
    assert report[Stream.HOLDINGS].skipped == len(theirs) + 1
    lines = {
        (r.crm_stream, r.crm_id, r.reason, r.field) for r in caplog.records if hasattr(r, "crm_id")
    }  # type: ignore[attr-defined]
    assert ("clients", nameless["ID"], "missing_field", "LAST_NAME") in lines
    assert ("clients", orphan["ID"], "unknown_manager", "ASSIGNED_BY_ID") in lines
    assert ("clients", bad_date["ID"], "malformed_field", "BIRTHDATE") in lines
    assert ("staff", coordinator["ID"], "malformed_phone", "WORK_PHONE") in lines
    assert ("holdings", str(stray["id"]), "unknown_client", "contactId") in lines
    for secret in (orphan["LAST_NAME"], bad_date["LAST_NAME"], "14 мая", "секретарю", "2-15"):
        assert secret not in caplog.text
    async with store.unit_of_work() as uow:
        assert await uow.clients.by_external_id("C-0003") is None
        synced = await uow.clients.by_external_id("C-0006")
        assert synced is not None
        row = await uow.session.scalar(
            select(m.StaffRow).where(m.StaffRow.external_id == "S-0005")
        )
        assert row is not None and row.phone is None and row.active  # kept, without the phone


async def test_lists_are_paged_by_50_and_fetched_50_pages_to_a_batch(
    store: SqlCrm, clock: ManualClock
) -> None:
    portal = Portal()
    portal.now = clock.now
    seed_synthetic(
        portal, clients=2_730, managers=7, holdings_per_client=1, life_events_per_client=0
    )
    async with Bitrix24StandIn(portal, rate=1000, burst=1000) as api:
        crm = bitrix24(api.webhook_url)
        try:
            report = await sync_from_master(store, crm, clock, full=True)
        finally:
            await crm.close()
        stats = api.stats
    assert report[Stream.CLIENTS].created == 2_730
    assert report[Stream.HOLDINGS].created == 2_730
    # 55 pages of contacts: the first alone, then 50 in one batch and 4 in another; the same
    # for holdings; users and the (empty) life events take one request each.
    assert stats.batches == 4 and stats.requests == 8
