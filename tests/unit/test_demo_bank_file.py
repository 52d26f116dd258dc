"""The demo bank's data file validates; the schema refuses what the loader could not load."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from concierge.catalogue import default_catalogue
from crm_adapter.demo.spec import BANK_FILE, demo_bank


def test_the_shipped_file_validates_and_holds_the_bank_the_readme_promises() -> None:
    bank = demo_bank()
    assert len(bank.clients) == 32
    assert len(bank.staff) == 7
    personas = {p.external_id for p in bank.personas}
    assert personas == {
        "C-0001", "C-0002", "C-0003", "C-0004", "C-0005",
        "S-0001", "S-0002", "S-0005", "S-0006", "S-0007",
    }  # fmt: skip
    clients = {c.external_id: c for c in bank.clients}
    assert "churn" in clients["C-0001"].traits and clients["C-0001"].manager_change
    meeting = clients["C-0002"].upcoming_meeting
    assert meeting is not None and meeting.days_ahead == 0  # in about two hours
    assert "birthday_0" in clients["C-0003"].traits
    assert (clients["C-0004"].timezone, clients["C-0004"].language) == ("Asia/Dubai", "en")
    assert clients["C-0005"].holding_group is not None
    duty = next(s for s in bank.staff if s.roles == "duty")
    # Quoted in the file: YAML 1.1 would read an unquoted 21:00 as the number 1260.
    assert (duty.work_start, duty.work_end) == (time(21, 0), time(9, 0))


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(BANK_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _set_manager(data: dict[str, Any]) -> None:
    data["clients"][0]["manager"] = "S-9999"


def _unknown_field(data: dict[str, Any]) -> None:
    data["clients"][0]["favourite_colour"] = "blue"


def _churn_without_change(data: dict[str, Any]) -> None:
    del data["clients"][0]["manager_change"]


def _unknown_audience(data: dict[str, Any]) -> None:
    data["events"][0]["audience"] = {"hobbies": ["golf"]}


def _unknown_guest(data: dict[str, Any]) -> None:
    data["events"][0]["invitations"]["C-9999"] = "sent"


def _duplicate_client(data: dict[str, Any]) -> None:
    data["clients"].append(data["clients"][0])


def _segment_without_weights(data: dict[str, Any]) -> None:
    del data["history"]["channel_weights"]["technophile"]


def _unknown_trait(data: dict[str, Any]) -> None:
    data["clients"][1]["traits"] = ["lucky"]


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (_set_manager, "manager of C-0001: S-9999"),
        (_unknown_field, "favourite_colour"),
        (_churn_without_change, "needs a manager_change"),
        (_unknown_audience, "unknown audience keys"),
        (_unknown_guest, "C-9999"),
        (_duplicate_client, "listed twice"),
        (_segment_without_weights, "every values segment"),
        (_unknown_trait, "lucky"),
    ],
)
def test_a_broken_file_is_refused_with_what_is_wrong(
    breaks: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    data = _raw()
    breaks(data)
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        demo_bank(path)


def test_every_demo_request_is_of_a_catalogue_service_with_its_fields() -> None:
    # Codes outside the catalogue were shown raw on the desk's queue ("fx_exchange").
    catalogue = default_catalogue()
    for client in demo_bank().clients:
        for request in client.requests:
            service = catalogue.get(request.service)
            assert service is not None, (client.external_id, request.service)
            fields = {step.field for step in service.steps}
            assert set(request.details or ()) <= fields, (client.external_id, request.details)
