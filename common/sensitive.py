"""The one detector of sensitive data in free text: what must never be stored, relayed,
logged or sent to a model in clear.

Card numbers (Luhn-checked), 20-digit account numbers, SNILS and INN (with their check
digits), Russian passports, phone numbers in any country's format, and security codes (CVV,
PIN, codes from SMS, passwords) when the words around them say what they are. Every place a
person's text goes through (the interaction log, notes, requests, the relay, the LLM path,
log lines) asks this module, so they all agree on what is sensitive.

Numbers are read as runs of digit groups joined by spaces, hyphens, dots, brackets or "№",
so "4276 1234 5678 9012", "8 (916) 123-45-67" and "45 12 № 345678" are each one run; a run
is then split into what it holds, longest first ("карта 4111111111111111 тел 89161234567"
needs no punctuation between the two).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CARD = "card"
    ACCOUNT = "account"
    SNILS = "snils"
    INN = "inn"
    PASSPORT = "passport"
    PHONE = "phone"
    CODE = "code"  # CVV, PIN, a code from an SMS, a password
    NUMBER = "number"  # ten or more digits in a row that are none of the above
    EMAIL = "email"


# Data a client should give the bank only through its secure channel: the first message
# holding any of these earns the client a one-time warning.
SECRET_KINDS = frozenset({Kind.CARD, Kind.ACCOUNT, Kind.SNILS, Kind.INN, Kind.PASSPORT, Kind.CODE})


@dataclass(frozen=True)
class Finding:
    kind: Kind
    start: int
    end: int
    digits: str


@dataclass(frozen=True)
class Masked:
    """A text with its sensitive parts replaced, and which kinds were found."""

    text: str
    kinds: frozenset[Kind]

    @property
    def found(self) -> bool:
        return bool(self.kinds)

    @property
    def secret(self) -> bool:
        """Whether it held data that belongs in the bank's secure channel, not in a chat."""
        return bool(self.kinds & SECRET_KINDS)


