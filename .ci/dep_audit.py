"""Audits every pin of requirements.lock (and the Makefile's torch) for known vulnerabilities.

`pip-audit -r requirements.lock` skipped every pin here and still printed "No known
vulnerabilities found": its service (PyPI's per-release JSON) is not reachable from this
network, and a skipped pin is not an error to it. This audit asks, per pin, the sources below
in order and counts a pin as checked only when one of them answered for that exact version:

1. OSV's batch query (osv.dev): per version, every advisory database.
2. PyPI's per-release JSON (/pypi/NAME/VERSION/json): its "vulnerabilities" field.
3. PyPI's project JSON (/pypi/NAME/json): its "vulnerabilities" are those of the latest
   release, so they answer for a pin only when the pin is that release.

It prints one line per finding, a summary, and a final JSON line. Exit status: 1 when a
pinned version has a known vulnerability not accepted in `.ci/dep-audit-accepted.json` (an
advisory with no fixed release yet, accepted for that exact pin with a reason and a date by
which to look again; past the date it fails again); 2 with --strict when any pin could not be
checked (no source answered for its version); else 0, with the unchecked pins counted and
named, never reported as free of vulnerabilities. Standard library only, so it runs before
`make install`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OSV_BATCH = "https://api.osv.dev/v1/querybatch"
PYPI = "https://pypi.org/pypi"
TIMEOUT = 20.0
CACHE_SECONDS = 24 * 3600
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


@dataclass
class Pin:
    name: str
    version: str
    source: str | None = None  # which service answered for this version
    vulns: list[str] = field(default_factory=list)
    note: str = ""


def pins(lock: Path, makefile: Path) -> list[Pin]:
    found = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match[1].lower()] = Pin(match[1], match[2])
    # The Makefile installs torch first, pinned, outside the lock.
    for match in re.finditer(r"install[^\n]*?\b(torch)==([\w.+-]+)", makefile.read_text()):
        found.setdefault(match[1], Pin(match[1], match[2]))
    return sorted(found.values(), key=lambda p: p.name.lower())


def _get(url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        method="POST" if body else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - fixed https URLs
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return 0, None


def _ids(vulns: list[dict[str, Any]]) -> list[str]:
    return sorted(
        str(v.get("id")) + (f" (fixed in {', '.join(v['fixed_in'])})" if v.get("fixed_in") else "")
        for v in vulns
        if not v.get("withdrawn")
    )


def ask_osv(all_pins: list[Pin]) -> str:
    """Fills in pins OSV answers for; returns how OSV answered (for the summary)."""
    queries = [
        {"package": {"name": p.name, "ecosystem": "PyPI"}, "version": p.version} for p in all_pins
    ]
    status, body = _get(OSV_BATCH, json.dumps({"queries": queries}).encode())
    if status != 200 or not isinstance(body, dict):
        return f"unreachable (HTTP {status or 'no connection'})"
    for pin, result in zip(all_pins, body.get("results", []), strict=False):
        pin.source = "osv"
        pin.vulns = sorted(str(v.get("id")) for v in result.get("vulns", []))
    return "answered"


def ask_pypi(pin: Pin, *, per_release: bool) -> tuple[int, int]:
    """Per-release JSON, else the project JSON when the pin is the latest release."""
    status = 0
    if per_release:
        status, body = _get(f"{PYPI}/{pin.name}/{pin.version}/json")
        if status == 200 and isinstance(body, dict):
            pin.source, pin.vulns = "pypi-release", _ids(body.get("vulnerabilities") or [])
            return status, 0
    project_status, project = _get(f"{PYPI}/{pin.name}/json")
    if project_status == 200 and isinstance(project, dict):
        latest = str(project.get("info", {}).get("version", ""))
        if latest == pin.version:
            pin.source, pin.vulns = "pypi-latest", _ids(project.get("vulnerabilities") or [])
        else:
            pin.note = f"latest is {latest}; no per-release data reachable"
    else:
        pin.note = f"PyPI answered HTTP {project_status or 'no connection'}"
    return status, project_status


ACCEPTED = ROOT / ".ci" / "dep-audit-accepted.json"


def _accepted(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _acceptance(accepted: dict[str, Any], pin: Pin) -> str | None:
    """The reason the pin's advisories are accepted, or None (unknown ids, lapsed date)."""
    entry = accepted.get(f"{pin.name.lower()}=={pin.version}")
    if not isinstance(entry, dict):
        return None
    ids = {v.split(" ")[0] for v in pin.vulns}
    if not ids <= set(entry.get("ids", [])):
        return None
    if time.strftime("%Y-%m-%d") > str(entry.get("review_by", "")):
        return None
    return f"{entry.get('reason', '')} Review by {entry['review_by']}."


