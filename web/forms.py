"""Reading submitted forms: every value is checked again, nothing from a form is trusted."""

from __future__ import annotations

from collections.abc import Mapping

from web.security import Refused


def form_text(form: Mapping[str, object], name: str, *, limit: int) -> str:
    """The field's text, trimmed; a longer one is refused with a clear answer, never cut."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise Refused(413, "web.error.too_long", length=len(text), limit=limit)
    return text


def form_int(form: Mapping[str, object], name: str) -> int | None:
    value = form.get(name)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        return int(value.strip())
    return None