# Words the patterns below start with (in lowercase text): without one, they are skipped.
_CODE_HINTS = re.compile("cvv|cvc|cvn|csc|cid|pin|пин|код|code|цифр|otp|парол|password")
_PASSPORT_HINTS = re.compile("серия|series")
# Fewer characters than this cannot hold the shortest number we look for (eight digits).
_SHORTEST_RUN = 8
# A separator between the digit groups of one number.
_SEP = r"(?:\s?[-–.]\s?|\s?\(\s?|\s?\)\s?|\s?№\s?|[ \u00a0])"
# Led by a character class, so the engine skips ahead to candidates (seven times faster than
# a pattern that opens with optional parts; every stored text is scanned).
_RUN_RE = re.compile(rf"[+(\d](?:(?<=\+)\s?\(?\d+|(?<=\()\d+|(?<=\d)\d*)(?:{_SEP}\d+)*")
_GROUP_RE = re.compile(r"\d+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

_CODE_WORDS = (
    r"cvv2?|cvc2?|cvn|csc|cid|pin(?:\s*-?\s*code)?|пин(?:\s*-?\s*код)?|"
    r"код\s+безопасности|security\s+code|verification\s+code|"
    r"код\s+(?:с|на)\s+обо\w+(?:\s+стороне)?|три\s+цифры(?:\s+на\s+обороте)?|"
    r"(?:код|code)\s+(?:из|from)\s+(?:смс|sms)|(?:смс|sms)[\s-]*(?:код\w*|code)|"
    r"одноразов\w+\s+(?:код|пароль)|one[\s-]?time\s+(?:code|password)|otp|"
    r"код\s+подтверждения|кодов\w+\s+слов\w*"
)
# A code follows its word within a few characters: "CVV: 123", "пин-код у карты 1234".
_CODE_RE = re.compile(rf"(?<!\w)(?:{_CODE_WORDS})(?!\w)[^\d\n]{{0,24}}?(\d{{3,8}})(?!\d)", re.I)
_PASSWORD_RE = re.compile(
    r"(?<!\w)(?:пароль|password|passcode|парол\w+)\s*(?::|=|—|-|is|такой)\s*(\S{3,64})", re.I
)
# "серия 45 12 номер 345678": words between the two parts make them two runs.
_PASSPORT_WORDS_RE = re.compile(
    r"(?<!\w)(?:серия|series)\s*(\d{2}\s?\d{2})\s*[,;]?\s*(?:номер|№|no\.?|number)\s*(\d{6})(?!\d)",
    re.I,
)

# Words before a number that say what it is.
_CONTEXT = {
    Kind.CARD: re.compile(r"карт|card|visa|mastercard|maestro|(?<!\w)мир(?!\w)", re.I),
    Kind.PASSPORT: re.compile(r"паспорт|passport|серия|загран", re.I),
    Kind.INN: re.compile(r"(?<![а-яёa-z])(?:инн|inn|taxpayer|tin)(?![а-яёa-z])", re.I),
    Kind.SNILS: re.compile(r"снилс|snils", re.I),
    Kind.ACCOUNT: re.compile(r"сч[её]т|account|р/с|iban", re.I),
    Kind.PHONE: re.compile(r"тел|phone|моб|mobile|whatsapp|viber|звон|call|номер для связи", re.I),
}
_CONTEXT_CHARS = 32
_CONTEXT_END_RE = re.compile(r"[,;.!?\n\d]")

# How people group a ten-digit number without its country code: 916 123-45-67, (212) 555-0199.
_PHONE_GROUPINGS = {(3, 3, 2, 2), (3, 3, 4), (3, 7), (3, 4, 3)}
# The longest number we classify (an account); a longer span is several numbers.
_MAX_DIGITS = 20
_PASSPORT_GROUPINGS = {(2, 2, 6), (4, 6)}
# Amounts are written in thousands ("80 000 000 000", "5 000 000 000 000"): a run grouped so
# is money, not a phone or an identifier.
_THOUSANDS_MIN_GROUPS = 3


def _in_thousands(shape: tuple[int, ...]) -> bool:
    return (
        len(shape) >= _THOUSANDS_MIN_GROUPS
        and shape[0] <= 3
        and all(size == 3 for size in shape[1:])
    )


def _card_shape(shape: tuple[int, ...]) -> bool:
    """Whether digits grouped so can be a card number as people copy it: in one piece or in
    groups of three or more ("4276 1234 5678 9014", "3782 822463 10005"). Dates and times
    ("01.12.2026-04.12.2026", "10.00 12.00 14.00 16.00") have groups of two."""
    return all(size >= 3 for size in shape[:-1])


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def snils_ok(digits: str) -> bool:
    if len(digits) != 11:
        return False
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(9, 0, -1), strict=True))
    check = total % 101
    return (0 if check == 100 else check) == int(digits[9:])


_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_ok(digits: str) -> bool:
    if len(digits) == 10:
        return _inn_digit(digits, _INN10) == int(digits[9])
    if len(digits) == 12:
        return _inn_digit(digits, _INN11) == int(digits[10]) and _inn_digit(digits, _INN12) == int(
            digits[11]
        )
    return False


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str


def _kind_of(groups: list[_Group], *, plus: bool, context: set[Kind]) -> Kind | None:
    """What the consecutive digit groups are together, or None."""
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    shape = tuple(len(g.digits) for g in groups)
    if plus:
        # +7 (Russia, Kazakhstan) and +1 (North America) numbers have eleven digits; other
        # countries vary, up to fifteen (E.164).
        if digits[0] in "17":
            return Kind.PHONE if n == 11 else None
        return Kind.PHONE if 8 <= n <= 15 else None
    if n == 20:
        return Kind.ACCOUNT
    # Without a word saying it is a card, the check digit must hold (a typo'd card number
    # next to "карта" is masked all the same).
    if 13 <= n <= 19 and ((luhn_ok(digits) and _card_shape(shape)) or Kind.CARD in context):
        return Kind.CARD
    if _in_thousands(shape):
        return None
    if n == 11 and (snils_ok(digits) or Kind.SNILS in context):
        return Kind.SNILS
    if n in (10, 12) and Kind.INN in context:
        return Kind.INN
    if n in (9, 10) and Kind.PASSPORT in context:
        return Kind.PASSPORT
    return _kind_by_shape(digits, shape, context)


