"""Texts made fit for a Bitrix24 timeline comment, which renders BB-code.

The bot's own messages are stored as sent, in Telegram's HTML (`<b>`, `<a href>`, `&amp;`);
a manager reading the timeline should see the formatting, not the markup. What people wrote
is plain text and stays plain: `neutral` keeps any BB-code in it from rendering.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

# Telegram's HTML tags with a Bitrix24 counterpart; the rest of its subset (code, pre,
# blockquote, spoilers, custom emoji) has none in a comment and keeps only its text.
_TAGS = {
    "b": "B",
    "strong": "B",
    "i": "I",
    "em": "I",
    "u": "U",
    "ins": "U",
    "s": "S",
    "strike": "S",
    "del": "S",
    "a": "URL",
}
# Links a manager may follow from the CRM; any other scheme (javascript:, data:) keeps only
# the link's text.
_SCHEMES = frozenset({"http", "https", "mailto", "tg"})


def neutral(text: str) -> str:
    """A stored text made inert as BB-code: a zero-width space after each `[` keeps a
    client's `[URL=…]` from rendering as a link in the CRM; the text reads the same."""
    return text.replace("[", "[\u200b")


def html_to_bbcode(html: str) -> str:
    """Telegram HTML as Bitrix24 BB-code: [B], [I], [U], [S], [URL=…]…[/URL]; entities
    unescaped, other tags dropped (their text kept), the text itself inert (`neutral`).
    Tags left open are closed at the end, so nothing after the text (our marker line)
    inherits their formatting."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    return converter.text()


def _link(href: str | None) -> str | None:
    """A link fit for `[URL=…]`: a known scheme, and no bracket to end the tag early."""
    if not href:
        return None
    try:
        scheme = urlsplit(href.strip()).scheme.lower()
    except ValueError:
        return None
    if scheme not in _SCHEMES:
        return None
    return href.strip().replace("[", "%5B").replace("]", "%5D").replace(" ", "%20")


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        # The BB tags open now, innermost last (None: a tag opened that has no counterpart).
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        bb = _TAGS.get(tag)
        if bb == "URL":
            href = _link(dict(attrs).get("href"))
            if href is None:
                bb = None
            else:
                self._out.append(f"[URL={href}]")
        elif bb is not None:
            self._out.append(f"[{bb}]")
        if tag in _TAGS:
            self._open.append((tag, bb))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _TAGS or all(opened != tag for opened, _bb in self._open):
            return
        # Close down to the matching tag (Telegram's HTML nests properly; this keeps a
        # stray mismatch from leaving BB-code open).
        while self._open:
            opened, bb = self._open.pop()
            if bb is not None:
                self._out.append(f"[/{bb}]")
            if opened == tag:
                return

    def handle_data(self, data: str) -> None:
        self._out.append(neutral(data))

    def text(self) -> str:
        closing = [f"[/{bb}]" for _tag, bb in reversed(self._open) if bb is not None]
        self._open.clear()
        return "".join([*self._out, *closing])
