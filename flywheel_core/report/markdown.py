"""The workspace report as Markdown (see :mod:`flywheel_core.report.build`)."""

from __future__ import annotations

from collections.abc import Sequence

from flywheel_core.loop.diagnosis import label
from flywheel_core.report.build import (
    CURVE_WORDS,
    SECTIONS,
    VERDICT_WORDS,
    WorkspaceReport,
    fmt_count,
    fmt_hours,
    fmt_when,
    profile_rows,
    summary_line,
    verdict_sentence,
    version_rows,
)

__all__ = ["markdown"]


def _cell(text: object) -> str:
    value = "" if text is None else str(text)
    return " ".join(value.replace("|", "\\|").split()) or "—"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(report: WorkspaceReport) -> str:
    summary, loops, data, models = SECTIONS
    lines = [
        f"# Workspace report: {_cell(report.workspace)}",
        "",
        f"_Generated {fmt_when(report.generated_at)} by Flywheel Studio._ {summary_line(report)}",
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
                    VERDICT_WORDS.get(s.summary.verdict, s.summary.verdict),
                    s.summary.moat,
                    label(s.summary.weakest) if s.summary.weakest else "—",
                    fmt_hours(s.summary.cycle_time_hours),
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
                    fmt_count(d.rows),
                    fmt_count(len(d.versions)),
                    CURVE_WORDS.get(d.verdict.verdict, d.verdict.verdict)
                    if d.verdict is not None
                    else "no verdict yet",
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
            lines += [f"**{VERDICT_WORDS['invalid']}.** {_cell(s.summary.headline)}", ""]
            continue
        lines += [
            f"**Verdict: {VERDICT_WORDS[d.verdict]}.** {_cell(d.verdict_reason)}",
            "",
            f"- **Moat:** {d.moat} learning",
            f"- **Weakest stage:** {_cell(d.weakest_reason)}",
            f"- **Cycle time:** {fmt_hours(d.cycle_time_hours)} ({_cell(d.velocity_text)})",
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
        lines += _table(["Event", "Count"], [[name, fmt_count(n)] for name, n in counts])
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
