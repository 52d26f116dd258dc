"""One person, several messengers, in the store (SQLite and PostgreSQL): a link per messenger,
where the bank's own messages go, the language of the person, blocking per messenger, and
the messenger the client last wrote from."""

from __future__ import annotations

from datetime import timedelta

from common.clock import ManualClock
from crm_adapter.sql import SqlCrm
from tests.factories import link_account, log_message, make_bank

TG_USER, MAX_USER, OTHER_MAX_USER = 7901, 5901, 5902


async def _link(
    store: SqlCrm, clock: ManualClock, client_id: int, user: int, messenger: str
) -> None:
    await link_account(store, client_id=client_id, user=user, now=clock.now(), messenger=messenger)


async def test_links_per_messenger_and_where_the_bank_writes(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await make_bank(store)
    await _link(store, clock, bank.client_id, TG_USER, "telegram")
    clock.advance(timedelta(minutes=1))
    await _link(store, clock, bank.client_id, MAX_USER, "max")
    async with store.unit_of_work() as uow:
        links = await uow.links.all_for_client(bank.client_id)
        assert [(link.messenger, link.user_id) for link in links] == [
            ("max", MAX_USER),
            ("telegram", TG_USER),
        ]
        # Until the client chooses, the account linked last.
        latest = await uow.links.for_client(bank.client_id)
        assert latest is not None and latest.messenger == "max"
        assert await uow.links.prefer(bank.client_id, "telegram")
        assert not await uow.links.prefer(bank.client_id, "pigeon-post")
        await uow.commit()
    async with store.unit_of_work() as uow:
        chosen = await uow.links.for_client(bank.client_id)
        assert chosen is not None and chosen.messenger == "telegram"
        # A blocked account is passed over, whatever was chosen.
        await uow.links.mark_blocked(TG_USER, now=clock.now(), messenger="telegram")
        await uow.commit()
    async with store.unit_of_work() as uow:
        working = await uow.links.for_client(bank.client_id)
        assert working is not None and working.messenger == "max"
        telegram = await uow.links.for_client(bank.client_id, messenger="telegram")
        assert telegram is not None and telegram.blocked_at is not None
        # The language is the person's, in every messenger.
        await uow.links.set_language(working.id, "en")
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert {link.language for link in await uow.links.all_for_client(bank.client_id)} == {"en"}


async def test_relinking_in_one_messenger_keeps_the_other(
    store: SqlCrm, clock: ManualClock
) -> None:
    bank = await make_bank(store)
    await _link(store, clock, bank.client_id, TG_USER, "telegram")
    await _link(store, clock, bank.client_id, MAX_USER, "max")
    await _link(store, clock, bank.client_id, OTHER_MAX_USER, "max")  # a new MAX account
    # The same number in Telegram is another person's account there.
    await _link(store, clock, bank.other_client_id, MAX_USER, "telegram")
    async with store.unit_of_work() as uow:
        mine = await uow.links.all_for_client(bank.client_id)
        theirs = await uow.links.all_for_client(bank.other_client_id)
    assert [(link.messenger, link.user_id) for link in mine] == [
        ("max", OTHER_MAX_USER),
        ("telegram", TG_USER),
    ]
    assert [(link.messenger, link.user_id) for link in theirs] == [("telegram", MAX_USER)]


async def test_the_messenger_a_client_last_wrote_from(store: SqlCrm, clock: ManualClock) -> None:
    bank = await make_bank(store)
    async with store.unit_of_work() as uow:
        assert await uow.interactions.last_messenger(bank.client_id) is None
        for messenger, update_id in (("telegram", 1), ("max", 1), ("telegram", 2)):
            clock.advance(timedelta(seconds=1))
            await log_message(
                uow,
                at=clock.now(),
                client_id=bank.client_id,
                update_id=update_id,
                messenger=messenger,
            )
        # What the bank sent later does not count: the client's own words do.
        await log_message(
            uow,
            at=clock.now() + timedelta(seconds=5),
            actor="bot",
            direction="out",
            client_id=bank.client_id,
            messenger="max",
        )
        assert await uow.interactions.last_messenger(bank.client_id) == "telegram"
