"""Service functions for model versions: train turn by turn, list, compare (runs go through ``jobs``).

Pages and the command line call these; each read or write is one role-checked unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flywheel_core.data.api import DatasetInfo
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import DataValidationError
from flywheel_core.learning.offpolicy import OffPolicyResult
from flywheel_core.learning.preconditions import CHECK_COLUMNS, Preconditions, training_problems
from flywheel_core.learning.production import ProductionReport, judge_production
from flywheel_core.learning.registry import (
    CompareReport,
    VersionInfo,
    compare_versions,
    model_bytes,
    registry_table,
    version_infos,
)
from flywheel_core.learning.turns import Progress, TrainingResult, train_feedback_versions
from flywheel_core.params import ALPHA, MIN_NEGATIVES, MIN_POSITIVES, N_TURNS, TASK, TURN_BY, check, model_param
from flywheel_core.storage.models import ModelVersion
from flywheel_core.storage.store import Store

__all__ = [
    "CompareReport",
    "ImportResult",
    "ModelVersion",
    "NextTurnsResult",
    "OffPolicyResult",
    "Preconditions",
    "ProductionReport",
    "VersionInfo",
    "check_training",
    "compare_versions",
    "evaluate_offpolicy",
    "import_versions",
    "judge_production",
    "list_model_versions",
    "production_comparison",
    "registry_table",
    "run_training",
    "store_production_demo",
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


def _check_options(task: str, model: str, n_turns: int, by: str, *extra: tuple[Any, object]) -> None:
    check(TASK, task, caller="run_training")
    for param, value in ((model_param(task), model), (N_TURNS, n_turns), (TURN_BY, by), *extra):
        check(param, value, caller="run_training")


def check_training(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    actor: str,
    task: str = "feedback",
    model: str | None = None,
    n_turns: int = 5,
    by: str = "time",
) -> Preconditions:
    """What stops a training run of ``task`` in ``n_turns`` turns on the dataset, found before anything is
    queued or fitted (:func:`flywheel_core.learning.preconditions.training_problems`): every problem a
    sentence; ``ok`` when there is none. ``run_training`` refuses with the same sentences.

    Raises:
        DataValidationError: a task, model, number of turns or cut not among the declared ones.
        NotFoundError: no such dataset.
    """
    _check_options(task, model or model_param(task).default or "", n_turns, by)
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    events = store.read_dataset_file(dataset, columns=CHECK_COLUMNS)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    problems = training_problems(events, dictionary, dataset=dataset_name, task=task, n_turns=n_turns)
    return Preconditions(action="training", dataset=dataset_name, problems=tuple(problems))


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
    weight_by_signal: bool = False,
    alpha: float = ALPHA.default or 40.0,
) -> list[ModelVersion]:
    """Read a dataset, train one version per turn for the task, store them; returns the stored versions.

    ``exclude_seen`` (recommend task): items a user had before a cut are neither recommended to them nor hits.
    ``weight_by_signal`` (feedback task): each example's loss is weighted by its signal's dictionary weight.

    Raises:
        DataValidationError: a task, model, number of turns or cut not among the declared ones
            (:mod:`flywheel_core.params`), checked before the dataset is read.
        InsufficientDataError: the dataset cannot work for the task and turns, with the sentences of
            :func:`check_training`, before any model is fitted.
    """
    from flywheel_core.learning.recommend import train_recommend_versions

    model = model or model_param(task).default or ""
    _check_options(
        task, model, n_turns, by, (MIN_POSITIVES, min_positives), (MIN_NEGATIVES, min_negatives), (ALPHA, alpha)
    )
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    events = store.read_dataset_file(dataset)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    problems = training_problems(events, dictionary, dataset=dataset_name, task=task, n_turns=n_turns)
    Preconditions(action="training", dataset=dataset_name, problems=tuple(problems)).raise_if_any()
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
            weight_by_signal=weight_by_signal,
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
            alpha=alpha,
        )
    return store_versions(store, workspace_id=workspace_id, dataset=dataset, result=result, actor=actor)


def store_versions(
    store: Store, *, workspace_id: int, dataset: Any, result: TrainingResult, actor: str
) -> list[ModelVersion]:
    """Record a training run in the registry, each version with its skops model file, all or nothing
    (one transaction under the workspace lock: concurrent runs get whole, contiguous numbers)."""
    run: list[tuple[ModelVersion, bytes]] = []
    for v in result.versions:
        version = ModelVersion(
            workspace_id=workspace_id,
            dataset_id=dataset.id,
            version=0,
            run_id=result.run_id,
            task=result.task,
            algorithm=result.algorithm,
            params={
                **result.params,
                "evaluation": v.evaluation,
                # the meanings it learnt from: a later re-map of the dataset does not change this version
                "signal_dictionary_version": int((dataset.signal_dictionary or {}).get("version", 1)),
            },
            turn=v.turn,
            train_rows=v.train_rows,
            metrics=v.metrics,
            drift=v.drift,
            train_seconds=v.train_seconds,
            author=actor,
        )
        run.append((version, model_bytes(v.estimator)))
    return store.add_model_run(workspace_id=workspace_id, versions=run, actor=actor)


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


# --- the team's own versions and its production evidence ----------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import stored: the new versions as the registry shows them, and what it left out and why."""

    dataset: str
    source: str  # "mlflow" | "file"
    location: str
    imported: tuple[VersionInfo, ...]
    already_imported: tuple[str, ...]  # labels of versions the registry already held from this source
    left_out: tuple[str, ...]  # runs not imported (not finished), with the reason