def ask_pypi_all(missing: list[Pin]) -> str:
    """Asks PyPI for the pins OSV did not answer for; returns how per-release JSON answered."""
    if not missing:
        return "not asked"
    # One probe tells whether this network serves per-release JSON at all; if not, the other
    # pins go straight to the project JSON (half the requests).
    probe, _ = ask_pypi(missing[0], per_release=True)
    statuses = {probe}
    with ThreadPoolExecutor(max_workers=6) as pool:
        for status, _ in pool.map(
            lambda pin: ask_pypi(pin, per_release=probe == 200), missing[1:]
        ):
            if probe == 200:
                statuses.add(status)
    return "HTTP " + ", ".join(str(s or "no connection") for s in sorted(statuses))


def _save_cache(path: Path, fresh: dict[str, Any], checked: list[Pin], now: float) -> None:
    """Answers are kept a day: a developer's repeated `make test` asks PyPI once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {
        f"{p.name.lower()}=={p.version}": {
            "source": (p.source or "").removesuffix(" (cached)"),
            "vulns": p.vulns,
            "at": now,
        }
        for p in checked
        if not (p.source or "").endswith("(cached)")
    }
    path.write_text(json.dumps({**fresh, **kept}, indent=1, sort_keys=True))


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--strict", action="store_true", help="fail when a pin goes unchecked")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "dep-audit-cache.json")
    args = parser.parse_args()

    all_pins = pins(args.lock, ROOT / "Makefile")
    cache = _load_cache(args.cache)
    now = time.time()
    fresh = {
        key: entry
        for key, entry in cache.items()
        if now - float(entry.get("at", 0)) < CACHE_SECONDS and entry.get("source")
    }
    todo = []
    for pin in all_pins:
        entry = fresh.get(f"{pin.name.lower()}=={pin.version}")
        if entry:
            pin.source, pin.vulns = f"{entry['source']} (cached)", list(entry["vulns"])
        else:
            todo.append(pin)
    osv = ask_osv(todo) if todo else "not needed (cached)"
    release = ask_pypi_all([p for p in todo if p.source is None])

    checked = [p for p in all_pins if p.source]
    unchecked = [p for p in all_pins if not p.source]
    accepted = _accepted(ACCEPTED)
    vulnerable, tolerated = [], []
    for pin in (p for p in checked if p.vulns):
        reason = _acceptance(accepted, pin)
        if reason is None:
            vulnerable.append(pin)
            print(f"VULNERABLE {pin.name}=={pin.version}: {'; '.join(pin.vulns)} [{pin.source}]")
        else:
            tolerated.append(pin)
            print(f"ACCEPTED {pin.name}=={pin.version}: {'; '.join(pin.vulns)} ({reason})")
    for pin in unchecked:
        print(f"not checked {pin.name}=={pin.version}: {pin.note}")
    by_source: dict[str, int] = {}
    for pin in checked:
        by_source[pin.source or ""] = by_source.get(pin.source or "", 0) + 1
    print(
        f"dependency audit: {len(all_pins)} pins; {len(checked)} checked "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_source.items())) or 'none'}), "
        f"{len(vulnerable)} with known vulnerabilities, {len(tolerated)} accepted; "
        f"{len(unchecked)} NOT CHECKED. "
        f"OSV: {osv}; PyPI per-release JSON: {release}"
    )
    if unchecked:
        print(
            f"WARNING: {len(unchecked)} pins were not checked against any vulnerability data "
            "(see 'not checked' above): this is not a clean result for them."
        )
    _save_cache(args.cache, fresh, checked, now)
    print(
        json.dumps(
            {
                "pins": len(all_pins),
                "checked": len(checked),
                "vulnerable": len(vulnerable),
                "accepted": len(tolerated),
                "unchecked": len(unchecked),
                "sources": by_source,
                "osv": osv,
            }
        )
    )
    if vulnerable:
        return 1
    if unchecked and args.strict:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
