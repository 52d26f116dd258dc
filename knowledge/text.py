"""Language-aware text helpers shared by BM25, answer condensing and intent detection."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import snowballstemmer

Language = Literal["ru", "en"]

_WORD_RE = re.compile(r"[0-9a-zа-я]+(?:[-'][0-9a-zа-я]+)*", re.IGNORECASE)
_CYRILLIC_RE = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN_RE = re.compile(r"[a-z]", re.IGNORECASE)
# Sentence ends: punctuation followed by a space and a capital/digit/quote, or a line break.
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+(?=[«\"(A-ZА-ЯЁ0-9])|\n+")

# Function words carry no topical signal; dropping them keeps BM25 and sentence scoring honest.
_STOPWORD_TEXT = """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни
    быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где
    есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж
    тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
    сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше
    тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой
    перед иногда лучше чуть том нельзя такой им более всегда конечно всю между это мой мои
    какие каком какая какой сколько скажите подскажите пожалуйста мы нам наш наши
    the a an and or of to in on for with is are was were be been it this that these those
    what which who how do does did can could would should i me my we our you your at by from
    as if about into there their them they he she his her its not no yes please tell
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def normalize(text: str) -> str:
    """Lower-case and fold ё into е, as Russian users and documents mix them freely."""
    return text.lower().replace("ё", "е")


def detect_language(text: str, default: Language = "ru") -> Language:
    """Guess ru/en from the share of Cyrillic letters; `default` when there are no letters."""
    cyr = len(_CYRILLIC_RE.findall(text))
    lat = len(_LATIN_RE.findall(text))
    if cyr + lat == 0:
        return default
    # Russian speakers mix in Latin brand names (World Elite, Priority Pass); English speakers
    # almost never type Cyrillic, so a modest Cyrillic share already means Russian.
    return "ru" if cyr / (cyr + lat) >= 0.3 else "en"


@lru_cache(maxsize=2)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Stem one normalised word with the Russian or English Snowball stemmer by its script."""
    if _CYRILLIC_RE.search(word):
        return str(_stemmer("russian").stemWord(word))
    if _LATIN_RE.search(word):
        return str(_stemmer("english").stemWord(word))
    return word


def words(text: str) -> list[str]:
    """Normalised word tokens, stopwords included."""
    return _WORD_RE.findall(normalize(text))


def terms(text: str) -> list[str]:
    """Stemmed content terms: the unit BM25 and sentence scoring work on."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def split_sentences(text: str) -> list[str]:
    """Split a passage into sentences and list items, without Markdown bullet markers."""
    parts = []
    for raw in _SENTENCE_SPLIT_RE.split(text):
        sentence = raw.strip().lstrip("-*•").strip()
        if sentence.startswith("#") or not sentence:
            continue
        parts.append(sentence)
    return parts
