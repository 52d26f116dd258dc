"""The RSVP chart of an event as a PNG image, drawn off-screen with matplotlib."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import matplotlib

# Agg draws into memory; the bot has no display, and the default backend could try one.
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402 - the backend must be chosen first
from matplotlib.ticker import MaxNLocator  # noqa: E402

from concierge.events.model import SUMMARY_ORDER  # noqa: E402
from concierge.events.tracking import EventSummary  # noqa: E402

COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#dd8452", "#8c8c8c", "#8172b3", "#2f8f8f")


def rsvp_figure(title: str, counts: list[tuple[str, int]]) -> Figure:
    """A horizontal bar per status, on whole-number ticks."""
    # A Figure without pyplot keeps no global state, so concurrent renders do not interfere.
    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    labels = [label for label, _ in counts][::-1]
    values = [value for _, value in counts][::-1]
    bars = axes.barh(labels, values, color=COLOURS[: len(values)][::-1])
    axes.bar_label(bars, padding=3)
    axes.set_title(title[:60])
    axes.set_xlim(0, max([*values, 1]) * 1.2)
    # Guests come whole: no 0.2 ticks on an empty or small chart.
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return figure


def render_rsvp_chart(title: str, counts: list[tuple[str, int]]) -> bytes:
    """The chart as a PNG; blocking (CPU-bound), so call it via asyncio.to_thread."""
    figure = rsvp_figure(title, counts)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def draw_rsvp_chart(summary: EventSummary, t: Callable[..., str]) -> bytes:
    """The event's chart with the reader's status names (`t`: their translator), for the bot
    and the desk; drawing takes a few hundred milliseconds of CPU, so off the event loop."""
    counts = [(t(f"events.status.{k}"), summary.counts[k]) for k in SUMMARY_ORDER]
    return await asyncio.to_thread(render_rsvp_chart, summary.event.title, counts)