def _kind_by_shape(digits: str, shape: tuple[int, ...], context: set[Kind]) -> Kind | None:
    """Phones, passports and INNs told apart by how the digits are written."""
    n, contiguous = len(digits), len(shape) == 1
    if n == 10 and shape in _PASSPORT_GROUPINGS:
        return Kind.PASSPORT
    if n == 11 and digits[0] in "78":
        return Kind.PHONE
    if n == 10 and (shape in _PHONE_GROUPINGS or Kind.PHONE in context):
        return Kind.PHONE
    if not contiguous:
        # The international prefix instead of "+": 00 44 20 7946 0958 (a list of times,
        # "10.00 12.00 14.00", has no group longer than two).
        international = digits.startswith("00") and max(shape) > 2
        return Kind.PHONE if international and 10 <= n <= 17 else None
    if n == 10 and digits[0] == "9":
        return Kind.PHONE  # a Russian mobile without the country code
    if n in (10, 12) and inn_ok(digits):
        return Kind.INN
    if digits.startswith("00") and 10 <= n <= 17:
        return Kind.PHONE
    # Ten or more digits in a row are an identifier of some kind, whatever their checksum.
    return Kind.NUMBER if n >= 10 else None


def _context(text: str, start: int) -> set[Kind]:
    # The words since the previous number or punctuation: in "ИНН 500100732259, мобильный
    # 916 123-45-67" the phone's word is "мобильный", not "ИНН".
    before = _CONTEXT_END_RE.split(text[max(0, start - _CONTEXT_CHARS) : start])[-1]
    return {kind for kind, words in _CONTEXT.items() if words.search(before)}


def _run_findings(text: str, match: re.Match[str]) -> Iterable[Finding]:
    if match.end() - match.start() < _SHORTEST_RUN:
        return
    groups = [
        _Group(match.start() + g.start(), match.start() + g.end(), g.group())
        for g in _GROUP_RE.finditer(match.group())
    ]
    # "5+7" is no phone number that starts with a plus.
    plus = match.group().startswith("+") and not text[max(0, match.start() - 1)].isdigit()
    context = _context(text, match.start())
    i = 0
    while i < len(groups):
        # Each group has a digit at least, so a span of more than _MAX_DIGITS groups is too
        # long for any kind: the work stays linear in the run's length.
        for j in range(min(len(groups), i + _MAX_DIGITS), i, -1):
            digits = sum(len(g.digits) for g in groups[i:j])
            if digits > _MAX_DIGITS and j > i + 1:
                continue
            kind = _kind_of(groups[i:j], plus=plus and i == 0, context=context)
            if kind is not None:
                start = match.start() if i == 0 and plus else groups[i].start
                yield Finding(
                    kind, start, groups[j - 1].end, "".join(g.digits for g in groups[i:j])
                )
                i = j
                break
        else:
            i += 1


