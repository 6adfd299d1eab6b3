"""The workspace report as one self-contained HTML file (see :mod:`flywheel_core.report.build`).

plotly.js is embedded once, inline, in the document head; every chart is a plotly div drawn from inline
JSON, so the file opens offline and its charts stay interactive (hover, zoom, legend toggles). No element
loads anything from a URL. Every piece of user text is HTML-escaped; plotly escapes ``<``/``>`` in its JSON.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flywheel_core.loop.diagnosis import label
from flywheel_core.report.build import (
    CURVE_WORDS,
    SECTIONS,
    VERDICT_WORDS,
    DatasetSection,
    WorkspaceReport,
    fmt_count,
    fmt_hours,
    fmt_when,
    profile_rows,
    summary_line,
    verdict_sentence,
    version_rows,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["activity_figure", "cycle_time_figure", "html_document", "learning_figure", "signals_figure"]

_LOOP_COLORS = {"flywheel": "#2e7d32", "feedback_loop": "#c77d0a", "broken": "#c03030", "invalid": "#666"}
_CURVE_COLORS = {"compounding": "#2e7d32", "plateau": "#c77d0a", "backward": "#c03030", "insufficient_data": "#666"}
_SIGNAL_COLORS = {
    "explicit positive": "#1b7a3a",
    "implicit positive": "#7cc48f",
    "explicit negative": "#b3261e",
    "implicit negative": "#ee8a80",
    "explicit neutral": "#5b6475",
    "implicit neutral": "#b8bfcc",
}
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2433;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:1.9rem;margin:.2em 0}h2{border-bottom:2px solid #e3e6eb;padding-bottom:.25em;margin-top:2em}
h3{margin-top:1.6em}.muted{color:#5b6475}nav a{margin-right:1.2em;color:#2357c6;text-decoration:none}
table{border-collapse:collapse;margin:.8em 0;font-size:.92rem}th,td{border:1px solid #e3e6eb;padding:4px 9px}
th{background:#f1f3f6;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;color:#fff;font-weight:600;font-size:.85rem}
.chart{margin:.6em 0 1.2em}.note{background:#f1f3f6;border-left:4px solid #8a94a6;padding:8px 12px}
footer{margin-top:3em;font-size:.85rem;color:#5b6475}
"""


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text))


def _badge(text: str, color: str) -> str:
    return f'<span class="badge" style="background:{color}">{_e(text)}</span>'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": title},
        xaxis_title=x_title,
        yaxis_title=y_title,
        template="plotly_white",
        height=height,
        margin={"t": 56, "b": 40, "l": 60, "r": 20},
        legend={"orientation": "h", "y": -0.2},
        separators=".,",
    )
    return fig


def activity_figure(section: DatasetSection) -> go.Figure | None:
    """Daily, weekly and monthly active users of one dataset."""
    import plotly.graph_objects as go

    if section.activity is None or section.activity.empty:
        return None
    fig = go.Figure()
    for column, name in (("dau", "daily actives"), ("wau", "weekly actives (7 days)"), ("mau", "monthly (30 days)")):
        fig.add_trace(go.Scatter(x=section.activity["date"], y=section.activity[column], mode="lines", name=name))
    return _layout(fig, f"Active users: {section.name}", "Date (UTC)", "Users")


def signals_figure(section: DatasetSection) -> go.Figure | None:
    """Events per week by signal class (explicit/implicit, positive/negative/neutral), stacked."""
    import plotly.graph_objects as go

    weeks = section.signal_weeks
    if weeks is None or weeks.empty:
        return None
    fig = go.Figure()
    for signal, part in weeks.groupby("signal", sort=True):
        fig.add_trace(
            go.Bar(x=part["period"], y=part["events"], name=str(signal), marker_color=_SIGNAL_COLORS.get(str(signal)))
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, f"Events per week by signal class: {section.name}", "Week starting (UTC)", "Events per week")


