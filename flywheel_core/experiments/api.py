"""Service functions for the seeds' experiments on a team's own log: which exist, and their results."""

from __future__ import annotations

from flywheel_core.experiments.runner import EXPERIMENTS
from flywheel_core.storage.models import Experiment
from flywheel_core.storage.store import Store

__all__ = ["EXPERIMENTS", "Experiment", "latest_experiments", "list_experiments"]


def list_experiments(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[Experiment]:
    """Every experiment run on the dataset, oldest first."""
    return store.list_experiments(workspace_id=workspace_id, dataset_id=dataset_id, actor=actor)


def latest_experiments(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[Experiment]:
    """The most recent run of each kind of experiment on the dataset."""
    latest: dict[str, Experiment] = {}
    for experiment in sorted(
        list_experiments(store, workspace_id=workspace_id, dataset_id=dataset_id, actor=actor),
        key=lambda e: e.id or 0,
    ):
        latest[experiment.kind] = experiment
    return list(latest.values())
