"""The Markdown brief of a loop map: one readable page of map and diagnosis, importable again.

The map's JSON is appended in a fenced ``json`` block, so :meth:`LoopMap.from_json_text` can read the
brief back exactly.
"""

from __future__ import annotations

from flywheel_core.loop.findings import NO_OWNER_WHY, LoopDiagnosis, LoopVerdict
from flywheel_core.loop.model import COLD_START, RISKS, STAGES, LoopMap
from flywheel_core.numbers import hours

__all__ = ["cycle_time_text", "render_markdown"]


def _cell(text: object) -> str:
    value = "" if text is None else str(text)
    return value.replace("|", "\\|").replace("\n", " ") or "—"


def cycle_time_text(diagnosis: LoopDiagnosis, loop_map: LoopMap) -> str:
    """The cycle time with its definition, and the end-to-end figure entered under Velocity beside it."""
    text = f"{hours(diagnosis.cycle_time_hours)} (cycle time = the sum of the stages' latencies)"
    entered = loop_map.velocity.event_to_production_hours
    if entered is not None:
        text += f"; entered as event to model in production: {hours(entered)}"
    return text


def render_markdown(loop_map: LoopMap, diagnosis: LoopDiagnosis) -> str:
    d = diagnosis
    lines = [f"# {loop_map.name}", ""]
    if loop_map.product:
        lines += [f"_Product:_ {loop_map.product}", ""]
    lines += [
        f"**Verdict: {LoopVerdict(d.verdict).label}.** {d.verdict_reason[:1].upper()}{d.verdict_reason[1:]}.",
        "",
        f"- **Moat:** {d.moat} learning"
        + (f" — {loop_map.network_learning.why}" if loop_map.network_learning.why else ""),
        f"- **Weakest stage:** {d.weakest_reason}",
        f"- **Cycle time:** {cycle_time_text(d, loop_map)} — {d.velocity_text}",
    ]
    if d.plateau:
        lines.append(f"- **Plateau risk:** {d.plateau_reason}")
    for b in d.breaks:
        lines.append(f"- **Break, {b.link}:** {b.name} ({b.why})")
    for stage in d.unowned_stages:
        lines.append(f"- **No owner, {STAGES[stage].label}:** {NO_OWNER_WHY}")
    lines += ["", "## Next steps", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(d.next_steps, start=1)] or ["Nothing pressing."]
    lines += [
        "",
        "## The five components",
        "",
        "| Stage | What it is here | System | Owner | Automated | Latency | Health | Evidence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stage, info in STAGES.items():
        c = loop_map.component(stage)
        health = "—" if c.health is None else f"{c.health}/5"
        owner = _cell(c.owner) if c.owner.strip() or c.is_empty else "**no owner**"
        lines.append(
            f"| {info.label} | {_cell(c.description)} | {_cell(c.system)} | {owner} | "
            f"{'—' if c.is_empty else c.automated} | {hours(c.latency_hours)} | {health} | {_cell(c.evidence)} |"
        )
    lines += ["", "Links: " + ", ".join(f"{link.name} {link.status}" for link in d.links), ""]
    lines += ["## Signals", ""]
    if loop_map.signals:
        lines += [
            "| Signal | Kind | Polarity | Weight | Volume/day | Known bias | Rule |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in loop_map.signals:
            volume = "—" if s.volume_per_day is None else f"{s.volume_per_day:,.0f}"
            lines.append(
                f"| {_cell(s.name)} | {s.kind} | {s.polarity} | {s.weight:g} | {volume} | {_cell(s.known_bias)} | "
                f"{_cell(s.rule)} |"
            )
    else:
        lines.append("None listed.")
    for warning in d.signal_warnings:
        lines += ["", f"> {warning}"]
    lines.append("")
    n = loop_map.network_learning
    lines += [
        "## Network learning",
        "",
        f"_If you deleted one user's data, would other users notice?_ **{n.answer}**. {n.why}",
        f"As you grow, does the task get richer or saturate? **{n.headroom}**.",
        "",
        "## Cold start",
        "",
    ]
    used = [(k, loop_map.cold_start[k]) for k in COLD_START if loop_map.cold_start[k].used]
    lines += [f"- {COLD_START[k]}" + (f": {s.notes}" if s.notes else "") for k, s in used] or ["No plan yet."]
    lines += ["", "## Risks", ""]
    if loop_map.risks:
        lines += ["| Risk | Likelihood | Impact | Mitigation |", "|---|---|---|---|"]
        for r in loop_map.risks:
            lines.append(
                f"| {_cell(RISKS.get(r.risk, r.risk))} | {r.likelihood} | {r.impact} | {_cell(r.mitigation)} |"
            )
    else:
        lines.append("None listed.")
    v = loop_map.velocity
    lines += [
        "",
        "## Velocity",
        "",
        f"Event to model in production (entered): {hours(v.event_to_production_hours)}; the stages' latencies sum "
        f"to {hours(d.cycle_time_hours)}; deploys per week: "
        f"{'—' if v.deploys_per_week is None else f'{v.deploys_per_week:,g}'}.",
        "",
        "## Map data",
        "",
        "```json",
        loop_map.to_json_text(),
        "```",
        "",
    ]
    return "\n".join(lines)
