"""The assembled dispatcher never sends a filter or a handler to a worker thread."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from aiogram import F, Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Message, User

from bot.app import App
from bot.filters import run_sync_filters_inline, skip_foreign_callbacks


def _callables(app: App) -> list[tuple[str, CallableObject]]:
    found: list[tuple[str, CallableObject]] = []
    for router in app.dispatcher.chain_tail:
        for name, observer in router.observers.items():
            for handler in [observer._handler, *observer.handlers]:
                where = f"{router.name}.{name}"
                if handler is not observer._handler:
                    found.append((f"{where} handler {handler.callback!r}", handler))
                found += [(f"{where} filter {f.callback!r}", f) for f in handler.filters or ()]
    return found


def test_every_filter_and_handler_runs_on_the_event_loop(app: App) -> None:
    # aiogram runs a synchronous callable through asyncio.to_thread: a thread hop per check.
    callables = _callables(app)
    assert len(callables) > 100
    on_threads = [where for where, c in callables if not c.awaitable]
    assert on_threads == []


class Flow(StatesGroup):
    waiting = State()


async def test_inlined_filters_decide_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    router = Router(name="probe")
    router.message.filter(F.chat.type == "private")

    @router.message(Flow.waiting, F.text, ~F.text.startswith("/"))
    async def answer(message: Message) -> None: ...

    assert run_sync_filters_inline(router) == 4
    assert run_sync_filters_inline(router) == 0  # idempotent: builds reuse module routers

    def no_threads(*_: object, **__: object) -> None:
        raise AssertionError("a filter went to a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    handler = router.message.handlers[0]
    chat = Chat(id=1, type="private")

    def message(text: str) -> Message:
        return Message.model_validate(
            {"message_id": 1, "date": 0, "chat": chat.model_dump(), "text": text}
        )

    state = Flow.waiting.state
    assert (await handler.check(message("hello"), raw_state=state))[0]
    assert not (await handler.check(message("/menu"), raw_state=state))[0]
    assert not (await handler.check(message("hello"), raw_state=None))[0]
    assert (await router.message._handler.check(message("hello")))[0]
    group = message("hello").model_copy(update={"chat": Chat(id=-5, type="group")})
    assert not (await router.message._handler.check(group))[0]
    assert inspect.iscoroutinefunction(handler.filters[0].callback)


def test_every_button_filter_of_the_assembled_dispatcher_checks_the_prefix_first(
    app: App,
) -> None:
    unguarded = [
        f"{router.name}: {f.callback!r}"
        for router in app.dispatcher.chain_tail
        for handler in router.callback_query.handlers
        for f in handler.filters or ()
        if isinstance(f.callback, CallbackQueryFilter)
    ]
    assert unguarded == []


class ProbeCb(CallbackData, prefix="probe"):
    action: str
    value: int


async def test_prefix_checked_button_filters_decide_as_before() -> None:
    router = Router(name="buttons")

    @router.callback_query(ProbeCb.filter(F.action == "open"))
    async def pressed(query: CallbackQuery) -> None: ...

    original = router.callback_query.handlers[0].filters[0].callback
    assert skip_foreign_callbacks(router) == 1
    assert skip_foreign_callbacks(router) == 0  # idempotent: builds reuse module routers
    guarded = router.callback_query.handlers[0]
    user = User(id=1, is_bot=False, first_name="К")

    def press(data: str | None) -> CallbackQuery:
        return CallbackQuery(id="1", from_user=user, chat_instance="c", data=data)

    for data in (
        "probe:open:7",
        "probe:close:7",  # the rule refuses it
        "probe:open:x",  # not an int
        "probe:open",  # too few parts
        "probex:open:7",  # another prefix that starts alike
        "menu:ask",
        "probe",
        "",
        None,
    ):
        expected = await original(press(data))
        assert (await guarded.check(press(data)))[0] == bool(expected), data
    _, found = await guarded.check(press("probe:open:7"))
    assert found["callback_data"] == ProbeCb(action="open", value=7)
