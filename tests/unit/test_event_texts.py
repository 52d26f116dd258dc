"""The events texts: both languages take the same placeholders, so no rendering can fail."""

from __future__ import annotations

import string

from common.i18n import Catalog


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_events_texts_have_the_same_placeholders_in_russian_and_english() -> None:
    catalog = Catalog.load()
    keys = {k for k in catalog.keys("ru") if k.startswith("events.")}
    assert keys == {k for k in catalog.keys("en") if k.startswith("events.")}
    for key in sorted(keys):
        ru, en = catalog.template("ru", key), catalog.template("en", key)
        assert _fields(ru) == _fields(en), key


def test_yes_and_no_are_texts_not_yaml_booleans() -> None:
    # Regression: `yes:` and `no:` as YAML keys load as True/False and the buttons lost
    # their labels.
    keys = Catalog.load().keys("ru")
    assert "events.btn.answer_yes" in keys
    assert not any(k.endswith((".True", ".False")) for k in keys)
