"""User-visible texts from locale files (Russian default, English), with HTML-safe formatting."""

from __future__ import annotations

import functools
import html
import logging
import string
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml

from common.sensitive import relabel

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

log = logging.getLogger(__name__)

# Dates as people read them in both languages the assistant speaks: day first, the way every
# time on the desk and in the bot is written ("05.12.2026 19:00"). ISO dates stay in stored
# data and in what integrations read (the brief's JSON), never in what a person reads.
DATE_FORMAT = "%d.%m.%Y"
# A moment as people read it, in both languages (the bot, the desk, the CSV in Russian).
DATE_TIME_FORMAT = f"{DATE_FORMAT} %H:%M"


def show_date(day: date | None, empty: str = "") -> str:
    """A date as a person reads it (a datetime shows its own calendar day)."""
    return day.strftime(DATE_FORMAT) if day is not None else empty


def local_time(moment: datetime, timezone: str) -> str:
    """A stored (UTC) moment as read in `timezone`."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(DATE_TIME_FORMAT)


def show_iso_date(value: str) -> str:
    """An ISO date carried as text (a reason's parameter) as a person reads it; any other
    text (a "05.12" birthday) is left as it is."""
    try:
        return show_date(date.fromisoformat(value))
    except ValueError:
        return value


@dataclass(frozen=True)
class Raw:
    """A value that is already safe HTML (built from our own templates), not to be escaped."""

    html: str

    def __str__(self) -> str:
        return self.html


def plural_form(count: int, forms: list[str]) -> str:
    """The word for `count`: Russian takes three forms (год, года, лет), English two."""
    if len(forms) == 2:
        return forms[0] if count == 1 else forms[1]
    one, few, many = forms
    tens, units = count % 100, count % 10
    if units == 1 and tens != 11:
        return one
    if 2 <= units <= 4 and not 12 <= tens <= 14:
        return few
    return many


class _TextFormatter(string.Formatter):
    """str.format plus `{n:plural:год|года|лет}`, which renders "4 года": a count and its
    word agree in every language, whatever the number."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec.startswith("plural:"):
            count = int(value)
            return f"{count} {plural_form(count, format_spec[len('plural:') :].split('|'))}"
        return super().format_field(value, format_spec)


_FORMATTER = _TextFormatter()


class Text(str):
    """A locale template: `format` understands the plural spec, whoever calls it."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        return _FORMATTER.vformat(self, args, kwargs)


def _flatten(prefix: str, node: Any, into: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into)
    else:
        into[prefix] = str(node)


class Catalog:
    """All texts of all languages; one YAML file per feature, keys prefixed by the file name."""

    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        self._texts = {
            language: {key: Text(value) for key, value in flat.items()}
            for language, flat in texts.items()
        }

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Catalog:
        texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            flat: dict[str, str] = {}
            for path in sorted((directory / language).glob("*.yaml")):
                _flatten(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")) or {}, flat)
            texts[language] = flat
        return cls(texts)

    @classmethod
    def shared(cls) -> Catalog:
        """The locale files as loaded once per process: the app, scheduler jobs and the CLI
        share one copy (a load parses every YAML file; the first client request used to pay
        a second one)."""
        return _shared_catalog()

    def keys(self, language: str) -> set[str]:
        return set(self._texts.get(language, {}))

    def template(self, language: str, key: str) -> Text:
        found = self._texts.get(language, {}).get(key)
        if found is None:
            found = self._texts[DEFAULT_LANGUAGE].get(key)
        if found is None:
            log.error("missing text %s", key)
            return Text(key)
        return found

    def translator(self, language: str) -> Translator:
        return Translator(self, language if language in LANGUAGES else DEFAULT_LANGUAGE)


class Translator:
    """Renders a text in one language; every argument is HTML-escaped unless wrapped in Raw,
    and the sensitive-data placeholders in it are worded in that language."""

    def __init__(self, catalog: Catalog, language: str) -> None:
        self.catalog = catalog
        self.language = language

    def __call__(self, key: str, **kwargs: Any) -> str:
        safe = {k: self._shown(v) for k, v in kwargs.items()}
        return self.catalog.template(self.language, key).format(**safe)

    def localize_masks(self, text: str) -> str:
        """A stored (masked) text as this reader sees it: "[card *9014]" reads "[карта *9014]"
        in Russian. For texts sent without a template (a relayed message, a caption)."""
        return localize_masks(text, self.language, self.catalog)

    def _shown(self, value: Any) -> Any:
        # Every person's text shown in a message passes here as an argument: the one place
        # the bot words placeholders for its reader. Raw values were built by this class.
        if isinstance(value, Raw):
            return value.html
        if isinstance(value, str):
            return html.escape(self.localize_masks(value), quote=False)
        return value


class MaskLabels(Protocol):
    """Where the words for placeholders come from (Catalog fits, as does any text source
    with the same `template`)."""

    def template(self, language: str, key: str) -> str: ...


def localize_masks(text: str, language: str, texts: MaskLabels | None = None) -> str:
    """`text` with the neutral placeholders of `common.sensitive` ("[card *9014]",
    "[passport]") worded in `language` from the locale files (`sensitive.mask.<kind>`).

    Only for what a person reads: stored and logged texts keep the neutral forms, which
    every language shares and the CRM, exports and searches see alike.
    """
    source = texts if texts is not None else Catalog.shared()
    return relabel(text, lambda kind: source.template(language, f"sensitive.mask.{kind.value}"))


@functools.lru_cache(maxsize=1)
def _shared_catalog() -> Catalog:
    return Catalog.load()
