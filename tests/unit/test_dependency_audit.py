"""The dependency audit (.ci/dep_audit.py) counts what it checked and never passes the rest.

Regression test for issue 21: `pip-audit -r requirements.lock` skipped every pin on this
network and still said "No known vulnerabilities found". The services are faked here (our own
`_get`); the real ones are asked by `make audit`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "dep_audit.py"
LOCK = "alpha==1.0\nbeta==2.0\ngamma==3.0  # old\n"
LATEST = {"alpha": "1.0", "beta": "2.0", "gamma": "3.5"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dep_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _pypi(vulnerable: set[str]) -> Any:
    """OSV unreachable and per-release JSON refused, as on this network; project JSON served."""

    def get(url: str, body: bytes | None = None) -> tuple[int, Any]:
        if "osv.dev" in url:
            return 0, None
        parts = url.removeprefix("https://pypi.org/pypi/").split("/")
        if len(parts) == 3:
            return 404, None
        name = parts[0]
        vulns = [{"id": f"PYSEC-1-{name}", "fixed_in": []}] if name in vulnerable else []
        return 200, {"info": {"version": LATEST[name]}, "vulnerabilities": vulns}

    return get


def _run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    vulnerable: frozenset[str] = frozenset(),
) -> tuple[int, list[str]]:
    audit = _load()
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK)
    monkeypatch.setattr(audit, "_get", _pypi(set(vulnerable)))
    monkeypatch.setattr(audit, "ROOT", tmp_path)  # no Makefile pin, no accepted list
    (tmp_path / "Makefile").write_text("")
    monkeypatch.setattr(audit, "ACCEPTED", tmp_path / "accepted.json")
    monkeypatch.setattr(
        sys, "argv", ["dep_audit", "--lock", str(lock), "--cache", str(tmp_path / "c.json"), *args]
    )
    lines: list[str] = []
    monkeypatch.setattr("builtins.print", lambda *a, **_: lines.append(" ".join(map(str, a))))
    return audit.main(), lines


def test_the_audit_reports_how_many_pins_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(tmp_path, monkeypatch)
    summary = json.loads(lines[-1])
    assert (summary["pins"], summary["checked"], summary["unchecked"]) == (3, 2, 1)
    assert code == 0
    assert any(line.startswith("not checked gamma==3.0") for line in lines)
    assert any("1 NOT CHECKED" in line for line in lines)


def test_an_unchecked_pin_fails_the_strict_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _ = _run(tmp_path, monkeypatch, "--strict")
    assert code == 2


def test_a_known_vulnerability_fails_unless_accepted_for_that_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(tmp_path, monkeypatch, vulnerable=frozenset({"beta"}))
    assert code == 1 and any(line.startswith("VULNERABLE beta==2.0") for line in lines)
    (tmp_path / "accepted.json").write_text(
        json.dumps(
            {"beta==2.0": {"ids": ["PYSEC-1-beta"], "reason": "no fix", "review_by": "2999-01-01"}}
        )
    )
    code, lines = _run(tmp_path, monkeypatch, vulnerable=frozenset({"beta"}))
    assert code == 0 and any(line.startswith("ACCEPTED beta==2.0") for line in lines)


def test_the_real_lock_and_the_makefiles_torch_are_read() -> None:
    audit = _load()
    root = SCRIPT.parents[1]
    found = {
        p.name.lower(): p.version
        for p in audit.pins(root / "requirements.lock", root / "Makefile")
    }
    assert found["torch"] == "2.13.0" and found["aiogram"]
    assert (
        len(found)
        == len(
            [
                line
                for line in (root / "requirements.lock").read_text().splitlines()
                if "==" in line
            ]
        )
        + 1
    )
