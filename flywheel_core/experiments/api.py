"""Service functions for the seeds' experiments on a team's own log: which exist, run one, and their results."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import DataValidationError
from flywheel_core.experiments.common import ExperimentResult
from flywheel_core.experiments.preconditions import experiment_problems
from flywheel_core.experiments.runner import EXPERIMENTS
from flywheel_core.learning.preconditions import CHECK_COLUMNS, Preconditions
from flywheel_core.learning.turns import Progress
from flywheel_core.params import (
    EXPERIMENT,
    LABEL_BUDGET,
    NETWORK_COHORT_SHARE,
    POISON_COHORT_SHARE,
    REPEATS,
    Param,
    check,
)
from flywheel_core.storage.models import Experiment
from flywheel_core.storage.store import Store

__all__ = [
    "EXPERIMENTS",
    "OPTIONS",
    "Experiment",
    "ExperimentResult",
    "Preconditions",
    "StoredExperiment",
    "check_experiment",
    "latest_experiments",
    "list_experiments",
    "run_experiment",
    "stored_experiment",
]


# The options a person sets for each experiment (the page's widgets and the CLI read their ranges from these).
OPTIONS: dict[str, tuple[Param[Any], ...]] = {
    "curation": (REPEATS,),
    "capture": (LABEL_BUDGET, REPEATS),
    "network": (NETWORK_COHORT_SHARE, REPEATS),
    "collapse": (REPEATS,),
    "weighting": (REPEATS,),
    "poisoning": (POISON_COHORT_SHARE, REPEATS),
}


@dataclass(frozen=True)
class StoredExperiment:
    """A recorded experiment run, its result parsed back into :class:`ExperimentResult`."""

    id: int
    kind: str
    result: ExperimentResult
    params: dict[str, float | int | str]
    author: str
    created_at: datetime


def stored_experiment(row: Experiment) -> StoredExperiment:
    """The typed form of a stored experiment row."""
    return StoredExperiment(
        id=row.id or 0,
        kind=row.kind,
        result=ExperimentResult.from_json(row.result or {}),
        params={str(k): v for k, v in (row.params or {}).items() if isinstance(v, int | float | str)},
        author=row.author,
        created_at=row.created_at,
    )


def list_experiments(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[StoredExperiment]:
    """Every experiment run on the dataset, oldest first."""
    rows = store.list_experiments(workspace_id=workspace_id, dataset_id=dataset_id, actor=actor)
    return [stored_experiment(row) for row in sorted(rows, key=lambda e: e.id or 0)]


def latest_experiments(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[StoredExperiment]:
    """The most recent run of each kind of experiment on the dataset."""
    latest: dict[str, StoredExperiment] = {}
    for experiment in list_experiments(store, workspace_id=workspace_id, dataset_id=dataset_id, actor=actor):
        latest[experiment.kind] = experiment
    return list(latest.values())


def _check_options(kind: str, options: dict[str, Any]) -> None:
    """The kind, the option names and each declared option's range, before any data is read."""
    check(EXPERIMENT, kind, caller="run_experiment")
    accepted = sorted(set(inspect.signature(EXPERIMENTS[kind]).parameters) - {"events", "dictionary", "progress"})
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataValidationError(
            f"The {kind} experiment has no option {', '.join(repr(u) for u in unknown)}. "
            f"Its options are: {', '.join(accepted)}."
        )
    for param in OPTIONS[kind]:
        if param.name in options:
            check(param, options[param.name], caller=EXPERIMENTS[kind].__name__)  # as the experiment says it


def check_experiment(
    store: Store, *, workspace_id: int, dataset_name: str, kind: str, actor: str, **options: Any
) -> Preconditions:
    """What stops experiment ``kind`` with ``options`` on the dataset, found before it is queued
    (:func:`flywheel_core.experiments.preconditions.experiment_problems`): every problem a sentence; ``ok``
    when there is none. ``run_experiment`` refuses with the same sentences.

    Raises:
        DataValidationError: an unknown kind, an option the experiment does not take, or a value outside
            its declared range. NotFoundError: no such dataset.
    """
    _check_options(kind, options)
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    events = store.read_dataset_file(dataset, columns=CHECK_COLUMNS)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    problems = experiment_problems(events, dictionary, dataset=dataset_name, kind=kind, options=options)
    return Preconditions(action=f"the {kind} experiment", dataset=dataset_name, problems=tuple(problems))


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
    """Run one experiment on a stored dataset and record it; returns the stored Experiment row.

    ``options`` are the experiment's own keyword options (``repeats``, ``label_budget``, ``cohort_share``,
    ...); the experiment checks each against its declaration in :mod:`flywheel_core.params` first.

    Raises:
        DataValidationError: an unknown kind, an option the experiment does not take, or a value outside
            its declared range.
        InsufficientDataError: the dataset cannot work for the experiment, with the sentences of
            :func:`check_experiment`, before anything is fitted.
    """
    _check_options(kind, options)
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    assert dataset.id is not None
    events = store.read_dataset_file(dataset)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    problems = experiment_problems(events, dictionary, dataset=dataset_name, kind=kind, options=options)
    Preconditions(action=f"the {kind} experiment", dataset=dataset_name, problems=tuple(problems)).raise_if_any()
    result = EXPERIMENTS[kind](events, dictionary, progress=progress, **options)
    experiment = Experiment(
        workspace_id=workspace_id,
        dataset_id=dataset.id,
        kind=kind,
        params=options,
        result=result.to_json(),
        author=actor,
    )
    return store.add_experiment(workspace_id=workspace_id, experiment=experiment, actor=actor)
