"""The workspace report as one self-contained HTML file (contents: :mod:`flywheel_core.report.contents`).

A partial plotly.js bundle that draws exactly the report's trace types is embedded once, inline, in the
document head (:mod:`flywheel_core.report.plotly_bundle`); every chart is a plotly div drawn from inline,
trimmed JSON, so the file opens offline and its charts stay interactive (hover, zoom, legend toggles). No
element loads anything from a URL. Every piece of user text is HTML-escaped; plotly escapes ``<``/``>`` in its JSON.
The charts are the app's own builders from :mod:`flywheel_core.charts`, in the app's palette.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flywheel_core.charts.palette import LOOP_VERDICT_COLORS, MUTED, verdict_color
from flywheel_core.loop.diagnosis import label
from flywheel_core.numbers import count, hours, when
from flywheel_core.report.contents import (
    LOOP_VERDICT_WORDS,
    SECTIONS,
    DatasetSection,
    WorkspaceReport,
    learning_word,
    profile_rows,
    summary_line,
    verdict_sentence,
    version_rows,
)
from flywheel_core.report.plotly_bundle import bundle_js, chart_div, template_script

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["cycle_time_chart", "dataset_figures", "learning_chart", "render_html", "report_figures"]

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


# --- figures: the app's chart builders over the report's contents -------------------------------------


def cycle_time_chart(report: WorkspaceReport) -> go.Figure | None:
    """Each loop map's cycle time, coloured by its verdict (None when no map states one)."""
    from flywheel_core.charts.loops import cycle_time_figure

    return cycle_time_figure([s.summary for s in report.loops], verdict_words=LOOP_VERDICT_WORDS)


def learning_chart(section: DatasetSection) -> go.Figure | None:
    """The verdict's metric against training rows, drawn as on the Compounding vs plateau page."""
    from flywheel_core.charts.curves import curve_figure

    if section.verdict is None:
        return None
    return curve_figure(section.verdict, x_label="training rows", y_label=section.metric or "metric")


def dataset_figures(section: DatasetSection) -> list[go.Figure]:
    """The data-profile charts of one dataset: active users and weekly events by signal class."""
    from flywheel_core.charts.data import activity, events_over_time

    figures = []
    if section.activity is not None and not section.activity.daily.empty:
        figures.append(activity(section.activity, subject=section.name))
    if section.signal_weeks is not None and not section.signal_weeks.empty:
        figures.append(events_over_time(section.signal_weeks, "week", subject=section.name))
    return figures


def report_figures(report: WorkspaceReport) -> list[go.Figure]:
    """Every chart of the report, in document order."""
    found = [cycle_time_chart(report)]
    for ds in report.datasets:
        found += dataset_figures(ds)
    found += [learning_chart(ds) for ds in report.datasets]
    return [f for f in found if f is not None]


class _Charts:
    """Numbers the report's charts; the first one also defines the template every chart shares."""

    def __init__(self) -> None:
        self.drawn = 0
        self.template: dict[str, Any] | None = None

    def __call__(self, fig: go.Figure | None) -> str:
        if fig is None:
            return ""
        prelude = ""
        if self.drawn == 0:
            script, self.template = template_script(fig)
            prelude = f"<script>{script}</script>"
        self.drawn += 1
        return f'{prelude}<div class="chart">{chart_div(fig, f"chart-{self.drawn}", self.template)}</div>'


# --- sections -----------------------------------------------------------------------------------------


def _summary(report: WorkspaceReport) -> list[str]:
    parts = [f'<h2 id="summary">{_e(SECTIONS[0])}</h2>', f"<p>{_e(summary_line(report))}</p>"]
    if report.loops:
        rows = [
            [
                s.summary.name,
                s.summary.version,
                LOOP_VERDICT_WORDS.get(s.summary.verdict, s.summary.verdict),
                s.summary.moat,
                label(s.summary.weakest) if s.summary.weakest else "—",
                hours(s.summary.cycle_time_hours),
            ]
            for s in report.loops
        ]
        parts.append(_table(["Loop map", "Version", "Verdict", "Moat", "Weakest stage", "Cycle time"], rows, (1, 5)))
    else:
        parts.append('<p class="note">No loop maps yet: map your loop on the Map the loop page.</p>')
    if report.datasets:
        rows = [[d.name, count(d.rows), count(len(d.versions)), learning_word(d)] for d in report.datasets]
        parts.append(_table(["Dataset", "Events", "Model versions", "Learning verdict"], rows, (1, 2)))
    else:
        parts.append('<p class="note">No datasets yet: upload an interaction log on the Interaction data page.</p>')
    return parts


