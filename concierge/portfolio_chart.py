"""The portfolio overview as a PNG chart, drawn in memory with matplotlib's Agg backend."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concierge.workspace import PortfolioOverview

RISK_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#27ae60"}


def render_chart(
    overview: PortfolioOverview,
    *,
    segment_labels: dict[str, str],
    risk_labels: dict[str, str],
    titles: tuple[str, str],
) -> bytes:
    """PNG bytes; blocking CPU work, so the bot calls it via asyncio.to_thread.

    A bare Figure with its own Agg canvas (not pyplot) keeps no global state, so several
    charts can be drawn from worker threads at once.
    """
    figure = Figure(figsize=(9, 4), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    segments = list(overview.by_segment)
    left.barh(
        [segment_labels.get(s, s) for s in segments],
        [overview.by_segment[s] for s in segments],
        color="#34495e",
    )
    left.set_title(titles[0])
    left.invert_yaxis()
    risks = list(overview.by_risk)
    right.bar(
        [risk_labels.get(r, r) for r in risks],
        [overview.by_risk[r] for r in risks],
        color=[RISK_COLOURS.get(r, "#7f8c8d") for r in risks],
    )
    right.set_title(titles[1])
    # Client counts are whole numbers; fractional ticks would read as a data error.
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def draw_portfolio_chart(overview: PortfolioOverview, t: Callable[..., str]) -> bytes:
    """The chart with the reader's labels (`t`: their translator), for the bot and the desk.

    Drawing takes a noticeable fraction of a second: it runs on a worker thread so the event
    loop keeps serving meanwhile.
    """
    return await asyncio.to_thread(
        render_chart,
        overview,
        segment_labels={s: t(f"manager.segment.{s}") for s in overview.by_segment},
        risk_labels={r: t(f"manager.risk.{r}") for r in overview.by_risk},
        titles=(t("manager.chart_segments"), t("manager.chart_risk")),
    )
