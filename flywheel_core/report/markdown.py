"""The workspace report as Markdown: the same facts as the HTML file, without the charts.

Contents come from :mod:`flywheel_core.report.contents`; table cells are flattened to one line and ``|`` escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from flywheel_core.loop.diagnosis import label
from flywheel_core.numbers import count, hours, when
from flywheel_core.report.contents import (
    LOOP_VERDICT_WORDS,
    SECTIONS,
    WorkspaceReport,
    learning_word,
    profile_rows,
    summary_line,
    verdict_sentence,
    version_rows,
)

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    value = "" if text is None else str(text)
    return " ".join(value.replace("|", "\\|").split()) or "—"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: WorkspaceReport) -> str:
    """The report as Markdown: the same facts as the HTML file, without the charts."""
    summary, loops, data, models = SECTIONS
    lines = [
        f"# Workspace report: {_cell(report.workspace)}",
        "",
        f"_Generated {when(report.generated_at)} by Flywheel Studio._ {summary_line(report)}",
        "",
        f"## {summary}",
        "",
    ]
    if report.loops:
        lines += _table(
            ["Loop map", "Version", "Verdict", "Moat", "Weakest stage", "Cycle time"],
            [
                [
                    s.summary.name,
                    s.summary.version,
                    LOOP_VERDICT_WORDS.get(s.summary.verdict, s.summary.verdict),
                    s.summary.moat,
                    label(s.summary.weakest) if s.summary.weakest else "—",
                    hours(s.summary.cycle_time_hours),
                ]
                for s in report.loops
            ],
        )
    else:
        lines += ["No loop maps yet: map your loop on the Map the loop page.", ""]
    if report.datasets:
        lines += _table(
            ["Dataset", "Events", "Model versions", "Learning verdict"],
            [
                [
                    d.name,
                    count(d.rows),
                    count(len(d.versions)),
                    learning_word(d),
                ]
                for d in report.datasets
            ],
        )
    else:
        lines += ["No datasets yet: upload an interaction log on the Interaction data page.", ""]

    lines += [f"## {loops}", ""]
    for s in report.loops:
        lines += [f"### {_cell(s.summary.name)} (version {s.summary.version})", ""]
        if s.product:
            lines += [f"_Product:_ {_cell(s.product)}", ""]
        d = s.diagnosis
        if d is None:
            lines += [f"**{LOOP_VERDICT_WORDS['invalid']}.** {_cell(s.summary.headline)}", ""]
            continue
        lines += [
            f"**Verdict: {LOOP_VERDICT_WORDS[d.verdict]}.** {_cell(d.verdict_reason)}",
            "",
            f"- **Moat:** {d.moat} learning",
            f"- **Weakest stage:** {_cell(d.weakest_reason)}",
            f"- **Cycle time:** {hours(d.cycle_time_hours)} ({_cell(d.velocity_text)})",
        ]
        if d.plateau:
            lines.append(f"- **Plateau risk:** {_cell(d.plateau_reason)}")
        lines += [f"- **Break, {b.link}:** {_cell(b.name)} ({_cell(b.why)})" for b in d.breaks]
        lines += [f"- **Signals:** {_cell(w)}" for w in d.signal_warnings]
        if d.next_steps:
            lines += ["", "Next steps:", ""]
            lines += [f"{i}. {_cell(step)}" for i, step in enumerate(d.next_steps, start=1)]
        lines.append("")
    if not report.loops:
        lines += ["No loop maps yet.", ""]

    lines += [f"## {data}", ""]
    for ds in report.datasets:
        source = f" (from {_cell(ds.source_name)})" if ds.source_name else ""
        lines += [f"### {_cell(ds.name)}{source}", ""]
        if ds.profile is None:
            lines += [f"No profile: {_cell(ds.profile_note)}", ""]
            continue
        lines += _table(["Measure", "Value"], profile_rows(ds.profile))
        counts = sorted(ds.profile.event_counts.items(), key=lambda kv: -kv[1])
        lines += _table(["Event", "Count"], [[name, count(n)] for name, n in counts])
    if not report.datasets:
        lines += ["No datasets yet.", ""]

    lines += [f"## {models}", ""]
    for ds in report.datasets:
        lines += [f"### {_cell(ds.name)}", ""]
        if ds.versions:
            header, rows = version_rows(ds)
            lines += _table(header, rows)
        lines += [f"**Verdict:** {_cell(verdict_sentence(ds))}", ""]
    if not report.datasets:
        lines += ["No datasets yet, so no model versions.", ""]
    return "\n".join(lines)
