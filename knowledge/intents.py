"""Recognises two signals in a question: asking for a person, and interest in a product."""

from __future__ import annotations

import re

from knowledge.text import normalize

# Wording clients use to ask for a human; matched on normalised text (ё folded into е).
_PERSON = r"(менеджер\w*|человек\w*|оператор\w*|сотрудник\w*|специалист\w*|консультант\w*)"
_MANAGER_PATTERNS = [
    # "поговорить/связаться с менеджером": the person follows "с", so "пожаловаться на
    # менеджера" (a complaint about one) does not count.
    r"\b(поговорить|связаться|соедините|свяжите|переключите|общаться)\b.{0,25}\bс(о)?\s+"
    r"(\w+\s+){0,2}" + _PERSON,
    r"\b(позовите|позвать|дайте|нужен|нужна|пригласите)\s+(\w+\s+){0,2}" + _PERSON,
    r"\b(менеджер\w*|человек\w*|оператор\w*)\b.{0,20}\b(позвон\w*|свяж\w*|перезвон\w*)",
    r"\bперезвоните\b",
    r"\bживой\s+(человек|собеседник|оператор)",
    r"\b(talk|speak|chat)\b.{0,25}\b(manager|human|person|someone|advis[eo]r|banker|agent)\b",
    r"\b(call|connect|get)\b.{0,20}\b(my|a|the)\s+(manager|human|person|banker|advis[eo]r)\b",
    r"\b(real|live)\s+(person|human|agent)\b",
    r"\bcall me( back)?\b",
    # Moving or cancelling an appointment is for the manager to act on, never for the
    # documents to answer (they only say how to book one).
    r"\b(перенести|перенесем|перенос\w*|отменить|отмените|сдвинуть)\b.{0,25}"
    r"\b(встреч\w*|звонок|звонка|созвон\w*|визит\w*)",
    r"\b(reschedule|postpone|cancel|move)\b.{0,25}\b(meeting|appointment|call|visit)\b",
]
_MANAGER_RE = re.compile("|".join(f"(?:{p})" for p in _MANAGER_PATTERNS), re.IGNORECASE)

# Phrases that turn a product mention into a buying signal rather than a service question.
_INTEREST_RE = re.compile(
    r"\b(хочу|хотел\w*|хотим|интерес\w*|рассматрива\w*|планиру\w*|подумыва\w*|присматрива\w*|"
    r"собира\w*|вложить\w*|вложиться|инвестировать|разместить|оформить|открыть|подключить|"
    r"подобрать|предложите|посоветуйте|interested|interest in|would like|i'd like|want to|"
    r"planning|considering|thinking (of|about)|looking (for|to)|invest|open an?|sign up)\b",
    re.IGNORECASE,
)

# Product families by stem-like fragments; the first family whose fragment occurs wins.
FAMILY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "investments": (
        "инвест",
        "вложит",
        "вложиться",
        "акци",
        "облигац",
        "брокер",
        "пиф",
        "паев",
        "фонд",
        "доверительн",
        "структурн",
        "альтернатив",
        "портфел",
        "invest",
        "brokerage",
        "stock",
        "bond",
        "mutual fund",
        "trust management",
        "structured",
        "alternative",
        "portfolio",
    ),
    "deposits": ("вклад", "депозит", "накопит", "сберегат", "deposit", "savings"),
    "insurance": ("страхов", "полис", "insurance", "policy"),
    "credit": ("кредит", "заем", "займ", "овердрафт", "credit line", "loan", "overdraft"),
    "cards": ("карт", "кэшбэк", "кешбэк", "card", "cashback"),
    "fx": ("валют", "обмен валют", "конверс", "currency", "exchange rate", "fx"),
    "inheritance": (
        "наследств",
        "наследн",
        "завещан",
        "преемствен",
        "семейн капитал",
        "семейного капитала",
        "inheritance",
        "succession",
        "estate planning",
        "heirs",
    ),
    "safe_box": ("ячейк", "сейф", "safe deposit", "safe box"),
}


def asks_for_manager(question: str) -> bool:
    """Whether the client asks to be put through to a person."""
    return bool(_MANAGER_RE.search(normalize(question)))


def family_mentioned(question: str) -> str | None:
    """The product family a question names, if any."""
    text = normalize(question)
    for family, fragments in FAMILY_KEYWORDS.items():
        for fragment in fragments:
            if re.search(rf"\b{re.escape(fragment)}", text):
                return family
    return None


def interest_family(question: str, *, fallback_family: str | None = None) -> str | None:
    """The product family a question shows buying interest in, or None for a plain question.

    `fallback_family` (the family of the best matching document) is used when the client
    shows intent but names the product in words we have no keyword for.
    """
    if not _INTEREST_RE.search(normalize(question)):
        return None
    return family_mentioned(question) or (fallback_family or None)
