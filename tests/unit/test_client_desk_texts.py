"""Every reason a use case can give has a text, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from common.i18n import Catalog
from concierge.request_access import Refusal

CATALOGUE_CODE = Path(__file__).resolve().parents[2] / "concierge" / "catalogue.py"


def test_refusals_and_invalid_answers_have_texts_in_both_languages() -> None:
    catalog = Catalog.load()
    ru, en = catalog.keys("ru"), catalog.keys("en")
    assert ru == en
    assert {f"requests.refused.{r.value}" for r in Refusal} <= ru
    reasons = set(re.findall(r'InvalidAnswer\(\s*"(\w+)"', CATALOGUE_CODE.read_text()))
    assert reasons and {f"services.invalid.{r}" for r in reasons} <= ru
    assert {"requests.escalated_client.1", "requests.escalated_client.2"} <= ru