def learning_figure(section: DatasetSection) -> go.Figure | None:
    """The verdict's metric against training rows: measured versions, the chosen curve and its ceiling."""
    import numpy as np
    import plotly.graph_objects as go

    report = section.verdict
    if report is None:
        return None
    fig = go.Figure()
    lo, hi = float(report.x[0]), float(report.x[-1])
    grid = np.geomspace(lo, hi, 120) if lo > 0 else np.linspace(lo, hi, 120)
    with np.errstate(all="ignore"):
        fitted = report.predict(grid)
    fig.add_trace(
        go.Scatter(
            x=grid,
            y=[float(v) if np.isfinite(v) else None for v in fitted],
            mode="lines",
            name=f"fitted ({report.model.replace('_', ' ')})",
            line={"width": 3, "color": _CURVE_COLORS.get(report.verdict, "#1f77b4")},
        )
    )
    fig.add_trace(
        go.Scatter(x=report.x, y=report.y, mode="markers", name="model versions", marker={"size": 9, "color": "#111"})
    )
    if report.asymptote is not None and np.isfinite(report.asymptote):
        fig.add_hline(y=report.asymptote, line_dash="dash", line_color="#888", annotation_text="fitted ceiling")
    if lo > 0 and hi / lo > 20:
        fig.update_xaxes(type="log")
    metric = section.metric or "metric"
    title = f"{metric} vs training rows: {CURVE_WORDS.get(report.verdict, report.verdict).lower()} ({section.name})"
    return _layout(fig, title, "Training rows", metric)


def cycle_time_figure(report: WorkspaceReport) -> go.Figure | None:
    """Each loop's cycle time (event to model in production), coloured by verdict."""
    import plotly.graph_objects as go

    loops = [s.summary for s in report.loops if s.summary.cycle_time_hours]
    if not loops:
        return None
    fig = go.Figure(
        go.Bar(
            x=[s.cycle_time_hours for s in loops],
            y=[s.name for s in loops],
            orientation="h",
            marker={"color": [_LOOP_COLORS.get(s.verdict, "#666") for s in loops]},
            text=[VERDICT_WORDS.get(s.verdict, s.verdict) for s in loops],
            hovertemplate="%{y}: %{x:,.1f} hours<extra></extra>",
        )
    )
    fig.update_xaxes(type="log")
    return _layout(
        fig,
        "Cycle time per loop map",
        "Hours from event to model in production (log scale)",
        "Loop map",
        height=140 + 40 * len(loops),
    )


def _chart(fig: go.Figure | None) -> str:
    if fig is None:
        return ""
    import plotly.io as pio

    div: str = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=_CONFIG, default_width="100%")
    return f'<div class="chart">{div}</div>'


def _summary(report: WorkspaceReport) -> list[str]:
    parts = [f'<h2 id="summary">{_e(SECTIONS[0])}</h2>', f"<p>{_e(summary_line(report))}</p>"]
    if report.loops:
        rows = [
            [
                s.summary.name,
                s.summary.version,
                VERDICT_WORDS.get(s.summary.verdict, s.summary.verdict),
                s.summary.moat,
                label(s.summary.weakest) if s.summary.weakest else "—",
                fmt_hours(s.summary.cycle_time_hours),
            ]
            for s in report.loops
        ]
        parts.append(_table(["Loop map", "Version", "Verdict", "Moat", "Weakest stage", "Cycle time"], rows, (1, 5)))
    else:
        parts.append('<p class="note">No loop maps yet: map your loop on the Map the loop page.</p>')
    if report.datasets:
        rows = [
            [
                d.name,
                fmt_count(d.rows),
                fmt_count(len(d.versions)),
                CURVE_WORDS.get(d.verdict.verdict, d.verdict.verdict) if d.verdict else "no verdict yet",
            ]
            for d in report.datasets
        ]
        parts.append(_table(["Dataset", "Events", "Model versions", "Learning verdict"], rows, (1, 2)))
    else:
        parts.append('<p class="note">No datasets yet: upload an interaction log on the Interaction data page.</p>')
    return parts


