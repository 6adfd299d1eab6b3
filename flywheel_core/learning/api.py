"""Service functions for model versions: train turn by turn, list, compare (runs go through ``jobs``).

Pages and the command line call these; each read or write is one role-checked unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    "NextTurnsResult",
    "VersionInfo",
    "compare_versions",
    "list_model_versions",
    "registry_table",
    "run_training",
    "store_versions",
    "train_next_turns",
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
    exclude_seen: bool = True,
) -> list[ModelVersion]:
    """Read a dataset, train one version per turn for the task, store them; returns the stored versions.

    ``exclude_seen`` (recommend task): items a user had before a cut are neither recommended to them nor hits.

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
            exclude_seen=exclude_seen,
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


# --- the next turn(s): `flywheel train NAME --next` ------------------------------------------------------


@dataclass(frozen=True)
class NextTurnsResult:
    """What ``train --next`` did: the versions it added (turn numbers after the last run's), or, when no new
    turn is complete, none and ``reason`` (the time the next turn needs the data to reach)."""

    dataset: str
    versions: list[ModelVersion]
    turn_length: str  # "7.0 days" or "12,000 examples"
    reason: str = ""


def train_next_turns(
    store: Store, *, workspace_id: int, dataset_name: str, actor: str, n_jobs: int | None = None
) -> NextTurnsResult:
    """Train the turns that events added since the dataset's last training run complete, and store them.

    A turn is the last run's turn: the same length in time (runs cut ``by="time"``) or the same number of
    feedback examples (``by="events"``). The last run's turn ends are in its params (``turn_ends``); its last
    end is where its last version stopped learning. Each new turn k starts at the previous end; version k
    learns from every example before turn k's end and is scored on the window after it, one more turn long,
    which must be complete: a version is never stored without a full window to be scored on. So data that
    reaches t trains every turn whose end is at most t minus one turn. New versions have no fixed holdout
    (their ``holdout_*`` metrics are unscored, with the reason); the verdict reads their next-turn scores.
    The run's model, seed and scoring minimums are kept; the new run's params record its turn ends, so the
    next ``--next`` continues from them.

    Raises:
        NotFoundError: no such dataset. InsufficientDataError: the dataset was never trained, or its last
            run is not the feedback task (retrain those with ``run_training``).
    """
    from flywheel_core.exceptions import InsufficientDataError

    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    assert dataset.id is not None
    versions = store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset.id, actor=actor)
    if not versions:
        raise InsufficientDataError(
            f"Dataset '{dataset_name}' has no model versions yet, so there is no turn to continue. Train it "
            f"first: `flywheel train '{dataset_name}' --turns 5`."
        )
    last = max(versions, key=lambda v: v.version)
    run = [v for v in versions if v.run_id == last.run_id]
    params = dict(last.params)
    if last.task != "feedback" or not params.get("turn_ends"):
        raise InsufficientDataError(
            f"The last training run of '{dataset_name}' is the {last.task} task; --next continues feedback "
            f"runs only. Retrain it on all the data: `flywheel train '{dataset_name}' --task {last.task}`."
        )
    events = store.read_dataset_file(dataset)
    result, length, reason = _next_feedback_turns(
        events,
        SignalDictionary.from_json(dataset.signal_dictionary),
        params=params,
        algorithm=last.algorithm,
        last_turn=max(v.turn for v in run),
        turn_rows=[v.train_rows for v in sorted(run, key=lambda v: v.turn)],
        previous_run=last.run_id,
        n_jobs=n_jobs,
    )
    stored = (
        []
        if result is None
        else store_versions(store, workspace_id=workspace_id, dataset=dataset, result=result, actor=actor)
    )
    return NextTurnsResult(dataset=dataset_name, versions=stored, turn_length=length, reason=reason)


def _turn_length(params: dict[str, Any], ends_ns: list[int], first_ns: int, turn_rows: list[int]) -> tuple[str, int]:
    """The last run's turn: ("time", nanoseconds) or ("events", examples per turn)."""
    import numpy as np

    if params.get("by") == "events":
        size = params.get("turn_examples") or int(np.median(np.diff([0, *turn_rows])))
        return "events", max(1, int(size))
    length = params.get("turn_ns") or (int(np.median(np.diff(ends_ns))) if len(ends_ns) > 1 else ends_ns[0] - first_ns)
    return "time", max(1, int(length))


