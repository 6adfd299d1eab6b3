"""The loop diagram: five stages in a circle as Graphviz DOT, weak and missing links marked.

Drawn by ``st.graphviz_chart`` in the browser (no system Graphviz, no network). Node positions are pinned
(``neato`` with ``pos="x,y!"``) so the stages always sit on a circle in the loop's order. A link's label
is a text node of its own, pinned outside the circle beside the link and pushed out until no stage box
covers it.

Streamlit's stylesheet draws every text of the chart at 9.6 px in the drawing's own units, whatever the
DOT font size says; the text people read is that times the drawing's scale. So the page draws the diagram
at its natural size (``width="content"``: 1 pt of the drawing is 4/3 px, so text reads 12.8 px), and the
drawing is kept at most :data:`MAX_WIDTH_PT` wide, the diagram column of a 1280-px window, so it is not
shrunk there. DOT font sizes (at least :data:`MIN_FONT_PT`) size the boxes with room for that text.
"""

from __future__ import annotations

import math

from flywheel_core.charts.palette import BAD, BORDER, GOOD, HEALTH_FILLS, PAPER, WARN
from flywheel_core.loop.diagnosis import LoopDiagnosis
from flywheel_core.loop.findings import LoopVerdict
from flywheel_core.loop.model import STAGES, LoopMap
from flywheel_core.numbers import hours

__all__ = ["EDGE_STYLE", "MAX_WIDTH_PT", "MIN_FONT_PT", "NODE_HEIGHT_IN", "NODE_WIDTH_IN", "loop_dot"]

# status: (colour, style, label)
EDGE_STYLE = {
    "ok": (GOOD, "solid", ""),
    "weak": (WARN, "dashed", "weak"),
    "manual": (WARN, "dashed", "by hand"),
    "missing": (BAD, "dashed", "missing"),
}
_AUTOMATED = {"yes": "automated", "partly": "partly by hand", "no": "by hand"}
MIN_FONT_PT = 12
MAX_WIDTH_PT = 283.0  # 378 px, the diagram column of a 1280-px window, at 4/3 px per pt
NODE_WIDTH_IN = 1.0
NODE_HEIGHT_IN = 1.0
RADIUS_IN = 1.45
_NODE_FONT, _EDGE_FONT, _VERDICT_FONT = 12, 12, 14
_CHAR_IN = 0.52 / 72  # the width of an average Helvetica character, per point of font size
_LINE_IN = 1.25 / 72  # a line's height, per point of font size


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wrap(text: str, width: int = 14) -> str:
    """Break a link's label into lines of about ``width`` characters ("insights die\\nin slide decks")."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _size(text: str) -> tuple[float, float]:
    """Half the width and half the height of a link label, in inches."""
    lines = text.split("\n")
    return max(len(line) for line in lines) * _EDGE_FONT * _CHAR_IN / 2, len(lines) * _EDGE_FONT * _LINE_IN / 2


def _label_pos(
    a: tuple[float, float], b: tuple[float, float], text: str, boxes: list[tuple[float, float]]
) -> tuple[float, float]:
    """Where a link's label goes: beside the link's midpoint, pushed out of the circle until it clears every
    stage box (centres ``boxes``, each :data:`NODE_WIDTH_IN` by :data:`NODE_HEIGHT_IN`)."""
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    norm = math.hypot(mx, my) or 1.0
    ux, uy = mx / norm, my / norm
    half_w, half_h = _size(text)
    push = 0.1 + abs(ux) * half_w + abs(uy) * half_h
    gap = 0.06
    while push < 3:
        x, y = mx + ux * push, my + uy * push
        clear = all(
            abs(x - bx) >= half_w + NODE_WIDTH_IN / 2 + gap or abs(y - by) >= half_h + NODE_HEIGHT_IN / 2 + gap
            for bx, by in boxes
        )
        if clear:
            return x, y
        push += 0.05
    return mx + ux * push, my + uy * push


def loop_dot(loop_map: LoopMap, diagnosis: LoopDiagnosis, *, radius_in: float = RADIUS_IN) -> str:
    """DOT source of the loop: nodes coloured by health, links coloured and dashed by status."""
    breaks = {b.link: b.name for b in diagnosis.breaks}
    unowned = set(diagnosis.unowned_stages)
    lines = [
        "digraph loop {",
        "  layout=neato;",
        '  graph [fontname=Helvetica, bgcolor="transparent", outputorder=edgesfirst, pad=0.05];',
        f'  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize={_NODE_FONT},'
        f" width={NODE_WIDTH_IN}, height={NODE_HEIGHT_IN}, fixedsize=true, penwidth=1.5];",
        f"  edge [fontname=Helvetica, fontsize={_EDGE_FONT}, penwidth=2.2, arrowsize=0.8];",
    ]
    where: dict[str, tuple[float, float]] = {}
    for i, stage in enumerate(STAGES):
        angle = math.pi / 2 - 2 * math.pi * i / len(STAGES)
        x, y = radius_in * math.cos(angle), radius_in * math.sin(angle)
        where[stage] = (x, y)
        c = loop_map.component(stage)
        if c.is_empty:
            text = f"{STAGES[stage].label}\nnot mapped"
            attrs = f'fillcolor="{PAPER}", color="{BAD}", style="rounded,dashed"'
        else:
            health = "health ?" if c.health is None else f"health {c.health}/5"
            latency = "" if c.latency_hours is None else f"\n{hours(c.latency_hours)}"
            text = f"{STAGES[stage].label}\n{health}{latency}\n{_AUTOMATED[c.automated]}"
            if stage in unowned:
                text += "\nno owner"
            border = BAD if stage == diagnosis.weakest else BORDER
            attrs = f'fillcolor="{HEALTH_FILLS[c.health]}", color="{border}"'
            if stage == diagnosis.weakest:
                attrs += ", penwidth=3"
        lines.append(f'  {stage} [label={_quote(text)}, pos="{x:.2f},{y:.2f}!", {attrs}];')
    boxes = list(where.values())
    for link in diagnosis.links:
        colour, style, tag = EDGE_STYLE[link.status]
        tag = breaks.get(link.name, tag)
        tooltip = _quote(f"{link.name}: {link.reason}")
        lines.append(f'  {link.source} -> {link.target} [color="{colour}", style={style}, tooltip={tooltip}];')
        if tag:
            text = _wrap(tag)
            x, y = _label_pos(where[link.source], where[link.target], text, boxes)
            lines.append(
                f'  label_{link.source}_{link.target} [shape=plaintext, style="", fixedsize=false, width=0, '
                f'height=0, margin=0, label={_quote(text)}, fontsize={_EDGE_FONT}, fontcolor="{colour}", '
                f'pos="{x:.2f},{y:.2f}!", tooltip={tooltip}];'
            )
    verdict = LoopVerdict(diagnosis.verdict).label
    lines.append(
        f'  verdict [shape=plaintext, style="", fixedsize=false, label={_quote(verdict)}, pos="0,0!", '
        f"fontsize={_VERDICT_FONT}];"
    )
    lines.append("}")
    return "\n".join(lines)
