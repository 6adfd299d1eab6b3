"""Service functions for model versions: train turn by turn, list, compare (runs go through ``jobs``).

Pages and the command line call these; each read or write is one role-checked unit of work.
"""

from __future__ import annotations

from typing import Any

from flywheel_core.data.api import DatasetInfo
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.learning.registry import (
    CompareReport,
    VersionInfo,
    compare_versions,
    model_bytes,
    registry_table,
    version_infos,
)
from flywheel_core.learning.turns import Progress, TrainingResult, train_feedback_versions
from flywheel_core.params import MIN_NEGATIVES, MIN_POSITIVES, N_TURNS, TASK, TURN_BY, check, model_param
from flywheel_core.storage.models import ModelVersion
from flywheel_core.storage.store import Store

__all__ = [
    "CompareReport",
    "ModelVersion",
    "VersionInfo",
    "compare_versions",
    "list_model_versions",
    "registry_table",
    "run_training",
    "store_versions",
    "versions_by_dataset",
]


def list_model_versions(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[VersionInfo]:
    """A dataset's model versions with their metrics' evidence, oldest first."""
    return version_infos(store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset_id, actor=actor))


def versions_by_dataset(store: Store, *, workspace_id: int, actor: str) -> list[tuple[DatasetInfo, list[VersionInfo]]]:
    """Every dataset with its model versions (oldest first), in one read."""
    return [
        (DatasetInfo.from_row(d), version_infos(versions))
        for d, versions in store.datasets_with_versions(workspace_id=workspace_id, actor=actor)
    ]


def run_training(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    actor: str,
    task: str = "feedback",
    model: str | None = None,
    n_turns: int = 5,
    by: str = "time",
    random_state: int = 0,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    min_positives: int = MIN_POSITIVES.default or 10,
    min_negatives: int = MIN_NEGATIVES.default or 10,
) -> list[ModelVersion]:
    """Read a dataset, train one version per turn for the task, store them; returns the stored versions.

    Raises:
        DataValidationError: a task, model, number of turns or cut not among the declared ones
            (:mod:`flywheel_core.params`), checked before the dataset is read.
    """
    from flywheel_core.learning.recommend import train_recommend_versions

    check(TASK, task, caller="run_training")
    model = model or model_param(task).default or ""
    for param, value in (
        (model_param(task), model),
        (N_TURNS, n_turns),
        (TURN_BY, by),
        (MIN_POSITIVES, min_positives),
        (MIN_NEGATIVES, min_negatives),
    ):
        check(param, value, caller="run_training")
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    events = store.read_dataset_file(dataset)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    if task == "feedback":
        result = train_feedback_versions(
            events,
            dictionary,
            n_turns=n_turns,
            model=model,
            by=by,
            random_state=random_state,
            n_jobs=n_jobs,
            progress=progress,
            min_positives=min_positives,
            min_negatives=min_negatives,
        )
    else:
        result = train_recommend_versions(
            events,
            dictionary,
            n_turns=n_turns,
            model=model,
            by=by,
            random_state=random_state,
            progress=progress,
        )
    return store_versions(store, workspace_id=workspace_id, dataset=dataset, result=result, actor=actor)


def store_versions(
    store: Store, *, workspace_id: int, dataset: Any, result: TrainingResult, actor: str
) -> list[ModelVersion]:
    """Record every version of a training run in the registry, each with its skops model file."""
    saved = []
    for v in result.versions:
        version = ModelVersion(
            workspace_id=workspace_id,
            dataset_id=dataset.id,
            version=0,
            run_id=result.run_id,
            task=result.task,
            algorithm=result.algorithm,
            params={**result.params, "evaluation": v.evaluation},
            turn=v.turn,
            train_rows=v.train_rows,
            metrics=v.metrics,
            drift=v.drift,
            train_seconds=v.train_seconds,
            author=actor,
        )
        saved.append(
            store.add_model_version(
                workspace_id=workspace_id, version=version, actor=actor, model_bytes=model_bytes(v.estimator)
            )
        )
    return saved
