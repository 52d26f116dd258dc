"""Production wiring: a handler's notifications go through the outbox, in its transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels import Messengers
from bot.sender import BotSender
from common.clock import ManualClock
from common.settings import Settings
from concierge.notify import Notifier
from crm_adapter import models as m
from crm_adapter.sql import SqlCrm
from scheduler.bootstrap import Proactive, build_proactive
from tests.e2e.conftest import sample_knowledge
from tests.factories import make_bank
from tests.harness import BotHarness, RecordingSession


@pytest.fixture
async def outbox_app(
    settings: Settings, crm: SqlCrm, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[tuple[BotHarness, Proactive]]:
    built: dict[str, Proactive] = {}

    def outbox(bots: Messengers, _: SqlCrm) -> Notifier:
        senders = {messenger: BotSender(bot) for messenger, bot in bots.items()}
        built["p"] = build_proactive(settings, crm=crm, clock=clock, senders=senders)
        return built["p"].notifier

    knowledge = sample_knowledge(tmp_path / "kb", "outbox")
    session = RecordingSession()
    app: App = build_app(
        settings,
        session=session,
        clock=clock,
        crm=crm,
        notifier_factory=outbox,
        knowledge=knowledge,
    )
    yield BotHarness(app, session), built["p"]
    await session.close()


async def test_hand_over_is_queued_with_the_request_then_delivered(
    outbox_app: tuple[BotHarness, Proactive],
) -> None:
    """The question task and the manager's alert commit together; the worker delivers it."""
    harness, proactive = outbox_app
    bank = await make_bank(harness.app.crm)
    manager, client = harness.user(8301), harness.user(7301)
    await harness.link(manager, staff_id=bank.manager_id)
    await harness.link(client, client_id=bank.client_id)
    await harness.send(client, "хочу поговорить с менеджером")

    async with harness.app.crm.unit_of_work() as uow:
        pending = list(
            (
                await uow.session.execute(
                    select(m.OutboxMessageRow.id, m.OutboxMessageRow.status).where(
                        m.OutboxMessageRow.staff_id == bank.manager_id
                    )
                )
            ).all()
        )
        tasks = await uow.session.scalar(
            select(func.count()).where(m.ServiceRequestRow.service_code == "question")
        )
    assert tasks == 1
    assert [status for _, status in pending] == ["pending"]
    assert not any("поговорить" in text for text in harness.texts(8301))

    assert proactive.delivery is not None
    await proactive.delivery.drain()
    assert "хочу поговорить с менеджером" in harness.last_text(8301)
    async with harness.app.crm.unit_of_work() as uow:
        status = await uow.session.scalar(
            select(m.OutboxMessageRow.status).where(m.OutboxMessageRow.id == pending[0][0])
        )
    assert status == "sent"


async def test_a_delivered_outbox_message_is_logged_once(
    outbox_app: tuple[BotHarness, Proactive],
) -> None:
    """Found by hand with CRM_BACKEND=bitrix24: each message the worker delivered was in the
    interaction log twice (the session's log of the call and the worker's record with its
    outbox id), so the bank's CRM timeline showed it twice."""
    harness, proactive = outbox_app
    bank = await make_bank(harness.app.crm)
    manager, client = harness.user(8302), harness.user(7302)
    await harness.link(manager, staff_id=bank.manager_id)
    await harness.link(client, client_id=bank.client_id)
    await harness.send(client, "хочу поговорить с менеджером")
    assert proactive.delivery is not None
    await proactive.delivery.drain()

    async with harness.app.crm.unit_of_work() as uow:
        sent = list(await uow.session.scalars(select(m.OutboxMessageRow.text)))
        logged = list(
            await uow.session.scalars(
                select(m.InteractionRow.text).where(m.InteractionRow.direction == "out")
            )
        )
    assert sent  # the alert to the manager, the hand-over note to the client
    for text in sent:
        assert logged.count(text) == 1, text
