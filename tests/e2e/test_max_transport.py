"""The MAX transport against the MAX stand-in: long polling, the webhook, MAX's limits and
errors as the handlers and the delivery worker expect them (aiogram's)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bench.max_standin import Limits, MaxStandIn
from bot.max.session import MaxTransport
from bot.max.updates import to_update, update_id_of
from bot.transports import MAX_SECRET_HEADER, build_webhooks_app, run_polling
from common.settings import MaxSettings
from tests.e2e.conftest import Channels
from tests.factories import make_bank

PERSON = 5901
SECRET = "max-webhook-secret_1"


async def test_long_polling_receives_events_and_answers_through_max(
    channels: Channels, max_api: MaxStandIn
) -> None:
    bank = await make_bank(channels.app.crm)
    # A webhook left from an earlier deployment would take the events: polling removes it.
    max_api.subscriptions.append({"url": "http://127.0.0.1:9/max/webhook"})
    polling = asyncio.create_task(run_polling(channels.app, [channels.max.bot]))
    try:
        async with asyncio.timeout(20):
            while max_api.subscriptions:
                await asyncio.sleep(0.02)
        person = max_api.person(PERSON)
        code = await channels.max.link_code(client_id=bank.client_id)
        await max_api.deliver(max_api.event_started(person, code))
        async with asyncio.timeout(20):
            while not any("Согласие" in s.text for s in max_api.messages_to(PERSON)):
                await asyncio.sleep(0.05)
        assert "Иван Петрович" in max_api.messages_to(PERSON)[0].text
        # The feed moves by MAX's marker: a second event is not the first one again.
        await max_api.deliver(max_api.event_message(person, "/help"))
        async with asyncio.timeout(20):
            while not any("Что я умею" in s.text for s in max_api.messages_to(PERSON)):
                await asyncio.sleep(0.05)
        assert sum("Иван Петрович" in s.text for s in max_api.messages_to(PERSON)) == 1
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling


async def test_the_webhook_takes_only_events_with_the_secret_and_once(
    channels: Channels, max_api: MaxStandIn
) -> None:
    app = channels.app
    app.settings.max = MaxSettings(webhook_secret=SecretStr(SECRET))
    bank = await make_bank(app.crm)
    code = await channels.max.link_code(client_id=bank.client_id)
    event = max_api.event_started(max_api.person(PERSON), code)
    client = TestClient(TestServer(build_webhooks_app(app, ["max"], handle_in_background=False)))
    await client.start_server()
    try:
        path = app.settings.max.webhook_path
        assert (await client.post(path, json=event)).status == 403
        wrong = {MAX_SECRET_HEADER: "not-the-secret"}
        assert (await client.post(path, json=event, headers=wrong)).status == 403
        right = {MAX_SECRET_HEADER: SECRET}
        assert (await client.post(path, data=b"{not json", headers=right)).status == 400
        assert (await client.post(path, json=event, headers=right)).status == 200
        assert "Иван Петрович" in max_api.messages_to(PERSON)[0].text
        sent = len(max_api.sent)
        # MAX retries what it thinks was not received: the same event is handled once.
        assert (await client.post(path, json=event, headers=right)).status == 200
        assert len(max_api.sent) == sent
        # A group chat is not the bank's channel: accepted, nothing done.
        group = max_api.event_message(max_api.person(PERSON), "/help")
        group["message"]["recipient"]["chat_type"] = "chat"
        assert (await client.post(path, json=group, headers=right)).status == 200
        assert len(max_api.sent) == sent
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


async def test_subscribing_twice_keeps_one_subscription(
    channels: Channels, max_api: MaxStandIn
) -> None:
    bot = channels.max.bot
    for _ in range(2):
        await bot.set_webhook("https://bank.example/max/webhook", secret_token=SECRET)
    assert max_api.subscriptions == [{"url": "https://bank.example/max/webhook", "secret": SECRET}]


async def test_text_over_the_limit_is_sent_in_parts_with_the_keyboard_last(
    channels: Channels, max_api: MaxStandIn
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ок " * 80, callback_data="menu:x")]]
    )
    sent = await channels.max.bot.send_message(
        PERSON, "абзац\n\n" + "слово " * 1500, reply_markup=keyboard
    )
    parts = max_api.messages_to(PERSON)
    assert len(parts) == 3 and all(len(p.text) <= 3999 for p in parts)
    assert [bool(p.buttons()) for p in parts] == [False, False, True]
    assert len(parts[-1].buttons()[0]["text"]) == 128  # MAX's longest label
    assert sent.message_id == parts[-1].seq and sent.chat.id == PERSON


async def test_what_max_cannot_show_is_dropped_not_failed(
    channels: Channels, max_api: MaxStandIn
) -> None:
    await channels.max.bot.send_message(PERSON, "Готово", reply_markup=ReplyKeyboardRemove())
    (sent,) = max_api.messages_to(PERSON)
    assert sent.text == "Готово" and sent.attachments == []
    with pytest.raises(TelegramBadRequest):
        # Known neither to this process nor to MAX: a clear aiogram error, not a crash.
        await channels.max.bot.edit_message_text("x", chat_id=PERSON, message_id=12345)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (Limits(per_second=0, retry_after=3), TelegramRetryAfter),
        (Limits(stopped_users={PERSON}), TelegramForbiddenError),
        (Limits(error_rate=1.0), TelegramServerError),
    ],
)
async def test_max_errors_arrive_as_aiogram_errors(
    channels: Channels, max_api: MaxStandIn, limits: Limits, expected: type[Exception]
) -> None:
    max_api.limits = limits
    with pytest.raises(expected) as raised:
        await channels.max.bot.send_message(PERSON, "Здравствуйте")
    if isinstance(raised.value, TelegramRetryAfter):
        assert raised.value.retry_after == 3


async def test_unreachable_max_is_a_network_error() -> None:
    transport = MaxTransport("token", api_url="http://127.0.0.1:9")  # nothing listens there
    from aiogram import Bot

    bot = Bot("0:max", session=transport)
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(PERSON, "Здравствуйте")
    finally:
        await bot.session.close()


def test_update_ids_are_stable_per_event_and_distinct_between_events() -> None:
    api = MaxStandIn()
    person = api.person(PERSON)
    first, second = api.event_message(person, "a"), api.event_message(person, "a")
    assert update_id_of(first) == update_id_of(dict(first))
    assert update_id_of(first) != update_id_of(second)
    assert 0 <= update_id_of(first) < 2**63
    shaped = to_update(first)
    assert shaped is not None and shaped.message is not None
    assert shaped.message.chat.id == PERSON and shaped.message.text == "a"


@pytest.mark.parametrize(
    "event",
    [
        {"update_type": "message_created"},
        {"update_type": "message_callback", "callback": {"payload": "x"}},
        {"update_type": "message_removed", "message_id": "mid.1"},
        {"update_type": "bot_started"},
    ],
)
def test_malformed_or_foreign_events_are_dropped(event: dict[str, Any]) -> None:
    assert to_update(event) is None
