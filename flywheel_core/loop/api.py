"""Service functions for loop maps: save and read versions, their verdicts, and the data lint.

Pages and the command line call these; each is one unit of work in the store, role-checked for
``actor`` (viewer to read, editor to save or delete).
"""

from __future__ import annotations

from typing import Any

from flywheel_core.data.analytics import ANALYSIS_COLUMNS, profile_events
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import DataValidationError
from flywheel_core.loop.diagnosis import LoopSummary, diagnose
from flywheel_core.loop.lint import CanvasLintReport, lint_loop
from flywheel_core.loop.model import LoopMap
from flywheel_core.storage.models import LoopVersion
from flywheel_core.storage.models import LoopMap as LoopRow
from flywheel_core.storage.store import Store

__all__ = [
    "LoopRow",
    "LoopSummary",
    "LoopVersion",
    "delete_loop",
    "get_loop_version",
    "lint_loop_against_dataset",
    "list_loop_versions",
    "list_loops",
    "save_loop",
    "summarize_loops",
]


def list_loops(store: Store, *, workspace_id: int, actor: str) -> list[LoopRow]:
    """The workspace's saved loop maps, by name."""
    return store.list_loops(workspace_id=workspace_id, actor=actor)


def get_loop_version(
    store: Store, *, workspace_id: int, name: str, actor: str, version: int | None = None
) -> LoopVersion:
    """One saved version of a map (the latest when ``version`` is None)."""
    return store.get_loop_version(workspace_id=workspace_id, name=name, version=version, actor=actor)


def list_loop_versions(store: Store, *, workspace_id: int, name: str, actor: str) -> list[LoopVersion]:
    return store.loop_versions(workspace_id=workspace_id, name=name, actor=actor)


def save_loop(
    store: Store,
    *,
    workspace_id: int,
    loop_map: LoopMap,
    actor: str,
    base_version: int | None,
    note: str = "",
) -> LoopVersion:
    """Save ``loop_map`` as its next version; refused when someone saved after ``base_version``."""
    return store.save_loop(
        workspace_id=workspace_id,
        name=loop_map.name,
        content=loop_map.to_json(),
        actor=actor,
        base_version=base_version,
        note=note,
    )


def delete_loop(store: Store, *, workspace_id: int, name: str, actor: str) -> None:
    store.delete_loop(workspace_id=workspace_id, name=name, actor=actor)


def summarize_loops(store: Store, *, workspace_id: int, actor: str) -> list[LoopSummary]:
    """The verdict of the latest version of every loop map in the workspace, by name (one read)."""
    out = []
    for loop, row in store.latest_loop_versions(workspace_id=workspace_id, actor=actor):
        name = loop.name
        try:
            d = diagnose(LoopMap.from_json(row.content))
        except DataValidationError as error:
            out.append(
                LoopSummary(name, row.version, row.author, row.created_at, "invalid", "unknown", None, None, str(error))
            )
            continue
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
