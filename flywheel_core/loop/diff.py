"""What changed between two versions of a loop map: field by field, with signals and risks matched by name.

Each change keeps its JSON path (``components.analysis.owner``, ``signals[skip].weight``) for files and
the CLI, and says it for people as :attr:`FieldChange.label` ("Analysis · owner", "Signal 'skip' · weight")
with values in words (:func:`value_text`: a risk's name, "yes" for true, "—" for nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flywheel_core.loop.findings import cold_start_label, label, risk_label
from flywheel_core.loop.model import STAGES, LoopMap

__all__ = ["FieldChange", "LoopDiff", "diff_loops", "field_label", "value_text"]

_COMPONENT_FIELDS = {
    "description": "what it is here",
    "system": "system",
    "owner": "owner",
    "automated": "automated?",
    "latency_hours": "latency (hours)",
    "health": "health",
    "evidence": "evidence",
}
_SIGNAL_FIELDS = {
    "name": "name",
    "kind": "kind",
    "polarity": "polarity",
    "weight": "weight",
    "volume_per_day": "volume per day",
    "known_bias": "known bias",
    "rule": "rule",
}
_RISK_FIELDS = {"risk": "risk", "likelihood": "likelihood", "impact": "impact", "mitigation": "mitigation"}
_FIXED = {
    "name": "Map name",
    "product": "Product",
    "network_learning.answer": "Network learning · would other users notice a deletion?",
    "network_learning.why": "Network learning · why",
    "network_learning.headroom": "Network learning · richer or saturating as you grow?",
    "velocity.event_to_production_hours": "Velocity · event to model in production (hours)",
    "velocity.deploys_per_week": "Velocity · deploys per week",
}
_LISTED = re.compile(r"^(signals|risks)\[(.*)\]\.([a-z_]+)$")


def field_label(path: str) -> str:
    """A change's path said for people: ``components.analysis.owner`` is "Analysis · owner"."""
    if path in _FIXED:
        return _FIXED[path]
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "components" and parts[1] in STAGES:
        return f"{label(parts[1])} · {_COMPONENT_FIELDS.get(parts[2], parts[2].replace('_', ' '))}"
    if len(parts) == 3 and parts[0] == "cold_start":
        field = {"used": "in use", "notes": "notes"}.get(parts[2], parts[2])
        return f"Cold start · {cold_start_label(parts[1])} · {field}"
    listed = _LISTED.match(path)
    if listed:
        kind, name, field = listed.groups()
        if kind == "signals":
            return f"Signal '{name}' · {_SIGNAL_FIELDS.get(field, field.replace('_', ' '))}"
        return f"Risk '{risk_label(name)}' · {_RISK_FIELDS.get(field, field.replace('_', ' '))}"
    return path.replace("_", " ")


def value_text(path: str, value: Any) -> str:
    """A changed value in words: "—" for nothing, yes/no for true/false, a risk's name for its key."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if path.startswith("risks[") and path.endswith("].risk"):
        return risk_label(str(value))
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


@dataclass(frozen=True)
class FieldChange:
    path: str  # e.g. "components.storage.health" or "signals[skip].weight"
    before: Any
    after: Any

    @property
    def label(self) -> str:
        """The field for people: "Analysis · owner" (see :func:`field_label`)."""
        return field_label(self.path)

    @property
    def kind(self) -> str:
        if self.before is None and self.after is not None:
            return "added"
        if self.after is None and self.before is not None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class LoopDiff:
    changes: tuple[FieldChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"path": c.path, "field": c.label, "kind": c.kind, "before": c.before, "after": c.after}
            for c in self.changes
        ]


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            label = item.get("name") or item.get("risk") if isinstance(item, dict) else None
            yield from _flatten(item, f"{prefix}[{label if label else i}]")
    else:
        yield prefix, value


def diff_loops(old: LoopMap, new: LoopMap) -> LoopDiff:
    """Every field that differs between two maps (signals and risks matched by name)."""
    before = dict(_flatten(old.to_json(), ""))
    after = dict(_flatten(new.to_json(), ""))
    changes = []
    for path in [*before, *(p for p in after if p not in before)]:
        a, b = before.get(path), after.get(path)
        if a != b or (path in before) != (path in after):
            changes.append(FieldChange(path, a, b))
    return LoopDiff(tuple(changes))
