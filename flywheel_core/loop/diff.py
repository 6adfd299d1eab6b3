"""What changed between two versions of a loop map: field by field, with signals and risks matched by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flywheel_core.loop.model import LoopMap

__all__ = ["FieldChange", "LoopDiff", "diff_loops"]


@dataclass(frozen=True)
class FieldChange:
    path: str  # e.g. "components.storage.health" or "signals[skip].weight"
    before: Any
    after: Any

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
        return [{"path": c.path, "kind": c.kind, "before": c.before, "after": c.after} for c in self.changes]


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