def _next_feedback_turns(
    events: Any,
    dictionary: SignalDictionary,
    *,
    params: dict[str, Any],
    algorithm: str,
    last_turn: int,
    turn_rows: list[int],
    previous_run: str,
    n_jobs: int | None,
) -> tuple[TrainingResult | None, str, str]:
    """The new turns' versions (None and the reason when no turn is complete), and the turn length as text."""
    import uuid

    import numpy as np
    import pandas as pd

    from flywheel_core.learning.drift import turn_drift
    from flywheel_core.learning.evidence import score_window
    from flywheel_core.learning.turns import VersionResult, build_feedback_task, fit_model

    task = build_feedback_task(events, dictionary)
    ends = [int(pd.Timestamp(e).value) for e in params["turn_ends"]]
    unit, length = _turn_length(params, ends, int(task.time_ns.min()), turn_rows)
    t = np.sort(task.time_ns)
    data_end = int(pd.Timestamp(events["timestamp"].max()).value)
    new_ends: list[int] = []
    score_ends: list[int] = []  # where each new turn's scoring window (the turn after it) ends
    if unit == "time":
        shown = f"{length / 86_400e9:,.2f} days"
        while ends[-1] + (len(new_ends) + 2) * length <= data_end:  # the turn and its scoring window are in
            new_ends.append(ends[-1] + (len(new_ends) + 1) * length)
            score_ends.append(new_ends[-1] + length)
        needed = ends[-1] + 2 * length
    else:
        shown = f"{length:,} examples"
        start = int(np.searchsorted(t, ends[-1], side="left"))
        while start + (len(new_ends) + 2) * length <= len(t):
            position = start + (len(new_ends) + 2) * length
            score_ends.append(int(t[position]) if position < len(t) else int(t[-1]) + 1)
            new_ends.append(int(t[start + (len(new_ends) + 1) * length]))
        needed = None
    if not new_ends:
        stamp = pd.Timestamp(ends[-1], tz="UTC")
        after = int(np.count_nonzero(t >= ends[-1]))
        reason = (
            f"nothing to train: the last turn (turn {last_turn}) ended {stamp:%Y-%m-%d %H:%M} UTC; a turn is "
            f"{shown}, and turn {last_turn + 1} needs "
            + (
                f"events up to {pd.Timestamp(needed, tz='UTC'):%Y-%m-%d %H:%M} UTC (itself and the turn after it, "
                f"to score it on); the data ends {pd.Timestamp(data_end, tz='UTC'):%Y-%m-%d %H:%M} UTC."
                if needed is not None
                else f"{2 * length:,} feedback examples after it (itself and the turn after it); there are {after:,}."
            )
        )
        return None, shown, reason
    all_ends = ends + new_ends
    turn = np.searchsorted(np.asarray(all_ends), task.time_ns, side="right") + 1  # 1.. as in the first run
    minimum = (MIN_POSITIVES.default or 10, MIN_NEGATIVES.default or 10)
    seed = int(params.get("random_state", 0))
    out = []
    for i, end in enumerate(new_ends):
        k = last_turn + 1 + i
        window = task.time_ns < end
        nxt = (task.time_ns >= end) & (task.time_ns < score_ends[i])
        estimator, seconds = fit_model(algorithm, task.X[window], task.y[window], random_state=seed)
        p = estimator.predict_proba(task.X[nxt])[:, 1] if nxt.any() else np.zeros(0)
        scored = score_window(
            task.y[nxt], p, "next turn", users=task.user[nxt], min_positives=minimum[0], min_negatives=minimum[1]
        )
        why = "no fixed holdout: a version trained by --next is scored on the turn after it"
        out.append(
            VersionResult(
                turn=k,
                train_rows=int(window.sum()),
                metrics=dict(scored.metrics),
                drift=turn_drift(task.X, task.y, np.minimum(turn, k + 1), k, task.feature_names),
                train_seconds=round(seconds, 4),
                evaluation={
                    "curves": {},
                    "segments": {},
                    "intervals": dict(scored.intervals),
                    "unscored": {**scored.unscored, **{f"holdout_{m}": why for m in ("auc", "log_loss", "brier")}},
                    "counts": {"next_turn": {"rows": int(nxt.sum()), "positives": int(task.y[nxt].sum())}},
                },
                estimator=estimator,
            )
        )
    run_params: dict[str, Any] = {
        **{key: params[key] for key in ("n_turns", "by", "holdout_fraction", "random_state") if key in params},
        "features": list(task.feature_names),
        "turn_ends": [pd.Timestamp(e, tz="UTC").isoformat() for e in all_ends],
        "next_of": previous_run,
        **({"turn_ns": length} if unit == "time" else {"turn_examples": length}),
    }
    result = TrainingResult(
        run_id=uuid.uuid4().hex[:12],
        task="feedback",
        algorithm=algorithm,
        params=run_params,
        feature_names=task.feature_names,
        versions=tuple(out),
    )
    return result, shown, ""
