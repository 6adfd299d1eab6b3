"""Service functions for the workspace report: gather it from the store, and the model registry as a table.

:func:`build_report` reads the workspace in three role-checked reads (the workspace, its loop maps with
their latest versions, its datasets with their model versions) and then every dataset's events file, so it
takes a second or more on large data. Render the result with :func:`flywheel_core.report.html.render_html`
or :func:`flywheel_core.report.markdown.render_markdown`. :func:`model_versions_frame` is the registry for
CSV export through :func:`flywheel_core.data.export.safe_csv`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flywheel_core.curves.sources import judge_model_versions, version_metrics
from flywheel_core.exceptions import DataValidationError, FlywheelError, NotFoundError
from flywheel_core.learning.registry import VersionInfo
from flywheel_core.loop.diagnosis import LoopSummary, diagnose
from flywheel_core.loop.model import LoopMap
from flywheel_core.numbers import iso
from flywheel_core.report.contents import DatasetSection, LoopSection, VersionRow, WorkspaceReport
from flywheel_core.storage.models import as_utc

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.storage.models import Dataset, LoopVersion, ModelVersion
    from flywheel_core.storage.store import Store

__all__ = ["build_report", "model_versions_frame"]


def _workspace_name(store: Store, workspace_id: int, actor: str) -> str:
    for workspace in store.list_workspaces(username=actor):
        if workspace.id == workspace_id:
            return str(workspace.name)
    raise NotFoundError(f"No workspace with id {workspace_id}. Pick an existing workspace.")


def _loop_section(name: str, row: LoopVersion) -> LoopSection:
    try:
        loop_map = LoopMap.from_json(row.content)
        d = diagnose(loop_map)
    except DataValidationError as error:
        summary = LoopSummary(
            name, row.version, row.author, row.created_at, "invalid", "unknown", None, None, str(error)
        )
        return LoopSection(summary=summary, diagnosis=None, product="")
    summary = LoopSummary(
        name, row.version, row.author, row.created_at, d.verdict, d.moat, d.weakest, d.cycle_time_hours, d.headline
    )
    return LoopSection(summary=summary, diagnosis=d, product=loop_map.product)


def _numeric(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    return {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _version_row(v: ModelVersion) -> VersionRow:
    info = VersionInfo.from_row(v)
    hold = info.counts.get("holdout")
    return VersionRow(
        version=int(v.version),
        turn=int(v.turn),
        train_rows=int(v.train_rows),
        task=v.task,
        algorithm=v.algorithm,
        train_seconds=float(v.train_seconds),
        author=v.author,
        created_at=as_utc(v.created_at) or v.created_at,
        metrics=_numeric(v.metrics),
        intervals=info.intervals,
        unscored=info.unscored,
        holdout_rows=hold.rows if hold else None,
        holdout_positives=hold.positives if hold else None,
    )


def _dataset_section(store: Store, dataset: Dataset, versions: list[ModelVersion]) -> DatasetSection:
    from flywheel_core.data.analytics import ANALYSIS_COLUMNS, active_users, events_over_time, profile_events
    from flywheel_core.data.signals import SignalDictionary

    profile = activity = weeks = None
    profile_note = ""
    try:
        events = store.read_dataset_file(dataset, columns=list(ANALYSIS_COLUMNS))
        dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
        profile = profile_events(events, dictionary)
        activity = active_users(events)
        weeks = events_over_time(events, dictionary, freq="W")
        del events
    except FlywheelError as error:
        profile_note = str(error)
    rows = tuple(_version_row(v) for v in sorted(versions, key=lambda v: v.version))
    metrics = tuple(m for m in version_metrics(rows) if not m.endswith(("rows", "positives")))
    verdict = None
    verdict_note = ""
    if not rows:
        verdict_note = "No model versions yet: train versions turn by turn to see whether the loop compounds."
    else:
        judged = judge_model_versions(rows)
        verdict = judged.report
        if verdict is None:
            verdict_note = f"No verdict yet: {judged.reason}"
    return DatasetSection(
        name=dataset.name,
        source_name=dataset.source_name,
        rows=int(dataset.rows),
        profile=profile,
        profile_note=profile_note,
        activity=activity,
        signal_weeks=weeks,
        versions=rows,
        metrics=metrics,
        metric=metrics[0] if metrics else None,
        verdict=verdict,
        verdict_note=verdict_note,
    )


def build_report(store: Store, *, workspace_id: int, actor: str) -> WorkspaceReport:
    """Everything the report shows for one workspace (and nothing from any other), read as ``actor``.

    Raises:
        NotFoundError: no workspace has this id, or ``actor`` is not a member of it.
        PermissionDeniedError: roles are enforced and ``actor`` may not read the workspace.
    """
    name = _workspace_name(store, workspace_id, actor)
    loops = tuple(
        _loop_section(loop.name, row)
        for loop, row in store.latest_loop_versions(workspace_id=workspace_id, actor=actor)
    )
    datasets = tuple(
        _dataset_section(store, dataset, versions)
        for dataset, versions in store.datasets_with_versions(workspace_id=workspace_id, actor=actor)
    )
    return WorkspaceReport(workspace=name, generated_at=datetime.now(UTC), loops=loops, datasets=datasets)


def model_versions_frame(store: Store, *, workspace_id: int, actor: str) -> pd.DataFrame:
    """The workspace's model-version registry, one row per version (one read): each metric as a column
    beside its 95% interval (``<metric>_low``, ``<metric>_high``) and, when not scored, the reason
    (``<metric>_unscored``); the holdout's rows and positives."""
    import pandas as pd

    pairs = sorted(store.datasets_with_versions(workspace_id=workspace_id, actor=actor), key=lambda p: p[0].name)
    versions = [v for _, vs in pairs for v in vs]
    metrics = [m for m in version_metrics(versions) if not m.endswith(("rows", "positives"))]  # counts: own columns
    rows = [
        {
            "dataset": dataset.name,
            "version": v.version,
            "turn": v.turn,
            "train_rows": v.train_rows,
            "task": v.task,
            "algorithm": v.algorithm,
            "train_seconds": round(float(v.train_seconds), 3),
            "author": v.author,
            "created_at": iso(v.created_at),
            "holdout_rows": info.counts["holdout"].rows if "holdout" in info.counts else None,
            "holdout_positives": info.counts["holdout"].positives if "holdout" in info.counts else None,
            **{
                column: value
                for m in metrics
                for column, value in (
                    (m, info.metrics.get(m)),
                    (f"{m}_low", info.intervals[m][0] if m in info.intervals else None),
                    (f"{m}_high", info.intervals[m][1] if m in info.intervals else None),
                    (f"{m}_unscored", info.unscored.get(m, "")),
                )
            },
        }
        for dataset, vs in pairs
        for v, info in ((v, VersionInfo.from_row(v)) for v in sorted(vs, key=lambda v: v.version))
    ]
    columns = ["dataset", "version", "turn", "train_rows", "task", "algorithm", "train_seconds", "author"]
    evidence = [f"{m}{suffix}" for m in metrics for suffix in ("", "_low", "_high", "_unscored")]
    return pd.DataFrame(rows, columns=[*columns, "created_at", "holdout_rows", "holdout_positives", *evidence])
