"""Service functions for loop maps: save and read versions, their verdicts, and the data lint.

Pages and the command line call these; each is one unit of work in the store, role-checked for
``actor`` (viewer to read, editor to save or delete).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel_core.data.analytics import ANALYSIS_COLUMNS, profile_events
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import DataValidationError
from flywheel_core.loop.diagnosis import LoopSummary, diagnose
from flywheel_core.loop.lint import CanvasLintReport, lint_loop
from flywheel_core.loop.model import LoopMap
from flywheel_core.storage.models import LoopMap as LoopRow
from flywheel_core.storage.models import LoopVersion
from flywheel_core.storage.store import Store

__all__ = [
    "LoopRow",
    "LoopSummary",
    "SavedLoop",
    "delete_loop",
    "get_loop_version",
    "lint_loop_against_dataset",
    "list_loop_versions",
    "list_loops",
    "save_loop",
    "summarize_loops",
]


@dataclass(frozen=True)
class SavedLoop:
    """One saved version of a loop map, its content parsed back into a :class:`LoopMap`.

    ``loop_map`` is None (and ``problem`` says why) when stored content no longer reads, so a history
    with one damaged version still lists the others.
    """

    name: str
    version: int
    author: str
    note: str
    saved_at: datetime
    loop_map: LoopMap | None
    problem: str = ""

    def require_map(self) -> LoopMap:
        """The parsed map, or the reason it cannot be opened as a DataValidationError."""
        if self.loop_map is None:
            raise DataValidationError(f"Version {self.version} of '{self.name}' cannot be opened: {self.problem}")
        return self.loop_map


def _saved(name: str, row: LoopVersion) -> SavedLoop:
    try:
        parsed: LoopMap | None = LoopMap.from_json(row.content)
        problem = ""
    except DataValidationError as error:
        parsed, problem = None, str(error)
    return SavedLoop(name, row.version, row.author, row.note, row.created_at, parsed, problem)


def list_loops(store: Store, *, workspace_id: int, actor: str) -> list[LoopRow]:
    """The workspace's saved loop maps, by name."""
    return store.list_loops(workspace_id=workspace_id, actor=actor)


def get_loop_version(
    store: Store, *, workspace_id: int, name: str, actor: str, version: int | None = None
) -> SavedLoop:
    """One saved version of a map (the latest when ``version`` is None)."""
    return _saved(name, store.get_loop_version(workspace_id=workspace_id, name=name, version=version, actor=actor))


def list_loop_versions(store: Store, *, workspace_id: int, name: str, actor: str) -> list[SavedLoop]:
    """Every saved version of a map, oldest first."""
    return [_saved(name, row) for row in store.loop_versions(workspace_id=workspace_id, name=name, actor=actor)]


def save_loop(
    store: Store,
    *,
    workspace_id: int,
    loop_map: LoopMap,
    actor: str,
    base_version: int | None,
    note: str = "",
) -> SavedLoop:
    """Save ``loop_map`` as its next version; refused when someone saved after ``base_version``."""
    row = store.save_loop(
        workspace_id=workspace_id,
        name=loop_map.name,
        content=loop_map.to_json(),
        actor=actor,
        base_version=base_version,
        note=note,
    )
    return SavedLoop(loop_map.name, row.version, row.author, row.note, row.created_at, loop_map)


def delete_loop(store: Store, *, workspace_id: int, name: str, actor: str) -> None:
    store.delete_loop(workspace_id=workspace_id, name=name, actor=actor)


def summarize_loops(store: Store, *, workspace_id: int, actor: str) -> list[LoopSummary]:
    """The verdict of the latest version of every loop map in the workspace, by name (one read)."""
    out = []
    for loop, row in store.latest_loop_versions(workspace_id=workspace_id, actor=actor):
        saved = _saved(loop.name, row)
        name = loop.name
        if saved.loop_map is None:
            out.append(
                LoopSummary(
                    name, row.version, row.author, row.created_at, "invalid", "unknown", None, None, saved.problem
                )
            )
            continue
        d = diagnose(saved.loop_map)
        out.append(
            LoopSummary(
                name,
                row.version,
                row.author,
                row.created_at,
                d.verdict,
                d.moat,
                d.weakest,
                d.cycle_time_hours,
                d.headline,
            )
        )
    return out


def lint_loop_against_dataset(
    store: Store, *, workspace_id: int, loop_map: LoopMap, dataset: str, actor: str
) -> CanvasLintReport:
    """Read the dataset's events and signal dictionary, profile them, and lint the map against them."""
    row = store.get_dataset(workspace_id=workspace_id, name=dataset, actor=actor)
    dictionary = SignalDictionary.from_json(row.signal_dictionary)
    events: Any = store.read_dataset_file(row, columns=list(ANALYSIS_COLUMNS))
    return lint_loop(loop_map, profile_events(events, dictionary), dictionary, dataset=row.name)
