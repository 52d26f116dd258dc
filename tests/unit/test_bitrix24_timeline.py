"""What a bank's manager reads in the Bitrix24 timeline: a header in the bank's language, the
bot's Telegram HTML as BB-code, people's words inert, a button press by its label, a file or a
record without text by what it was, nothing left open before our marker."""

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
            "content": None,
            **data,
        },
    )


async def test_timeline_comments_read_as_the_client_saw_them() -> None:
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
        # Nothing says what it was: the placeholder is the last resort.
        _interaction(5, direction="in", kind="message", actor="client", text=None),
    ]
    bodies = _bodies(await _written(events))
    assert bodies == {
        1: "[B]Меню[/B] & услуги",
        2: f"<b>да</b> [{ZWSP}b]",
        3: "Нажата кнопка «👤 Мой менеджер»",
        4: "Нажата кнопка",
        5: "(без текста)",
    }
    assert neutral("[b]") == f"[{ZWSP}b]"


async def _written(events: list[CrmEvent], language: str = "ru") -> dict[int, list[str]]:
    """The comment of each event as written to the portal, by write id, line by line."""
    portal = _Portal()
    crm = Bitrix24Crm(
        cast(Bitrix24Rest, portal),
        holdings_entity_type_id=1,
        life_events_entity_type_id=2,
        language=language,
    )
    await crm.write(events)
    comments = {}
    for key, method, params in portal.commands:
        assert method == "crm.timeline.comment.add"
        lines = params["fields"]["COMMENT"].split("\n")
        assert lines[-1] == marker(f"interaction:{key.removeprefix('w')}")
        comments[int(key.removeprefix("w"))] = lines[:-1]
    return comments


def _bodies(comments: dict[int, list[str]]) -> dict[int, str]:
    return {write_id: "\n".join(lines[1:]) for write_id, lines in comments.items()}


async def test_the_header_names_the_interaction_in_the_banks_language() -> None:
    system: dict[str, Any] = {"direction": "internal", "actor": "system", "messenger": None}
    events = [
        _interaction(1, direction="in", kind="message", actor="client", text="Добрый день"),
        _interaction(2, direction="in", kind="callback", actor="client", text="menu:manager"),
        _interaction(3, direction="out", kind="event_invitation", actor="bot", text="Приглашаем"),
        # A kind made at run time (a rule's message) is a notification all the same.
        _interaction(4, direction="out", kind="rule:12", actor="bot", text="Поздравляем"),
        _interaction(5, kind="escalation", text="request 3 escalated", channel="system", **system),
        _interaction(6, kind="contact_decision", text="suppressed because quiet_hours", **system),
    ]
    headers = {i: lines[0] for i, lines in (await _written(events)).items()}
    when = "2026-03-02 09:30 UTC"
    assert headers == {
        1: f"[b]Клиент → банк[/b] · сообщение в Telegram · {when}",
        2: f"[b]Клиент → банк[/b] · нажатие кнопки в Telegram · {when}",
        3: f"[b]Банк → клиенту[/b] · приглашение на мероприятие в Telegram · {when}",
        4: f"[b]Банк → клиенту[/b] · уведомление в Telegram · {when}",
        5: f"[b]Служебная запись[/b] · эскалация запроса · {when}",
        6: f"[b]Служебная запись[/b] · решение о рассылке в мессенджере · {when}",
    }
    english = await _written(events[:2], language="en")
    assert english[1][0] == f"[b]Client → bank[/b] · message in Telegram · {when}"
    assert english[2][0] == f"[b]Client → bank[/b] · button press in Telegram · {when}"


async def test_an_interaction_without_text_says_what_it_was() -> None:
    def received(write_id: int, content: str, text: str | None = None) -> CrmEvent:
        return _interaction(
            write_id, direction="in", kind="message", actor="client", text=text, content=content
        )

    def sent(write_id: int, content: str, text: str | None = None) -> CrmEvent:
        return _interaction(
            write_id, direction="out", kind="message", actor="bot", text=text, content=content
        )

    events = [
        received(1, "photo"),
        received(2, "document"),
        received(3, "voice"),
        received(4, "photo", text="Паспорт [b]"),
        # A client without consent: the log kept that a message came, not its words.
        received(5, "text"),
        sent(6, "document"),
        sent(7, "document", text="<b>Брифинг</b>"),
        _interaction(8, direction="internal", kind="channel_blocked", actor="client", text=None),
        _interaction(9, direction="internal", kind="channel_unblocked", actor="client", text=None),
        _interaction(10, direction="in", kind="my_chat_member", actor="client", text=None),
        # A content type with no words for it: the placeholder is the last resort.
        received(11, "poll"),
    ]
    bodies = _bodies(await _written(events))
    assert bodies == {
        1: "Фото",
        2: "Документ",
        3: "Голосовое сообщение",
        4: f"Фото: Паспорт [{ZWSP}b]",
        5: "Сообщение (текст не сохраняется: нет согласия на обработку данных)",
        6: "Документ",
        7: "Документ: [B]Брифинг[/B]",
        8: (
            "Клиент недоступен в этом мессенджере (бот остановлен или заблокирован):"
            " сообщения туда не отправляются"
        ),
        9: "Клиент снова доступен в этом мессенджере",
        10: "Клиент остановил или снова запустил бота",
        11: "(без текста)",
    }
    english = _bodies(await _written(events[:5], language="en"))
    assert english[1] == "Photo" and english[3] == "Voice message"
    assert english[5] == "Message (text not kept: no consent to data processing)"
