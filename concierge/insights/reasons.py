"""Why an insight fired: `Reason`s (a text key plus the numbers behind it) and how they read.

A manager sees every segment, risk and offer with its reasons, in ru or en; the numbers are
formatted here once so the card, the brief and the watchlist show them alike.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from common.i18n import localize_masks, show_iso_date


@dataclass(frozen=True)
class Reason:
    """Why a rule fired: `manager.reason.<code>` in the locale files, filled with `params`."""

    code: str
    params: dict[str, str | int | float] = field(default_factory=dict)


class Templates(Protocol):
    """Where reason texts come from (common.i18n.Catalog fits)."""

    def template(self, language: str, key: str) -> str: ...
    def keys(self, language: str) -> set[str]: ...


# Reason parameters holding CRM codes are shown by their localised label (param -> group).
CODED_PARAMS = {"channel": "channel", "status": "rsvp", "kind": "feedback_kind"}
# Reason parameters holding an ISO date: kept so for integrations (the brief's JSON), shown
# day first.
DATE_PARAMS = frozenset({"date", "since"})


def label(texts: Templates, language: str, group: str, code: str) -> str:
    """The localised name of a CRM code; an unknown code is shown as it is."""
    key = f"manager.{group}.{code}"
    return texts.template(language, key) if key in texts.keys(language) else code


def segment_label(texts: Templates, language: str, code: str | None) -> str:
    """A client's financial segment as staff read it in a message header ("—" when none)."""
    return label(texts, language, "segment", code) if code else "—"


def explain(reason: Reason, texts: Templates, language: str, *, escape: bool = True) -> str:
    """The reason in plain language; escaped for HTML unless rendering Markdown or a terminal."""
    params: dict[str, str | int | float] = {}
    for k, v in reason.params.items():
        group = CODED_PARAMS.get(k)
        value = label(texts, language, group, v) if group and isinstance(v, str) else v
        if k in DATE_PARAMS and isinstance(value, str):
            value = show_iso_date(value)
        if isinstance(value, str):
            # A note or a request's summary quoted in a reason: its placeholders in words.
            value = localize_masks(value, language, texts)
            if escape:
                value = html.escape(value, quote=False)
        params[k] = value
    return texts.template(language, f"manager.reason.{reason.code}").format(**params)


def money(amount: Decimal) -> str:
    """Whole roubles with thin grouping, as a manager reads them: 12 500 000."""
    return f"{amount:,.0f}".replace(",", " ")


def percent(share: float) -> int:
    """A 0..1 share as whole percent."""
    return round(share * 100)
