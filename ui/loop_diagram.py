"""The loop diagram: five stages in a circle as Graphviz DOT, weak and missing links marked.

Drawn by ``st.graphviz_chart`` in the browser (no system Graphviz, no network). Node positions are pinned
(``neato`` with ``pos="x,y!"``) so the stages always sit on a circle in the loop's order.
"""

from __future__ import annotations

import math

from flywheel_core.charts.palette import BAD, BORDER, GOOD, HEALTH_FILLS, PAPER, WARN
from flywheel_core.loop.diagnosis import LoopDiagnosis
from flywheel_core.loop.findings import LoopVerdict
from flywheel_core.loop.model import STAGES, LoopMap

__all__ = ["EDGE_STYLE", "loop_dot"]

# status: (colour, style, label)
EDGE_STYLE = {
    "ok": (GOOD, "solid", ""),
    "weak": (WARN, "dashed", "weak"),
    "manual": (WARN, "dashed", "by hand"),
    "missing": (BAD, "dashed", "missing"),
}
_AUTOMATED = {"yes": "automated", "partly": "partly by hand", "no": "by hand"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def loop_dot(loop_map: LoopMap, diagnosis: LoopDiagnosis, *, radius_in: float = 2.0) -> str:
    """DOT source of the loop: nodes coloured by health, links coloured and dashed by status."""
    breaks = {b.link: b.name for b in diagnosis.breaks}
    lines = [
        "digraph loop {",
        "  layout=neato;",
        f"  graph [label={_quote(f'The loop — {loop_map.name}')}, labelloc=t, fontsize=16, fontname=Helvetica,"
        ' bgcolor="transparent", outputorder=edgesfirst];',
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11, width=1.7, height=0.75,'
        " fixedsize=true, penwidth=1.5];",
        "  edge [fontname=Helvetica, fontsize=10, penwidth=2.2, arrowsize=0.9];",
    ]
    for i, stage in enumerate(STAGES):
        angle = math.pi / 2 - 2 * math.pi * i / len(STAGES)
        x, y = radius_in * math.cos(angle), radius_in * math.sin(angle)
        c = loop_map.component(stage)
        if c.is_empty:
            text = f"{STAGES[stage].label}\nnot mapped"
            attrs = f'fillcolor="{PAPER}", color="{BAD}", style="rounded,dashed"'
        else:
            health = "health ?" if c.health is None else f"health {c.health}/5"
            hours = "" if c.latency_hours is None else f" · {c.latency_hours:g} h"
            text = f"{STAGES[stage].label}\n{health}{hours}\n{_AUTOMATED[c.automated]}"
            border = BAD if stage == diagnosis.weakest else BORDER
            attrs = f'fillcolor="{HEALTH_FILLS[c.health]}", color="{border}"'
            if stage == diagnosis.weakest:
                attrs += ", penwidth=3"
        lines.append(f'  {stage} [label={_quote(text)}, pos="{x:.2f},{y:.2f}!", {attrs}];')
    for link in diagnosis.links:
        colour, style, tag = EDGE_STYLE[link.status]
        tag = breaks.get(link.name, tag)
        label = f", label={_quote(tag)}, fontcolor={_quote(colour)}" if tag else ""
        tooltip = _quote(f"{link.name}: {link.reason}")
        lines.append(f'  {link.source} -> {link.target} [color="{colour}", style={style}{label}, tooltip={tooltip}];')
    verdict = LoopVerdict(diagnosis.verdict).label
    lines.append(f'  verdict [shape=plaintext, style="", label={_quote(verdict)}, pos="0,0!", fontsize=14];')
    lines.append("}")
    return "\n".join(lines)
