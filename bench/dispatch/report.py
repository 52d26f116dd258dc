"""The table, the targets and the JSON summary of a dispatch benchmark's runs."""

from __future__ import annotations

import os
import resource
import statistics
from collections import defaultdict
from typing import Any

from bench.dispatch.runs import (
    Result,
)
from bench.dispatch.workload import (
    CONVERSATIONS,
)

TARGET_UPDATES_PER_SECOND = 300
# MAX's updates per second at least this share of Telegram's (issue 18).
TARGET_MAX_RATIO = 0.8
TARGET_MENU_P95_MS = 20.0
TARGET_QUESTION_P95_MS = 150.0

# Menu-like actions (one update, no free text), for the menu latency target.
MENU_KINDS = ("/menu", "/help", "language", "menu:ask", "menu:manager", "menu:services")
SERVICE_KINDS = ("service:choose", "service:option", "service:text", "service:confirm")


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def group_of(kind: str) -> str:
    """The action groups of the table (the JSON keeps every kind)."""
    if kind in MENU_KINDS:
        return "menu"
    if kind in SERVICE_KINDS:
        return "service"
    return kind  # question, relay, relay:stop


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
    }


def summarise(results: list[Result], notes: list[str]) -> dict[str, Any]:
    bare = next(r for r in results if r.name == "bare-aiogram")
    table: dict[str, Any] = {}
    print(f"{'run':<15}{'updates/s':>11}{'vs bare':>9}{'cpu ms/upd':>12}  p50/p95 ms per action")
    for r in results:
        groups: dict[str, list[float]] = defaultdict(list)
        for kind, values in r.latencies.items():
            groups[group_of(kind)] += values
        by_group = {g: _latency(v) for g, v in sorted(groups.items())}
        ratio = r.per_second / bare.per_second if bare.per_second else 0.0
        table[r.name] = {
            "updates": r.updates,
            "updates_per_second": round(r.per_second, 1),
            "ratio_to_bare": round(ratio, 3),
            "cpu_ms_per_update": round(r.cpu_seconds / r.updates * 1000, 3),
            "latency": by_group,
            "latency_by_kind": {k: _latency(v) for k, v in sorted(r.latencies.items())},
        }
        cells = "  ".join(f"{g} {v['p50_ms']}/{v['p95_ms']}" for g, v in by_group.items())
        cpu_ms = r.cpu_seconds / r.updates * 1000
        print(f"{r.name:<15}{r.per_second:>11.0f}{ratio:>9.1%}{cpu_ms:>12.2f}  {cells}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(f"peak RSS {peak_rss_mb:.0f} MB; load average {load:.2f} on {os.cpu_count()} CPUs")
    for note in notes:
        print(note)
    sqlite = table["sqlite"]
    menu_p95 = sqlite["latency"]["menu"]["p95_ms"]
    question_p95 = sqlite["latency"]["question"]["p95_ms"]
    met = {
        "sqlite_updates_per_second": sqlite["updates_per_second"] >= TARGET_UPDATES_PER_SECOND,
        "menu_p95_ms": menu_p95 <= TARGET_MENU_P95_MS,
        "question_p95_ms": question_p95 <= TARGET_QUESTION_P95_MS,
    }
    missed = [k for k, v in met.items() if not v]
    print(
        f"targets on SQLite: {sqlite['updates_per_second']:.0f} updates/s (>= "
        f"{TARGET_UPDATES_PER_SECOND}), menu p95 {menu_p95} ms (<= {TARGET_MENU_P95_MS:.0f}), "
        f"question p95 {question_p95} ms (<= {TARGET_QUESTION_P95_MS:.0f}): "
        + ("met" if not missed else "NOT met: " + ", ".join(missed))
    )
    comparison = max_comparison(table)
    return {
        "bench": "dispatch",
        "mix": dict(CONVERSATIONS),
        "results": table,
        **({"max_vs_telegram": comparison} if comparison else {}),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average": round(load, 2),
        "cpus": os.cpu_count(),
        "targets": {
            "sqlite_updates_per_second": TARGET_UPDATES_PER_SECOND,
            "menu_p95_ms": TARGET_MENU_P95_MS,
            "question_p95_ms": TARGET_QUESTION_P95_MS,
            "met": all(met.values()),
        },
        "notes": notes,
    }


def max_comparison(table: dict[str, Any]) -> dict[str, Any] | None:
    """MAX's updates/s against Telegram's in the same run (the mean of each's runs)."""
    telegram_keys = [k for k in table if k == "sqlite" or k.startswith("sqlite #")]
    telegram = [table[k]["updates_per_second"] for k in telegram_keys]
    max_runs = [v["updates_per_second"] for k, v in table.items() if k.startswith("sqlite max")]
    if not max_runs or not telegram:
        return None
    ratio = statistics.mean(max_runs) / statistics.mean(telegram)
    # CPU time per update drifts less than wall time on a shared machine.
    cpu = {
        name: statistics.mean(
            v["cpu_ms_per_update"]
            for k, v in table.items()
            if (k.startswith("sqlite max") if name == "max" else k in telegram_keys)
        )
        for name in ("max", "telegram")
    }
    print(
        f"MAX / Telegram: {statistics.mean(max_runs):.0f} / {statistics.mean(telegram):.0f} "
        f"updates/s = {ratio:.2f} (>= {TARGET_MAX_RATIO}): "
        + ("met" if ratio >= TARGET_MAX_RATIO else "NOT met")
        + f"; CPU ms/update {cpu['max']:.2f} / {cpu['telegram']:.2f}"
    )
    return {
        "telegram_updates_per_second": telegram,
        "max_updates_per_second": max_runs,
        "cpu_ms_per_update": {k: round(v, 3) for k, v in cpu.items()},
        "ratio": round(ratio, 3),
        "target": TARGET_MAX_RATIO,
        "met": ratio >= TARGET_MAX_RATIO,
    }
