"""What a bank's manager reads in the Bitrix24 timeline: the bot's Telegram HTML as BB-code,
people's words inert, a button press by its label, nothing left open before our marker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from crm_adapter.master.bitrix24.adapter import Bitrix24Crm, marker
from crm_adapter.master.bitrix24.bbcode import html_to_bbcode, neutral
from crm_adapter.master.bitrix24.rest import Bitrix24Rest, CommandResult
from crm_adapter.master.records import CrmEvent, PersonRef, WriteKind

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("html", "bbcode"),
    [
        ("<b>Главное меню</b>\nЧем можем помочь?", "[B]Главное меню[/B]\nЧем можем помочь?"),
        ("<strong>a</strong> <i>b</i> <em>c</em>", "[B]a[/B] [I]b[/I] [I]c[/I]"),
        (
            "<u>u</u><ins>i</ins> <s>s</s><strike>t</strike><del>d</del>",
            "[U]u[/U][U]i[/U] [S]s[/S][S]t[/S][S]d[/S]",
        ),
        ("<b>жирный <i>и курсив</i></b>", "[B]жирный [I]и курсив[/I][/B]"),
        (
            '<a href="https://bank.example/a?b=1&amp;c=2">сайт</a>',
            "[URL=https://bank.example/a?b=1&c=2]сайт[/URL]",
        ),
        (
            "Вклад &laquo;Капитал&raquo; &amp; ИИС: 5 &lt; 7 &#8381;",
            "Вклад «Капитал» & ИИС: 5 < 7 ₽",
        ),
        # Telegram's tags with no counterpart in a comment keep their text.
        ("<code>1234</code> <pre>x</pre> <tg-spoiler>тайна</tg-spoiler>", "1234 x тайна"),
        ('<blockquote>цитата</blockquote><span class="tg-spoiler">s</span>', "цитатаs"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("Строка без разметки", "Строка без разметки"),
        ("", ""),
    ],
)
def test_the_bots_html_becomes_bitrix24_bbcode(html: str, bbcode: str) -> None:
    assert html_to_bbcode(html) == bbcode


def test_bbcode_inside_the_text_stays_inert_and_links_cannot_break_out() -> None:
    # A client's words quoted in a bot message (escaped by the template) stay words.
    shown = html_to_bbcode("Вы написали: <i>[URL=http://evil.example]банк[/URL]</i>")
    assert "[URL=" not in shown and shown.replace(ZWSP, "") == (
        "Вы написали: [I][URL=http://evil.example]банк[/URL][/I]"
    )
    # A link whose address holds a bracket cannot end the tag early; other schemes lose it.
    assert html_to_bbcode('<a href="https://x.example/]evil[">t</a>') == (
        "[URL=https://x.example/%5Devil%5B]t[/URL]"
    )
    assert html_to_bbcode('<a href="javascript:alert(1)">t</a>') == "t"
    assert html_to_bbcode("<a>t</a>") == "t"


def test_unbalanced_html_leaves_nothing_open() -> None:
    assert html_to_bbcode("<b>открыт <i>и этот") == "[B]открыт [I]и этот[/I][/B]"
    assert html_to_bbcode("лишний</b> закрывающий") == "лишний закрывающий"
    assert html_to_bbcode("<b><i>x</b> y</i>") == "[B][I]x[/I][/B] y"


class _Portal:
    """Bitrix24's `batch` as far as the comment goes: records what it was asked."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, str, dict[str, Any]]] = []

    async def batch(
        self, commands: list[tuple[str, str, dict[str, Any]]], *, halt: bool = False
    ) -> dict[str, CommandResult]:
        self.commands.extend(commands)
        return {key: CommandResult(result=1, error=None) for key, _m, _p in commands}


def _interaction(write_id: int, **data: Any) -> CrmEvent:
    return CrmEvent(
        write_id=write_id,
        key=f"interaction:{write_id}",
        kind=WriteKind.INTERACTION,
        client=PersonRef("C-0001", "17"),
        occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        data={
            "interaction_id": write_id,
            "channel": "messenger",
            "messenger": "telegram",
            "staff": None,
            "button": None,
            **data,
        },
    )


async def test_timeline_comments_read_as_the_client_saw_them() -> None:
    portal = _Portal()
    crm = Bitrix24Crm(
        cast(Bitrix24Rest, portal), holdings_entity_type_id=1, life_events_entity_type_id=2
    )
    events = [
        _interaction(
            1, direction="out", kind="message", actor="bot", text="<b>Меню</b> &amp; услуги"
        ),
        # What a person wrote is plain text, even when it looks like HTML.
        _interaction(2, direction="in", kind="message", actor="client", text="<b>да</b> [b]"),
        _interaction(
            3,
            direction="in",
            kind="callback",
            actor="client",
            text="menu:manager",
            button="👤 Мой менеджер",
        ),
        _interaction(4, direction="in", kind="callback", actor="client", text=None),
        _interaction(5, direction="in", kind="message", actor="client", text=None),
    ]
    await crm.write(events)

    bodies = {}
    for key, method, params in portal.commands:
        assert method == "crm.timeline.comment.add"
        lines = params["fields"]["COMMENT"].split("\n")
        assert lines[-1] == marker(f"interaction:{key.removeprefix('w')}")
        bodies[int(key.removeprefix("w"))] = "\n".join(lines[1:-1])
    assert bodies == {
        1: "[B]Меню[/B] & услуги",
        2: f"<b>да</b> [{ZWSP}b]",
        3: "Нажата кнопка «👤 Мой менеджер»",
        4: "Нажата кнопка",
        5: "(без текста)",
    }
    assert neutral("[b]") == f"[{ZWSP}b]"
