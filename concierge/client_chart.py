"""A client's card chart as a PNG: the structure of assets and a year of contacts by month."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concierge.profile import ClientProfile
from concierge.workspace import ClientView

MONTHS = 12


def monthly_contacts(profile: ClientProfile, *, months: int = MONTHS) -> list[tuple[str, int]]:
    """People talking (client or staff, not the bot) per calendar month, oldest first."""
    counts = Counter(
        f"{c.occurred_at:%Y-%m}"
        for c in profile.contacts
        if c.actor in ("client", "staff") and c.direction != "internal"
    )
    year, month = profile.as_of.year, profile.as_of.month
    keys: list[str] = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return [(key, counts.get(key, 0)) for key in reversed(keys)]


def render_client_chart(
    view: ClientView, *, asset_labels: dict[str, str], titles: tuple[str, str]
) -> bytes:
    """PNG bytes; blocking CPU work, so callers run it in a worker thread.

    A bare Figure with its own Agg canvas (not pyplot) keeps no global state, so charts can
    be drawn from several threads at once.
    """
    value = view.insights.value
    assets = {
        "deposits": value.deposits_rub,
        "investments": value.investments_rub,
        "insurance": value.insurance_rub,
        "credit": value.credit_rub,
    }
    figure = Figure(figsize=(9, 3.4), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    left.barh(
        [asset_labels.get(k, k) for k in assets],
        [float(v) / 1_000_000 for v in assets.values()],
        color=["#34495e", "#2e86c1", "#27ae60", "#c0392b"],
    )
    left.set_title(titles[0])
    left.invert_yaxis()
    activity = monthly_contacts(view.profile)
    right.bar([_month(k) for k, _ in activity], [n for _, n in activity], color="#7d3c98")
    right.set_title(titles[1])
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.tick_params(axis="x", labelrotation=60, labelsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _month(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%m.%y")  # noqa: DTZ007 - a label only