def _loops(report: WorkspaceReport, chart: _Charts) -> list[str]:
    parts = [f'<h2 id="loops">{_e(SECTIONS[1])}</h2>', chart(cycle_time_chart(report))]
    for s in report.loops:
        d = s.diagnosis
        verdict = s.summary.verdict
        parts.append(
            f"<h3>{_e(s.summary.name)} <span class='muted'>version {s.summary.version}</span> "
            f"{_badge(LOOP_VERDICT_WORDS.get(verdict, verdict), LOOP_VERDICT_COLORS.get(verdict, MUTED))}</h3>"
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
            f"<li><b>Cycle time:</b> {_e(hours(d.cycle_time_hours))} ({_e(d.velocity_text)})</li>",
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


def _data(report: WorkspaceReport, chart: _Charts) -> list[str]:
    parts = [f'<h2 id="data">{_e(SECTIONS[2])}</h2>']
    for ds in report.datasets:
        source = f" <span class='muted'>from {_e(ds.source_name)}</span>" if ds.source_name else ""
        parts.append(f"<h3>{_e(ds.name)}{source}</h3>")
        if ds.profile is None:
            parts.append(f"<p class='note'>No profile: {_e(ds.profile_note)}</p>")
            continue
        parts.append(_table(["Measure", "Value"], profile_rows(ds.profile), (1,)))
        counts = sorted(ds.profile.event_counts.items(), key=lambda kv: -kv[1])
        parts.append(_table(["Event", "Count"], [[name, count(n)] for name, n in counts], (1,)))
        parts += [chart(fig) for fig in dataset_figures(ds)]
    if not report.datasets:
        parts.append('<p class="note">No datasets yet.</p>')
    return parts


def _models(report: WorkspaceReport, chart: _Charts) -> list[str]:
    parts = [f'<h2 id="models">{_e(SECTIONS[3])}</h2>']
    for ds in report.datasets:
        parts.append(f"<h3>{_e(ds.name)}</h3>")
        if ds.versions:
            header, rows = version_rows(ds)
            text_columns = (3, len(header) - 2, len(header) - 1)
            parts.append(_table(header, rows, tuple(i for i in range(len(header)) if i not in text_columns)))
        if ds.verdict is not None:
            badge = _badge(ds.verdict.verdict.label, verdict_color(ds.verdict.verdict))
            parts.append(f"<p>{badge} {_e(verdict_sentence(ds))}</p>")
            parts.append(chart(learning_chart(ds)))
        else:
            parts.append(f"<p class='note'>{_e(ds.verdict_note)}</p>")
    if not report.datasets:
        parts.append('<p class="note">No datasets yet, so no model versions.</p>')
    return parts


def render_html(report: WorkspaceReport) -> str:
    """The report as one self-contained HTML file: plotly.js inline once, interactive charts, no URLs."""
    charts = _Charts()
    title = f"Workspace report: {report.workspace}"
    nav = "".join(
        f'<a href="#{anchor}">{_e(name)}</a>'
        for anchor, name in zip(("summary", "loops", "data", "models"), SECTIONS, strict=True)
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>Generated {_e(when(report.generated_at))} by Flywheel Studio.</p>",
        f"<nav>{nav}</nav>",
        *_summary(report),
        *_loops(report, charts),
        *_data(report, charts),
        *_models(report, charts),
        "<footer>Self-contained: charts are interactive (hover, zoom, click the legend) and need no network.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{bundle_js()}</script></head>"
        "<body><main>" + "\n".join(body) + "</main></body></html>\n"
    )
