"""Figures of loop maps: each map's cycle time, coloured by its verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flywheel_core.charts.layout import style_figure
from flywheel_core.charts.palette import LOOP_VERDICT_COLORS, MUTED
from flywheel_core.numbers import hours

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from flywheel_core.loop.diagnosis import LoopSummary

__all__ = ["CYCLE_TIME_TICKS", "cycle_time_figure"]

CYCLE_TIME_TICKS: tuple[tuple[float, str], ...] = (
    (1 / 60, "1 min"),
    (0.25, "15 min"),
    (1, "1 h"),
    (8, "8 h"),
    (24, "1 day"),
    (168, "1 week"),
    (720, "30 days"),
    (2160, "90 days"),
    (8760, "1 year"),
)
"""Ticks of the cycle-time axis in hours, at the durations the velocity scale speaks of."""


def cycle_time_figure(summaries: Sequence[LoopSummary], *, verdict_words: Mapping[str, str]) -> go.Figure | None:
    """Each loop's cycle time (the sum of its stages' latencies) as a bar, coloured and labelled by verdict.

    None when no map states a cycle time. ``verdict_words`` names each verdict for people.
    """
    import plotly.graph_objects as go

    loops = [s for s in summaries if s.cycle_time_hours]
    if not loops:
        return None
    times = [float(s.cycle_time_hours or 0.0) for s in loops]
    fig = go.Figure(
        go.Bar(
            x=times,
            y=[s.name for s in loops],
            orientation="h",
            marker={"color": [LOOP_VERDICT_COLORS.get(s.verdict, MUTED) for s in loops]},
            text=[verdict_words.get(s.verdict, s.verdict) for s in loops],
            customdata=[hours(t) for t in times],
            hovertemplate="%{y}: %{customdata}<extra></extra>",
        )
    )
    lo, hi = min(times), max(times)
    ticks = [(v, t) for v, t in CYCLE_TIME_TICKS if lo / 4 <= v <= hi * 4] or [(lo, hours(lo))]
    fig.update_xaxes(type="log", tickmode="array", tickvals=[v for v, _ in ticks], ticktext=[t for _, t in ticks])
    return style_figure(
        fig,
        "Cycle time per loop map",
        subtitle="cycle time = the sum of the stages' latencies (log scale)",
        x="Cycle time",
        y="Loop map",
        height=160 + 40 * len(loops),
        bottom=40,
        legend="none",
    )
