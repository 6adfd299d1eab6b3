"""The one layout every figure shares: a title clear of plotly's toolbar, clean ticks, readable numbers.

Plotly draws its toolbar (the "modebar") over the top right of a figure, about :data:`MODEBAR_PX` high.
:func:`style_figure` puts the title below it (a top margin and a title padding larger than the toolbar), on
the left, with an optional subtitle; every builder in this package calls it, so no title is ever covered.
The axis helpers give log axes ticks at 1, 2 and 5 per decade written by
:func:`flywheel_core.numbers.compact_number` (1k, 2k, 5k, 10k, never "1000, 2, 5"), date axes a date and no
time of day, and linear axes k, M and B rather than plotly's SI "G".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from flywheel_core.numbers import compact_number

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "DATE_FORMAT",
    "MODEBAR_PX",
    "TITLE_PAD_PX",
    "date_axis",
    "log_axis",
    "log_ticks",
    "style_figure",
    "top_margin",
]

MODEBAR_PX = 32
"""Height of plotly's toolbar row (24 px buttons and their padding), drawn at the figure's top right."""
TITLE_PAD_PX = MODEBAR_PX + 6
"""The title's distance from the figure's top edge: below the toolbar."""
_TITLE_LINE_PX = 26  # one 16 px title line with its leading
_SUBTITLE_LINE_PX = 20
DATE_FORMAT = "%b %d, %Y"
"""Dates on axes and in hovers: Nov 24, 2019 (never a time of day: the data is daily or coarser)."""


def top_margin(*, subtitle: bool = False) -> int:
    """The top margin that holds the toolbar, the title and (when given) a subtitle line."""
    return TITLE_PAD_PX + _TITLE_LINE_PX + (_SUBTITLE_LINE_PX if subtitle else 0) + 8


def style_figure(
    fig: go.Figure,
    title: str,
    *,
    subtitle: str | None = None,
    x: str | None = None,
    y: str | None = None,
    height: int = 340,
    legend: Literal["right", "below", "none"] = "right",
    bottom: int = 10,
) -> go.Figure:
    """Title (and subtitle) below the toolbar on the left, axis titles, height, legend, and number format.

    ``legend="below"`` lays a long legend out horizontally under the plot; ``"none"`` hides it.
    """
    title_spec: dict[str, object] = {
        "text": title,
        "x": 0,
        "xref": "paper",
        "xanchor": "left",
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "pad": {"t": TITLE_PAD_PX},
        "font": {"size": 16},
    }
    if subtitle:
        title_spec["subtitle"] = {"text": subtitle, "font": {"size": 13}}
    layout: dict[str, object] = {
        "title": title_spec,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": top_margin(subtitle=bool(subtitle)), "b": bottom},
        "template": "plotly_white",
        "separators": ".,",
        "legend_title_text": "",
        "modebar": {"orientation": "h"},
    }
    if legend == "below":
        layout["legend"] = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "xanchor": "left"}
    elif legend == "none":
        layout["showlegend"] = False
    fig.update_layout(**layout)
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    # Linear axes in k, M, B (plotly's default SI prefixes write a billion as "1G").
    fig.update_xaxes(exponentformat="B")
    fig.update_yaxes(exponentformat="B")
    return fig


def log_ticks(low: float, high: float, *, most: int = 10) -> tuple[list[float], list[str]]:
    """Tick values at 1, 2 and 5 per decade from ``low`` to ``high`` (only 1 per decade when that is too
    many; every other decade beyond that), with their labels from :func:`compact_number`.

    Raises:
        ValueError: ``low`` or ``high`` is not a positive finite number.
    """
    if not (math.isfinite(low) and math.isfinite(high) and low > 0 and high > 0):
        raise ValueError(f"a log axis needs positive finite bounds, got {low!r} and {high!r}")
    low, high = min(low, high), max(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in ((1, 2, 5), (1,)):
        values = [m * 10.0**e for e in range(first, last + 1) for m in steps]
        values = [v for v in values if low / 1.0001 <= v <= high * 1.0001]
        if len(values) <= most:
            break
    else:
        stride = math.ceil(len(values) / most)
        values = values[::stride]
    if not values:  # a range inside one step: its two ends
        values = [low, high] if low != high else [low]
    return values, [compact_number(v, k_from=1e3) for v in values]


def log_axis(fig: go.Figure, axis: Literal["x", "y"], values: Sequence[float]) -> go.Figure:
    """Make ``axis`` logarithmic with 1-2-5 ticks over the positive ``values`` it shows."""
    positive = [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]
    if not positive:
        return fig
    ticks, text = log_ticks(min(positive), max(positive))
    spec = {"type": "log", "tickmode": "array", "tickvals": ticks, "ticktext": text}
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**spec)
    return fig


def date_axis(fig: go.Figure, axis: Literal["x", "y"] = "x") -> go.Figure:
    """Dates written as Nov 24, 2019 on ticks and in hovers, never with a time of day."""
    spec = {"tickformat": DATE_FORMAT, "hoverformat": DATE_FORMAT}
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**spec)
    return fig