def import_versions(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    actor: str,
    mlflow_uri: str | None = None,
    experiment: str | None = None,
    file: bytes | None = None,
    file_name: str = "",
    x_param: str | None = None,
    task: str = "feedback",
) -> ImportResult:
    """Import the team's model versions into a dataset's registry, beside the trained ones, marked
    ``imported:mlflow`` or ``imported:file`` with their source in ``params["source"]``.

    Give either ``mlflow_uri`` and ``experiment`` (each finished run a version; ``x_param`` names the param
    or metric holding its data size, default ``train_rows``) or ``file`` (CSV or JSON bytes). Intervals and
    holdout counts are stored in ``params["evaluation"]`` as for trained versions, so compare and the
    verdict read them the same way. A version already imported from the same source is not imported again.

    Raises:
        DataValidationError: neither or both sources given, a bad task, or bad input (naming the run, or
            the row and column); nothing is stored then.
        NotFoundError: no such dataset, MLflow database or experiment.
        ConfigurationError: MLflow's client is not installed.
    """
    from flywheel_core.learning.imports import read_mlflow_versions, read_versions_file

    check(TASK, task, caller="import_versions")
    if (file is None) == (mlflow_uri is None):
        raise DataValidationError("Import from one source: an MLflow tracking URI and experiment, or a file.")
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    assert dataset.id is not None
    if mlflow_uri is not None:
        if not experiment:
            raise DataValidationError("Name the MLflow experiment to import (--experiment NAME).")
        batch = read_mlflow_versions(mlflow_uri, experiment, x_param=x_param or "train_rows")
    else:
        assert file is not None
        batch = read_versions_file(file, name=file_name or "versions.csv", x_column=x_param)
    existing = store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset.id, actor=actor)
    held = {
        str(src.get("id"))
        for row in existing
        if isinstance(src := (row.params or {}).get("source"), dict) and src.get("kind") == batch.source
    }
    turn = max((row.turn for row in existing if row.run_id == batch.group), default=0)
    fresh = [v for v in batch.versions if v.source_id not in held]
    fresh.sort(key=lambda v: (v.trained_at is None, v.trained_at or datetime.min.replace(tzinfo=UTC)))
    stored = []
    for offset, v in enumerate(fresh, start=1):
        evaluation: dict[str, object] = {
            "intervals": {k: [lo, hi] for k, (lo, hi) in v.intervals.items()},
            "unscored": dict(v.unscored),
        }
        if v.holdout is not None:
            evaluation["counts"] = {"holdout": {"rows": v.holdout[0], "positives": v.holdout[1]}}
        row = ModelVersion(
            workspace_id=workspace_id,
            dataset_id=dataset.id,
            version=0,
            run_id=batch.group,
            task=task,
            algorithm=f"imported:{batch.source}",
            params={
                "source": {"kind": batch.source, "id": v.source_id, "label": v.label, "location": batch.location},
                "imported_params": dict(v.params),
                "evaluation": evaluation,
            },
            turn=turn + offset,
            train_rows=v.train_rows,
            metrics=dict(v.metrics),
            train_seconds=0.0,
            author=actor,
        )
        if v.trained_at is not None:
            row.created_at = v.trained_at
        stored.append(store.add_model_version(workspace_id=workspace_id, version=row, actor=actor))
    return ImportResult(
        dataset=dataset_name,
        source=batch.source,
        location=batch.location,
        imported=tuple(version_infos(stored)),
        already_imported=tuple(v.label for v in batch.versions if v.source_id in held),
        left_out=batch.left_out,
    )


