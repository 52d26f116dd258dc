"""The assembled assistant of `concierge run --channel max`, against the MAX stand-in: long
polling in, replies out, and the outbox's delivery worker sending in MAX."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from pydantic import SecretStr

from bench.max_standin import MaxStandIn
from bot.transports import run
from cli.assembly import assemble
from common.clock import ManualClock
from common.settings import MaxSettings, Settings
from concierge.linking import issue_link_code
from concierge.notify import Outgoing
from crm_adapter.demo.loader import load_demo_data
from crm_adapter.sql import SqlCrm
from tests.e2e.conftest import MAX_TEST_TOKEN

CLIENT = 5801


async def _until(condition: Callable[[], bool], seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_max_client_through_the_assembled_assistant(
    settings: Settings, crm: SqlCrm, clock: ManualClock, max_api: MaxStandIn
) -> None:
    await load_demo_data(crm, clock=clock)
    async with crm.unit_of_work() as uow:
        client = await uow.clients.by_external_id("C-0002")
        assert client is not None
        issued = await issue_link_code(uow, clock=clock, client_id=client.id)
        await uow.commit()
    with_max = settings.model_copy(
        update={"max": MaxSettings(bot_token=SecretStr(MAX_TEST_TOKEN), api_url=max_api.base_url)}
    )
    assistant = await assemble(with_max, session=None, clock=clock)
    # No Telegram token: this process reaches MAX only, and sends only there.
    assert list(assistant.app.messengers) == ["max"]
    receiving = asyncio.create_task(run(assistant.app, ["max"]))
    person = max_api.person(CLIENT, "Клиент")
    mine = lambda: [s.text for s in max_api.messages_to(CLIENT)]  # noqa: E731
    try:
        await max_api.deliver(max_api.event_started(person, issued.code))
        await _until(lambda: any("Согласие" in t for t in mine()))
        consent = max_api.messages_to(CLIENT)[-1]
        payload = next(b["payload"] for b in consent.buttons() if "Даю" in b["text"])
        await max_api.deliver(max_api.event_press(person, consent, payload))
        await _until(lambda: any("Главное меню" in t for t in mine()))
        # A proactive message: queued in the outbox, sent by the worker in MAX.
        assert await assistant.app.notifier.to_client(
            client.id, Outgoing(text="Выписка готова", kind="statement")
        )
        await assistant.run_jobs_now()
        await _until(lambda: "Выписка готова" in mine())
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        await assistant.close()
