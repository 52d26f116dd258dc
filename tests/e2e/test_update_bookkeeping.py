"""The update middleware's bookkeeping: who replies belong to, and what a failed update leaves."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crm_adapter import models as m
from tests.factories import make_bank
from tests.harness import BotHarness


async def test_replies_after_relinking_belong_to_the_new_owner(harness: BotHarness) -> None:
    # Regression guard for the per-update owner cache: the identity read before the handler
    # must not be reused for replies once the handler has bound the chat to someone else.
    bank = await make_bank(harness.app.crm)
    account = harness.user(7301)
    await harness.link(account, client_id=bank.client_id)
    await harness.link(account, client_id=bank.other_client_id, consent=False)
    async with harness.app.crm.unit_of_work() as uow:
        last_reply = await uow.session.scalar(
            select(m.InteractionRow.client_id)
            .where(m.InteractionRow.direction == "out", m.InteractionRow.chat_id == 7301)
            .order_by(m.InteractionRow.id.desc())
            .limit(1)
        )
    assert last_reply == bank.other_client_id


async def test_update_that_failed_before_it_was_logged_runs_when_redelivered(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast claim is released when the update could not be recorded; otherwise Telegram's
    # redelivery would be dropped as a duplicate of an update that never ran.
    ledger = harness.app.crm.ledger
    real = ledger.open_update
    failures = iter([ConnectionError("database restarting")])

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        for failure in failures:
            raise failure
        return await real(*args, **kwargs)

    monkeypatch.setattr(ledger, "open_update", flaky)
    guest = harness.user(7302)
    update = harness.update(message=harness._message(guest, text="/help"))
    assert await harness.feed(update) == []
    replies = await harness.feed(update)
    assert len(replies) == 1
