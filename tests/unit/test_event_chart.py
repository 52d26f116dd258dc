"""The RSVP chart: counts of guests are whole numbers, and so are its axis ticks."""

from __future__ import annotations

import pytest

from concierge.events.chart import render_rsvp_chart, rsvp_figure


@pytest.mark.parametrize("counts", [[0, 0, 0], [1, 0, 2], [3, 7, 1]])
def test_the_axis_shows_whole_guests_only(counts: list[int]) -> None:
    # Regression: an event without answers showed ticks 0.0, 0.2, ... 1.2.
    figure = rsvp_figure("Ужин", [(f"status {i}", n) for i, n in enumerate(counts)])
    figure.canvas.draw()
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    shown = [tick for tick in axes.get_xticks() if low <= tick <= high]
    assert len(shown) >= 2 and all(float(tick).is_integer() for tick in shown), shown


def test_the_chart_is_a_png() -> None:
    assert render_rsvp_chart("Ужин", [("придёт", 0)]).startswith(b"\x89PNG")
