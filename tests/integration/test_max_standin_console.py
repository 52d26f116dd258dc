"""The by-hand MAX console (`python -m bench.max_standin`): each line becomes the MAX event a
person's app would send, and the bot's messages are shown with their buttons."""

from __future__ import annotations

import io

from bench.max_standin import MaxStandIn, Sent
from bench.max_standin_console import StandInConsole


async def _feed(api: MaxStandIn) -> list[dict[str, object]]:
    """The events queued for the bot's long polling, as MAX would hand them out."""
    return [event for _, event in api._events]  # noqa: SLF001 - the stand-in's own queue


async def test_console_lines_become_max_events_and_answers_are_shown() -> None:
    async with MaxStandIn(token="t") as api:
        out = io.StringIO()
        console = StandInConsole(api, out)
        await console.handle(":start CODE-1")
        await console.handle("Здравствуйте")
        # The bot answers with a keyboard: shown numbered; :press sends its payload.
        menu = _bot_message(5001, "Меню", {"Услуги": "menu:s", "Вопрос": "menu:q"})
        api.sent.append(menu)
        console._show(menu, edited=False)  # noqa: SLF001 - what the HTTP handler calls
        await console.handle(":press 2")
        await console.handle(":press Нет такой")
        await console.handle(":as 5002 Менеджер")
        await console.handle(":stop")
        await console.handle(":send photo")
        events = await _feed(api)
    kinds = [e["update_type"] for e in events]
    assert kinds == [
        "bot_started",
        "message_created",
        "message_callback",
        "bot_stopped",
        "message_created",
    ]
    assert events[0]["payload"] == "CODE-1"
    assert events[2]["callback"]["payload"] == "menu:q"  # type: ignore[index]
    assert events[3]["user"]["user_id"] == 5002  # type: ignore[index]
    shown = out.getvalue()
    assert "── to MAX user 5001 ──\nМеню" in shown and "[1] Услуги  [2] Вопрос" in shown
    assert "(no such button on your messages)" in shown


def _bot_message(user_id: int, text: str, buttons: dict[str, str]) -> Sent:
    keyboard = {
        "type": "inline_keyboard",
        "payload": {
            "buttons": [
                [{"type": "callback", "text": label, "payload": payload}]
                for label, payload in buttons.items()
            ]
        },
    }
    raw = {"body": {"mid": "mid.b1", "seq": 1, "text": text, "attachments": [keyboard]}}
    return Sent("mid.b1", 1, user_id, text, [keyboard], raw)
