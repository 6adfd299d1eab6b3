"""Service functions for the seeds' experiments on a team's own log: which exist, and their results."""

from __future__ import annotations

from typing import Any

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.experiments.runner import EXPERIMENTS
from flywheel_core.learning.turns import Progress
from flywheel_core.params import EXPERIMENT, check
from flywheel_core.storage.models import Experiment
from flywheel_core.storage.store import Store

__all__ = ["EXPERIMENTS", "Experiment", "latest_experiments", "list_experiments", "run_experiment"]


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


def run_experiment(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    kind: str,
    actor: str,
    progress: Progress | None = None,
    **options: Any,
) -> Experiment:
    """Run one experiment on a stored dataset and record it; returns the stored Experiment row."""
    check(EXPERIMENT, kind, caller="run_experiment")
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    assert dataset.id is not None
    events = store.read_dataset_file(dataset)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    result = EXPERIMENTS[kind](events, dictionary, progress=progress, **options)
    experiment = Experiment(
        workspace_id=workspace_id, dataset_id=dataset.id, kind=kind, params=options, result=result.to_json()
    )
    return store.add_experiment(workspace_id=workspace_id, experiment=experiment, actor=actor)