def _loops(report: WorkspaceReport) -> list[str]:
    parts = [f'<h2 id="loops">{_e(SECTIONS[1])}</h2>', _chart(cycle_time_figure(report))]
    for s in report.loops:
        d = s.diagnosis
        verdict = s.summary.verdict
        parts.append(
            f"<h3>{_e(s.summary.name)} <span class='muted'>version {s.summary.version}</span> "
            f"{_badge(VERDICT_WORDS.get(verdict, verdict), _LOOP_COLORS.get(verdict, '#666'))}</h3>"
        )
        if s.product:
            parts.append(f"<p class='muted'>Product: {_e(s.product)}</p>")
        if d is None:
            parts.append(f"<p class='note'>{_e(s.summary.headline)}</p>")
            continue
        items = [
            f"<li><b>Why:</b> {_e(d.verdict_reason)}</li>",
            f"<li><b>Moat:</b> {_e(d.moat)} learning</li>",
            f"<li><b>Weakest stage:</b> {_e(d.weakest_reason)}</li>",
            f"<li><b>Cycle time:</b> {_e(fmt_hours(d.cycle_time_hours))} ({_e(d.velocity_text)})</li>",
        ]
        if d.plateau:
            items.append(f"<li><b>Plateau risk:</b> {_e(d.plateau_reason)}</li>")
        items += [f"<li><b>Break, {_e(b.link)}:</b> {_e(b.name)} ({_e(b.why)})</li>" for b in d.breaks]
        items += [f"<li><b>Signals:</b> {_e(w)}</li>" for w in d.signal_warnings]
        parts.append("<ul>" + "".join(items) + "</ul>")
        if d.next_steps:
            parts.append("<p><b>Next steps</b></p><ol>" + "".join(f"<li>{_e(x)}</li>" for x in d.next_steps) + "</ol>")
    if not report.loops:
        parts.append('<p class="note">No loop maps yet.</p>')
    return parts


def _data(report: WorkspaceReport) -> list[str]:
    parts = [f'<h2 id="data">{_e(SECTIONS[2])}</h2>']
    for ds in report.datasets:
        source = f" <span class='muted'>from {_e(ds.source_name)}</span>" if ds.source_name else ""
        parts.append(f"<h3>{_e(ds.name)}{source}</h3>")
        if ds.profile is None:
            parts.append(f"<p class='note'>No profile: {_e(ds.profile_note)}</p>")
            continue
        parts.append(_table(["Measure", "Value"], profile_rows(ds.profile), (1,)))
        counts = sorted(ds.profile.event_counts.items(), key=lambda kv: -kv[1])
        parts.append(_table(["Event", "Count"], [[name, fmt_count(n)] for name, n in counts], (1,)))
        parts += [_chart(activity_figure(ds)), _chart(signals_figure(ds))]
    if not report.datasets:
        parts.append('<p class="note">No datasets yet.</p>')
    return parts


def _models(report: WorkspaceReport) -> list[str]:
    parts = [f'<h2 id="models">{_e(SECTIONS[3])}</h2>']
    for ds in report.datasets:
        parts.append(f"<h3>{_e(ds.name)}</h3>")
        if ds.versions:
            header, rows = version_rows(ds)
            parts.append(
                _table(
                    header, rows, tuple(i for i in range(len(header)) if i not in (3, len(header) - 2, len(header) - 1))
                )
            )
        if ds.verdict is not None:
            color = _CURVE_COLORS.get(ds.verdict.verdict, "#666")
            word = CURVE_WORDS.get(ds.verdict.verdict, ds.verdict.verdict)
            parts.append(f"<p>{_badge(word, color)} {_e(verdict_sentence(ds))}</p>")
            parts.append(_chart(learning_figure(ds)))
        else:
            parts.append(f"<p class='note'>{_e(ds.verdict_note)}</p>")
    if not report.datasets:
        parts.append('<p class="note">No datasets yet, so no model versions.</p>')
    return parts


def html_document(report: WorkspaceReport) -> str:
    from plotly.offline import get_plotlyjs

    title = f"Workspace report: {report.workspace}"
    nav = "".join(
        f'<a href="#{anchor}">{_e(name)}</a>'
        for anchor, name in zip(("summary", "loops", "data", "models"), SECTIONS, strict=True)
    )
    body: list[Any] = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>Generated {_e(fmt_when(report.generated_at))} by Flywheel Studio.</p>",
        f"<nav>{nav}</nav>",
        *_summary(report),
        *_loops(report),
        *_data(report),
        *_models(report),
        "<footer>Self-contained: charts are interactive (hover, zoom, click the legend) and need no network.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        "<body><main>" + "\n".join(body) + "</main></body></html>\n"
    )
