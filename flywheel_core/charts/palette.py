"""The colours every chart and badge uses, in the app and in the report alike.

Signal classes are green for positive and red for negative, dark for explicit and light for implicit,
greys for neutral; the app's theme colour (``primaryColor`` in ``.streamlit/config.toml``) is the explicit
positive green. Verdicts, loop verdicts and loop links share three status colours: good, warning, bad;
the loop diagram's stages are filled by health.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from flywheel_core.curves.terms import Verdict

__all__ = [
    "ACTIVITY_COLORS",
    "AMBER",
    "BAD",
    "BORDER",
    "GOOD",
    "HEALTH_FILLS",
    "INK",
    "LOOP_VERDICT_COLORS",
    "MUTED",
    "NEW_RETURNING_COLORS",
    "PAPER",
    "REFERENCE",
    "RETENTION_SCALE",
    "RETENTION_WEEK0",
    "SERIES_COLORS",
    "SIGNAL_COLORS",
    "THEME",
    "VERDICT_COLORS",
    "WARN",
    "verdict_color",
]

THEME = "#2F6F5E"  # the app theme's primary colour

# status: what a verdict, a loop verdict or a loop link says about the loop
GOOD = "#2e7d32"
WARN = "#c77d0a"
BAD = "#c03030"
MUTED = "#666666"
INK = "#111111"  # measured points
REFERENCE = "#888888"  # ceilings, chance lines
PAPER = "#ffffff"
BORDER = "#555555"  # outlines of diagram boxes

SIGNAL_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "explicit positive": THEME,
        "implicit positive": "#7FB8A4",
        "explicit negative": "#B5473A",
        "implicit negative": "#E4A08F",
        "explicit neutral": "#8C8C8C",
        "implicit neutral": "#C9C6BD",
        "unknown neutral": "#E2DFD6",
    }
)
"""Events by signal class (``kind + " " + polarity``, as :func:`flywheel_core.data.analytics.events_over_time`
labels them), in legend order."""

AMBER = "#E0B04F"

ACTIVITY_COLORS: Mapping[str, str] = MappingProxyType({"mau": AMBER, "wau": "#7FB8A4", "dau": THEME})
"""Monthly, weekly and daily active users: three hues, since the monthly and weekly lines run close."""

NEW_RETURNING_COLORS: Mapping[str, str] = MappingProxyType({"new": AMBER, "returning": THEME})

VERDICT_COLORS: Mapping[Verdict, str] = MappingProxyType(
    {Verdict.COMPOUNDING: GOOD, Verdict.PLATEAU: WARN, Verdict.BACKWARD: BAD, Verdict.INSUFFICIENT_DATA: MUTED}
)
"""One colour per learning-curve verdict (its words are :attr:`Verdict.label`)."""

LOOP_VERDICT_COLORS: Mapping[str, str] = MappingProxyType(
    {"flywheel": GOOD, "feedback_loop": WARN, "broken": BAD, "invalid": MUTED}
)
"""One colour per loop-map verdict (:attr:`flywheel_core.loop.diagnosis.LoopSummary.verdict`)."""

HEALTH_FILLS: Mapping[int | None, str] = MappingProxyType(
    {None: "#eeeeee", 1: "#f8c9c9", 2: "#fde0c2", 3: "#fff4cc", 4: "#e3f2d5", 5: "#cfe9cf"}
)
"""A loop stage's fill by its health (1 poor to 5 good; None not rated), red through amber to green."""

RETENTION_SCALE: tuple[tuple[float, str], ...] = ((0.0, "#f3f8f5"), (0.5, "#7FB8A4"), (1.0, THEME))
"""The retention heatmap's colours, pale to the theme green (its range excludes week 0, which is always 100%)."""
RETENTION_WEEK0 = "#e6e6e6"
"""Week 0 of the retention heatmap: grey, outside the colour scale."""

SERIES_COLORS: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
"""Lines that are only told apart (candidate curves, scenarios), in order."""


def verdict_color(verdict: str) -> str:
    """The colour of a learning-curve verdict, given as a :class:`Verdict` or its value."""
    return VERDICT_COLORS[Verdict(verdict)]
