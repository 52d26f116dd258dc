"""What may go to a chat model and what may come back from it.

In: the question with personal data masked (the numbers `common.sensitive` finds, e-mails,
the client's own names and their Latin spellings, full names told by a patronymic or
initials, Latin-script names the documents do not use), and document attributes escaped so
that no title or heading can close the fence around the context.

Out: a generated answer is refused when it asks for credentials or card data, or when it
carries a link, e-mail or phone number that the passages it cites do not contain. A model
that obeys text injected into a document would otherwise send a client to a phishing page
in the bank's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from common.sensitive import Kind, find_sensitive, mask
from common.translit import to_latin

NAME = "[name]"

# --- in: masking --------------------------------------------------------------------------

_CYR_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
# Patronymics in any case: Петрович, Петровича, Петровичем; Сергеевна, Сергеевной; Ильич.
_PATRONYMIC = r"[А-ЯЁ][а-яё]+(?:(?:ович|евич|ьич)(?:а|у|ем|е)?|(?:овн|евн|ичн)(?:а|ы|е|у|ой))"
_FULL_NAME_RE = re.compile(
    rf"(?<![\w])(?:{_CYR_WORD}\s+){{0,2}}{_PATRONYMIC}(?:\s+{_CYR_WORD})?(?![\w])"
)
# "Петров И. П." and "И.П. Петров".
_INITIALS_RE = re.compile(
    rf"(?<![\w])(?:{_CYR_WORD}\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?{_CYR_WORD})"
)
_LATIN_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_LATIN_NAME_RE = re.compile(rf"(?<![\w])({_LATIN_WORD})((?:\s+{_LATIN_WORD}){{1,2}})(?![\w])")
_HONORIFIC_RE = re.compile(
    rf"(?<![\w])(?:Mr|Mrs|Ms|Miss|Dr|Sir|Madam|Mme|Herr|Frau)\.?\s+{_LATIN_WORD}"
    rf"(?:\s+{_LATIN_WORD})?"
)
_INTRODUCTION_RE = re.compile(
    r"(?i)(меня зовут|моё имя|мое имя|my name is|i am|i'm)\s+"
    r"((?-i:[A-ZА-ЯЁ])[\w'-]+(?:\s+(?-i:[A-ZА-ЯЁ])[\w'-]+){0,2})"
)
# Capitalised Latin words that are products and places, not people (also when the
# retrieved passages happen not to mention them).
_NOT_NAMES = frozenset(
    {
        "visa", "mastercard", "maestro", "mir", "unionpay", "american", "express", "infinite",
        "signature", "platinum", "gold", "black", "world", "elite", "premium", "private",
        "banking", "priority", "pass", "lounge", "key", "apple", "google", "samsung", "pay",
        "swift", "iban", "new", "york", "united", "kingdom", "states", "arab", "emirates",
        "dubai", "london", "paris", "moscow", "hong", "kong", "the", "my", "i", "a", "an",
        "please", "hello", "dear", "thanks", "thank", "you", "what", "how", "can", "is",
        "do", "does", "which", "when", "where", "why", "card", "account", "deposit", "bank",
    }
)  # fmt: skip

# Other spellings passports and cards carry: Iurii / Yuriy, Khabarov / Habarov, Sergei.
_OTHER_SPELLINGS = (("yu", "iu"), ("ya", "ia"), ("kh", "h"), ("ts", "tz"), ("y", "i"))


def latin_spellings(name: str) -> set[str]:
    """How a Cyrillic name is written in Latin letters (passport style and older styles)."""
    spellings = {to_latin(name)}
    for old, new in _OTHER_SPELLINGS:
        spellings |= {s.replace(old, new) for s in spellings}
    return {s for s in spellings if s and s != name.lower()}


def words_of(texts: Iterable[str]) -> frozenset[str]:
    """The lowercase words of the passages, so names they use (products) are not masked."""
    return frozenset(w.lower() for text in texts for w in re.findall(r"[^\W\d_]+", text))


def _latin_name(match: re.Match[str], known_words: frozenset[str]) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", match.group(0))]
    if any(w in _NOT_NAMES or w in known_words for w in words):
        return match.group(0)
    return NAME


def mask_personal_data(
    text: str, *, names: Sequence[str] = (), known_words: frozenset[str] = frozenset()
) -> str:
    """The question as a model may see it: personal data replaced with placeholders.

    `names` are the person's own (any case ending and their Latin spellings are masked too);
    `known_words` are the words of the documents, which are not taken for names.
    """
    masked = mask(text, keep_tail=False, emails=True).text
    masked = _INTRODUCTION_RE.sub(lambda m: f"{m.group(1)} {NAME}", masked)
    masked = _HONORIFIC_RE.sub(NAME, masked)
    masked = _INITIALS_RE.sub(NAME, masked)
    masked = _FULL_NAME_RE.sub(NAME, masked)
    spellings = {n.strip() for n in names if n.strip()}
    spellings |= {latin for n in list(spellings) for latin in latin_spellings(n)}
    for name in sorted(spellings, key=len, reverse=True):
        masked = re.sub(rf"(?<!\w){re.escape(name)}\w*", NAME, masked, flags=re.IGNORECASE)
    return _LATIN_NAME_RE.sub(lambda m: _latin_name(m, known_words), masked)


def fence_attribute(value: str) -> str:
    """A document title or heading as a quoted attribute of the context fence: no quote,
    angle bracket or line break in it can end the attribute or the tag."""
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "‹")
        .replace(">", "›")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def fence_body(value: str) -> str:
    """Text inside a fence: angle brackets could open or close tags of their own."""
    return value.replace("<", "‹").replace(">", "›")


# --- out: what a generated answer may say ---------------------------------------------------

_URL_RE = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"')\]]+|"
    r"\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,24}|рф)(?:/[^\s<>\"')\]]*)?(?![\w@])",
)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# What the bank never asks for in a chat.
_CREDENTIAL_RE = re.compile(
    r"(?i)(cvv2?|cvc2?|\bpin\b|пин|код\w*\s+из\s+(?:смс|sms)|(?:смс|sms)[\s-]*код|"
    r"sms\s+code|code\s+from\s+(?:the\s+)?sms|one[\s-]?time\s+(?:code|password)|"
    r"парол|password|passcode|кодов\w+\s+слов|code\s+word|secret\s+word|"
    r"номер\w*\s+(?:вашей\s+|своей\s+)?карт|card\s+number|full\s+card|"
    r"срок\w*\s+действия|expiry|expiration\s+date|данные\s+карт|card\s+details|"
    r"логин|login\s+details|credentials|паспортн\w+\s+данн|passport\s+(?:number|details))"
)
_REQUEST_RE = re.compile(
    r"(?i)(сообщ|назов|пришл|присыл|отправ|введ|укаж|напиш|продикт|подтверд|перейд|"
    r"заполн|provide|send|share|enter|tell|type|confirm|submit|reply\s+with|give|fill|"
    r"verify|follow|click|visit)"
)
# A warning never to give them, which bank documents rightly repeat. Only these forms count:
# "не забудьте отправить CVV" holds a "не" too.
_WARNING_RE = re.compile(
    r"(?i)(никогда|никому|нельзя|запрещ|"
    r"\bне\s+(?:сообщ|назыв|назов|переда|отправл|отправ|присыл|пересыл|вв[оеё]д|пиш|"
    r"диктуй|говор|показыв|давай|раскрыв|ввод)|"
    r"\bnever\b|\bno\s+one\b|\bnobody\b|"
    r"\b(?:do\s+not|don't|must\s+not|should\s+not)\s+"
    r"(?:share|send|give|tell|enter|disclose|reveal|provide|type))"
)
# Which card, by the digits every receipt shows, is fine to ask.
_LAST_DIGITS_RE = re.compile(
    r"(?i)(последн\w+\s+(?:4|четыре)\s+цифр\w*(?:\s+номера)?(?:\s+карты)?|"
    r"last\s+(?:4|four)\s+digits(?:\s+of\s+(?:the|your)\s+card(?:\s+number)?)?)"
)
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")


def asks_for_credentials(answer: str) -> bool:
    """Whether a sentence asks the reader for card data or credentials (a warning never to
    share them does not count)."""
    sentences = (_LAST_DIGITS_RE.sub(" ", s) for s in _SENTENCE_RE.findall(answer))
    return any(
        _CREDENTIAL_RE.search(s) and _REQUEST_RE.search(s) and not _WARNING_RE.search(s)
        for s in sentences
    )


def _host_and_path(url: str) -> str:
    url = re.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", url).rstrip(".,;:!?")
    return url.lower()


def foreign_contacts(answer: str, passages: Sequence[str]) -> list[str]:
    """Links, e-mails and phone numbers in `answer` that none of `passages` contains, by kind
    (never their values: the caller logs them)."""
    source = "\n".join(passages)
    source_lower = source.lower()
    known_urls = {_host_and_path(u) for u in _URL_RE.findall(source)}
    foreign = ["email" for e in _EMAIL_RE.findall(answer) if e.lower() not in source_lower]
    for url in _URL_RE.findall(_EMAIL_RE.sub(" ", answer)):
        wanted = _host_and_path(url).rstrip("/")
        if not any(known.startswith(wanted) for known in known_urls):
            foreign.append("url")
    source_phones = {_last_ten(f.digits) for f in find_sensitive(source) if f.kind is Kind.PHONE}
    foreign.extend(
        "phone"
        for f in find_sensitive(answer)
        if f.kind is Kind.PHONE and _last_ten(f.digits) not in source_phones
    )
    return foreign


def _last_ten(digits: str) -> str:
    # +7 916…, 8 916… and 916… are one number.
    return digits[-10:]


def refusal(answer: str, passages: Sequence[str]) -> str | None:
    """Why a generated answer must not reach a client, or None when it may."""
    if asks_for_credentials(answer):
        return "asks_for_credentials"
    foreign = foreign_contacts(answer, passages)
    if foreign:
        return "foreign_" + "_".join(sorted(set(foreign)))
    return None
