"""Finding a client by name despite typos and Cyrillic/Latin spelling (Volkov, Волкв, Valkov)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from common.translit import to_latin
from crm_adapter.dto import Client

__all__ = ["Match", "find_clients", "to_cyrillic", "to_latin"]

# The reverse direction reads digraphs first; letters Russian lacks get their usual stand-ins.
_LAT_TO_CYR = {
    "shch": "щ", "zh": "ж", "kh": "х", "ts": "ц", "ch": "ч", "sh": "ш", "yu": "ю",
    "ya": "я", "yo": "ё", "ye": "е", "a": "а", "b": "б", "v": "в", "g": "г", "d": "д",
    "e": "е", "z": "з", "i": "и", "y": "й", "k": "к", "l": "л", "m": "м", "n": "н",
    "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у", "f": "ф", "h": "х",
    "c": "к", "j": "й", "w": "в", "x": "кс", "q": "к",
}  # fmt: skip
_LAT_PATTERN = re.compile("|".join(sorted(_LAT_TO_CYR, key=len, reverse=True)))

# Below this a match is noise; "Valkov" scores 83 against "Volkov", "Morozova" about 40.
MIN_SCORE = 75.0


def to_cyrillic(text: str) -> str:
    lowered = text.lower()
    # A final "y" after a vowel is й (Sergey); after a consonant the ending is ы/ий ambiguity,
    # which the fuzzy comparison absorbs.
    return _LAT_PATTERN.sub(lambda m: _LAT_TO_CYR[m.group(0)], lowered)


def _tokens(text: str) -> list[str]:
    # German-style spellings (Wolkow) are common in foreign documents: w reads as v.
    latin = to_latin(text).replace("w", "v")
    return [t for t in re.split(r"[^\w]+", latin) if t]


@dataclass(frozen=True)
class Match:
    client: Client
    score: float


def _score(query_tokens: list[str], client: Client) -> float:
    names = _tokens(
        " ".join(p for p in (client.last_name, client.first_name, client.middle_name) if p)
    )
    if not names:
        return 0.0
    # Each word of the query finds its best name part; the weakest word bounds the match.
    per_word = [max(fuzz.ratio(q, n) for n in names) for q in query_tokens]
    return min(per_word)


def find_clients(query: str, clients: Iterable[Client], *, limit: int = 10) -> list[Match]:
    """Clients matching `query` best first; an external id or #id matches exactly."""
    text = query.strip()
    pool = list(clients)
    if not text:
        return []
    exact = [c for c in pool if text.lower() in (c.external_id.lower(), f"#{c.id}")]
    if exact:
        return [Match(c, 100.0) for c in exact]
    # Comparing in Latin covers both scripts: Cyrillic queries and names are romanised alike.
    tokens = _tokens(text)
    if not tokens:
        return []
    scored = [Match(c, _score(tokens, c)) for c in pool]
    found = [m for m in scored if m.score >= MIN_SCORE]
    found.sort(key=lambda m: (-m.score, m.client.last_name, m.client.id))
    return found[:limit]