def find_sensitive(text: str, *, emails: bool = False) -> list[Finding]:
    """Every sensitive span of `text`, in order, none overlapping."""
    if not text:
        return []
    # Every stored text passes here: the word-led patterns run only when one of their words
    # is there at all (a search for a few words is far cheaper than the patterns).
    # Substring tests in C: a regex scan of a long text costs several times more. (Numbers
    # are read in ASCII digits; other scripts' digits pass as they are.)
    digits = any(digit in text for digit in "0123456789")
    low = text.lower()
    password = "парол" in low or "pass" in low
    if not (digits or emails or password):
        return []
    found: list[Finding] = []
    if password:
        found.extend(
            Finding(Kind.CODE, m.start(1), m.end(1), "") for m in _PASSWORD_RE.finditer(text)
        )
    if emails and "@" in text:
        found.extend(Finding(Kind.EMAIL, m.start(), m.end(), "") for m in _EMAIL_RE.finditer(text))
    if not digits:
        return _without_overlaps(found)
    if _PASSPORT_HINTS.search(low):
        found.extend(
            Finding(Kind.PASSPORT, m.start(1), m.end(2), m.group(1) + m.group(2))
            for m in _PASSPORT_WORDS_RE.finditer(text)
        )
    if _CODE_HINTS.search(low):
        found.extend(
            Finding(Kind.CODE, m.start(1), m.end(1), m.group(1)) for m in _CODE_RE.finditer(text)
        )
    # Numbers inside what the words above already found are theirs.
    taken = list(found)
    found.extend(
        finding
        for run in _RUN_RE.finditer(text)
        for finding in _run_findings(text, run)
        if not _overlaps(finding, taken)
    )
    return _without_overlaps(found)


def _overlaps(finding: Finding, others: list[Finding]) -> bool:
    return any(finding.start < o.end and o.start < finding.end for o in others)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def placeholder(finding: Finding, *, keep_tail: bool) -> str:
    """The masked form: the last four digits of a card or account stay (as on a receipt)."""
    if keep_tail and finding.kind in (Kind.CARD, Kind.ACCOUNT):
        return f"[{finding.kind.value} *{finding.digits[-4:]}]"
    return f"[{finding.kind.value}]"


# The placeholders `placeholder` writes, read back: what a reader sees of them is worded in
# their language at display time (`relabel`); stored and logged texts keep these forms.
_PLACEHOLDER_RE = re.compile(
    r"\[(" + "|".join(kind.value for kind in Kind) + r")(?: \*(\d{4}))?\]"
)


def relabel(text: str, label: Callable[[Kind], str]) -> str:
    """`text` with each placeholder's word replaced by `label(kind)`: "[card *9014]" reads
    "[карта *9014]" for a Russian reader. Other bracketed text is left as it is."""
    if "[" not in text:
        return text

    def worded(match: re.Match[str]) -> str:
        word = label(Kind(match.group(1)))
        tail = match.group(2)
        return f"[{word} *{tail}]" if tail else f"[{word}]"

    return _PLACEHOLDER_RE.sub(worded, text)


def _apply(text: str, found: list[Finding], *, keep_tail: bool) -> str:
    out, position = [], 0
    for finding in found:
        out.append(text[position : finding.start])
        out.append(placeholder(finding, keep_tail=keep_tail))
        position = finding.end
    out.append(text[position:])
    return "".join(out)


def mask(
    text: str,
    *,
    keep_tail: bool = True,
    emails: bool = False,
    only: frozenset[Kind] | None = None,
) -> Masked:
    """`text` with every sensitive span (of the kinds `only` names, if given) replaced by a
    placeholder such as "[passport]"."""
    found = find_sensitive(text, emails=emails)
    if only is not None:
        found = [f for f in found if f.kind in only]
    if not found:
        return Masked(text, frozenset())
    return Masked(_apply(text, found, keep_tail=keep_tail), frozenset(f.kind for f in found))


def mask_text(text: str | None) -> str | None:
    """The stored form of a person's text (None stays None)."""
    if not text:
        return text
    found = find_sensitive(text)
    return _apply(text, found, keep_tail=True) if found else text


def scrub_log_line(line: str) -> str:
    """A log line with sensitive data masked, its ids left alone.

    Log lines carry update, user, chat and message ids: bare numbers of up to twelve digits
    (or negative chat ids) are kept, whatever else they might look like. A card number, a
    grouped phone or passport, anything after a "+" is masked all the same.
    """
    kept = []
    for finding in find_sensitive(line):
        bare = line[finding.start : finding.end].isdigit()
        negative = finding.start > 0 and line[finding.start - 1] == "-"
        if finding.kind is Kind.NUMBER or (bare and (len(finding.digits) <= 12 or negative)):
            continue
        kept.append(finding)
    return _apply(line, kept, keep_tail=False) if kept else line
