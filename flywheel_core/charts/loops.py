"""Figures of loop maps: each map's cycle time, coloured by its verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flywheel_core.charts.palette import LOOP_VERDICT_COLORS, MUTED

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from flywheel_core.loop.diagnosis import LoopSummary

__all__ = ["cycle_time_figure"]


def cycle_time_figure(summaries: Sequence[LoopSummary], *, verdict_words: Mapping[str, str]) -> go.Figure | None:
    """Each loop's cycle time (event to model in production) as a bar, coloured and labelled by verdict.

    None when no map states a cycle time. ``verdict_words`` names each verdict for people.
    """
    import plotly.graph_objects as go

    loops = [s for s in summaries if s.cycle_time_hours]
    if not loops:
        return None
    fig = go.Figure(
        go.Bar(
            x=[s.cycle_time_hours for s in loops],
            y=[s.name for s in loops],
            orientation="h",
            marker={"color": [LOOP_VERDICT_COLORS.get(s.verdict, MUTED) for s in loops]},
            text=[verdict_words.get(s.verdict, s.verdict) for s in loops],
            hovertemplate="%{y}: %{x:,.1f} hours<extra></extra>",
        )
    )
    fig.update_xaxes(type="log")
    fig.update_layout(
        title={"text": "Cycle time per loop map"},
        xaxis_title="Hours from event to model in production (log scale)",
        yaxis_title="Loop map",
        template="plotly_white",
        height=140 + 40 * len(loops),
        margin={"t": 56, "b": 40, "l": 60, "r": 20},
        separators=".,",
    )
    return fig