_PRODUCTION_COLUMNS = ["user", "timestamp", "event", "value", "session", "model_version"]


def production_comparison(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    actor: str,
    material: float | None = None,
) -> ProductionReport:
    """Each served version's outcomes with 95% intervals, and consecutive versions compared
    (:func:`flywheel_core.learning.production.compare_production`).

    Raises:
        DataValidationError: the dataset's events carry no model version, or the material difference is
            outside its declared bounds.
    """
    from flywheel_core.learning.production import MATERIAL_RATE, compare_production
    from flywheel_core.params import PRODUCTION_MATERIAL

    material = MATERIAL_RATE if material is None else material
    check(PRODUCTION_MATERIAL, material, caller="production_comparison")
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    # the schema first: a dataset with no model version is refused without reading its events
    if "model_version" not in store.dataset_schema(dataset).names:
        raise DataValidationError(
            f"The events of '{dataset_name}' do not say which model version served them, so production cannot "
            "be compared by version. Import the log again with a column mapped to the model_version role "
            "(e.g. --column model_version=variant)."
        )
    events = store.read_dataset_file(dataset, columns=_PRODUCTION_COLUMNS)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    return compare_production(events, dictionary, material=material)


def evaluate_offpolicy(
    store: Store,
    *,
    workspace_id: int,
    dataset_name: str,
    actor: str,
    policy: str,
    on: list[str] | None = None,
    context: str | None = None,
    n_bootstrap: int = 500,
    random_state: int = 0,
) -> OffPolicyResult:
    """What logged version ``policy`` would have earned on the other versions' traffic (IPS, SNIPS, DR,
    bootstrap intervals over users, the effective sample size): see :mod:`flywheel_core.learning.offpolicy`.

    Raises:
        DataValidationError: no model version, item or propensity column, an unknown version or context,
            or a number of bootstrap runs outside its declared bounds.
        InsufficientDataError: no other traffic to evaluate the policy on.
    """
    from flywheel_core.learning.offpolicy import evaluate_policy
    from flywheel_core.params import OPE_BOOTSTRAP

    check(OPE_BOOTSTRAP, n_bootstrap, caller="evaluate_offpolicy")
    dataset = store.get_dataset(workspace_id=workspace_id, name=dataset_name, actor=actor)
    events = store.read_dataset_file(dataset)
    dictionary = SignalDictionary.from_json(dataset.signal_dictionary)
    return evaluate_policy(
        events, dictionary, policy=policy, on=on, context=context, n_bootstrap=n_bootstrap, random_state=random_state
    )


def store_production_demo(store: Store, *, workspace_id: int, actor: str, n_events: int = 200_000) -> DatasetInfo:
    """Store the production demo log (:mod:`flywheel_core.demo_production`) in the workspace, replacing
    an earlier copy of another size; returns the dataset."""
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalSpec
    from flywheel_core.demo_production import PRODUCTION_DATASET, PRODUCTION_SIGNALS, make_production_events

    current = {d.name: d for d in store.list_datasets(workspace_id=workspace_id, actor=actor)}
    held = current.get(PRODUCTION_DATASET)
    if held is not None and held.rows == n_events:
        return DatasetInfo.from_row(held)
    if held is not None:
        store.delete_dataset(workspace_id=workspace_id, name=PRODUCTION_DATASET, actor=actor)
    demo = make_production_events(n_events)
    store_frame(
        store,
        workspace_id=workspace_id,
        frame=demo.events,
        dataset=PRODUCTION_DATASET,
        actor=actor,
        signals={event: SignalSpec(*spec) for event, spec in PRODUCTION_SIGNALS.items()},
        source_name=f"demo-production-{n_events}.parquet",
    )
    return DatasetInfo.from_row(store.get_dataset(workspace_id=workspace_id, name=PRODUCTION_DATASET, actor=actor))
