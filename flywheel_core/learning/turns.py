"""Model versions turn by turn: tasks from a log, history features without leakage, turns, fits, scores.

The log is cut into turns after a fixed final holdout is set aside. Version k learns from turns 1..k and
is scored on turn k+1 (what users met next; for the last version that is the holdout) and on the holdout.

Feedback prediction: every row whose signal has a polarity is an example; the target is polarity > 0.
Features are the mapped ``f_*`` columns plus history of the user and of the item (event counts, labelled
counts, smoothed positive rates) computed only from strictly earlier events: rows with the same timestamp
never see each other. Fits are independent, so they run in parallel through joblib (local processes, or a
Dask cluster when ``FLYWHEEL_DASK_SCHEDULER`` names one). Same seed, same data, same figures.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.analytics import codes
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.evidence import not_enough, paired_auc_delta, score_window
from flywheel_core.learning.scoring import MODELS, curves, fit_model, make_model, roc_auc, score_feedback
from flywheel_core.params import (
    FEEDBACK_MODEL,
    HOLDOUT_FRACTION,
    MIN_NEGATIVES,
    MIN_POSITIVES,
    N_TURNS,
    TASK,
    TURN_BY,
    check,
)

__all__ = [
    "MODELS",
    "TASKS",
    "FeedbackTask",
    "TrainingResult",
    "TurnPlan",
    "VersionResult",
    "build_feedback_task",
    "cut_turns",
    "fit_model",
    "history_counts",
    "make_model",
    "parallel_backend",
    "roc_auc",
    "score_feedback",
    "train_feedback_versions",
]

TASKS = TASK.options  # declared in flywheel_core.params
SMOOTHING = 5.0  # pseudo-events of the global rate behind every smoothed positive rate
Progress = Callable[[float, str], None]


# --- history features -------------------------------------------------------------------------------


def history_counts(group: np.ndarray, time_ns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the sum of ``values`` over earlier rows of the same group (strictly earlier time).

    Vectorised: sort by (group, time), exclusive cumulative sum, then every row of a block of equal
    (group, time) takes the sum at the block's first row, so ties do not see each other.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0)
    order = np.lexsort((time_ns, group))
    g, t, v = group[order], time_ns[order], np.asarray(values, dtype=float)[order]
    excl = np.cumsum(v) - v
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = g[1:] != g[:-1]
    new_block = new_group.copy()
    new_block[1:] |= t[1:] != t[:-1]
    idx = np.arange(n)
    block_start = np.maximum.accumulate(np.where(new_block, idx, 0))
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))
    out = np.empty(n)
    out[order] = excl[block_start] - excl[group_start]
    return out


@dataclass(frozen=True)
class FeedbackTask:
    """Examples of the feedback task: one row per event with a polarity, in time order."""

    X: np.ndarray  # (rows, features) float64
    y: np.ndarray  # 0/1
    time_ns: np.ndarray
    user: np.ndarray  # integer codes
    item: np.ndarray
    feature_names: tuple[str, ...]
    row_index: np.ndarray  # position of each example in the event frame
    user_first_ns: np.ndarray  # per user code: time of the user's first event (any event)
    weight: np.ndarray | None = None  # per example: the signal dictionary's weight of its event (loss weight)


def _time_ns(events: pd.DataFrame) -> np.ndarray:
    ts = events["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        raise DataValidationError("Column 'timestamp' is not a date-time column. Import the log again.")
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert(None)
    return ts.to_numpy().astype("datetime64[ns]").astype(np.int64)


def _feature_columns(events: pd.DataFrame, max_levels: int = 12) -> tuple[list[np.ndarray], list[str]]:
    """Mapped ``f_*`` columns: numbers as they are (missing -> 0 plus a flag), strings one-hot (top levels)."""
    columns: list[np.ndarray] = []
    names: list[str] = []
    for name in sorted(c for c in events.columns if str(c).startswith("f_")):
        series = events[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            missing = np.isnan(values)
            columns.append(np.where(missing, 0.0, values))
            names.append(name)
            if missing.any():
                columns.append(missing.astype(float))
                names.append(f"{name}_missing")
        else:
            text = series.astype("str")
            top = text.value_counts(sort=True).index[:max_levels]
            for level in sorted(top):
                columns.append((text == level).to_numpy(dtype=float))
                names.append(f"{name}={level}")
    return columns, names


def build_feedback_task(
    events: pd.DataFrame, dictionary: SignalDictionary, *, polarity: np.ndarray | None = None
) -> FeedbackTask:
    """The feedback-prediction examples of an event frame (sorted by time).

    ``polarity`` (+1/0/-1 per event) replaces the dictionary's reading (experiments that flip feedback).

    Raises:
        InsufficientDataError: when no event has a positive or negative polarity, or only one of them.
    """
    if len(events) == 0:
        raise InsufficientDataError("The dataset has no events. Import a log first.")
    weight = None
    if polarity is None:
        meaning = dictionary.annotate(events["event"], events.get("value"))
        polarity = meaning["polarity"].to_numpy()
        weight = meaning["weight"].to_numpy(dtype=float)
    labelled = polarity != 0
    positive = polarity > 0
    if not labelled.any() or positive[labelled].all() or not positive[labelled].any():
        raise InsufficientDataError(
            "Feedback prediction needs events with positive and events with negative polarity; this "
            "dataset's signal dictionary gives "
            + ("none with a polarity." if not labelled.any() else "only one polarity.")
            + " Mark some events negative (e.g. clicks without a cart) or use the recommendation task."
        )
    time_ns = _time_ns(events)
    user, _ = codes(events["user"])
    item = codes(events["item"])[0] if "item" in events.columns else np.zeros(len(events), dtype=np.int64)
    # The smoothing prior is the positive rate of all strictly earlier feedback: no global, future-aware rate.
    everyone = np.zeros(len(events), dtype=np.int64)
    prior = (history_counts(everyone, time_ns, positive.astype(float)) + 1.0) / (
        history_counts(everyone, time_ns, labelled.astype(float)) + 2.0
    )
    columns, names = _feature_columns(events)
    for label, group in (("user", user), ("item", item)):
        n_prev = history_counts(group, time_ns, np.ones(len(events)))
        lab_prev = history_counts(group, time_ns, labelled.astype(float))
        pos_prev = history_counts(group, time_ns, positive.astype(float))
        columns += [np.log1p(n_prev), np.log1p(lab_prev), (pos_prev + SMOOTHING * prior) / (lab_prev + SMOOTHING)]
        names += [f"{label}_events_before_log", f"{label}_feedback_before_log", f"{label}_positive_rate_before"]
    X = np.column_stack(columns)[labelled]
    rows = np.flatnonzero(labelled)
    first = np.full(int(user.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, user, time_ns)
    return FeedbackTask(
        X=np.ascontiguousarray(X, dtype=float),
        y=positive[labelled].astype(np.int8),
        time_ns=time_ns[labelled],
        user=user[labelled],
        item=item[labelled],
        feature_names=tuple(names),
        row_index=rows,
        user_first_ns=first,
        weight=None if weight is None else weight[labelled],
    )


# --- turns --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnPlan:
    """Where each turn ends: ``edges_ns[k]`` is the (exclusive) end of turn k+1; the last edge starts the holdout."""

    n_turns: int
    by: str
    edges_ns: tuple[int, ...]

    @property
    def holdout_start_ns(self) -> int:
        return self.edges_ns[-1]

    def turn_of(self, time_ns: np.ndarray) -> np.ndarray:
        """1..n_turns for the turns, n_turns + 1 for the holdout."""
        return np.searchsorted(np.asarray(self.edges_ns), time_ns, side="right") + 1


def cut_turns(time_ns: np.ndarray, *, n_turns: int, by: str = "time", holdout_fraction: float = 0.15) -> TurnPlan:
    """Cut a timeline into ``n_turns`` turns (equal time or equal events) after a final holdout.

    Cuts fall between timestamps, so events with the same timestamp are always in the same turn.

    Raises:
        DataValidationError: bad options. InsufficientDataError: too few distinct times for the turns.
    """
    check(N_TURNS, n_turns, caller="cut_turns")
    check(TURN_BY, by, caller="cut_turns")
    check(HOLDOUT_FRACTION, holdout_fraction, caller="cut_turns")
    t = np.sort(np.asarray(time_ns))
    if len(np.unique(t)) < 2 * (n_turns + 1):
        raise InsufficientDataError(
            f"{len(t):,} examples at {len(np.unique(t)):,} distinct times cannot make {n_turns} turns and a "
            "holdout. Use fewer turns or more data."
        )
    if by == "time":
        lo, hi = int(t[0]), int(t[-1])
        holdout = hi - int((hi - lo) * holdout_fraction)
        edges = [lo + int((holdout - lo) * k / n_turns) for k in range(1, n_turns)] + [holdout]
    else:
        n_train = int(len(t) * (1 - holdout_fraction))
        edges = [int(t[max(0, int(n_train * k / n_turns))]) for k in range(1, n_turns + 1)]
    # an edge is the first time of the next turn; make them strictly increasing
    out: list[int] = []
    for e in edges:
        out.append(max(e, out[-1] + 1) if out else e)
    return TurnPlan(n_turns=n_turns, by=by, edges_ns=tuple(out))


# --- parallel fits -------------------------------------------------------------------------------------


@contextlib.contextmanager
def parallel_backend(n_jobs: int | None = None) -> Iterator[int]:
    """joblib's backend for independent fits: local processes, or Dask when FLYWHEEL_DASK_SCHEDULER is set.

    Inside a job running on a Dask worker, the fits go to the same cluster through the worker's own client
    (joblib secedes the waiting task from the worker's threads, so even a one-thread worker cannot deadlock),
    except with ``n_jobs=1`` (small fits), which run in the job's own task.

    Yields the ``n_jobs`` to pass to ``joblib.Parallel``.

    Raises:
        ConfigurationError: FLYWHEEL_DASK_SCHEDULER names a scheduler that cannot be reached.
    """
    import joblib

    from flywheel_core.cluster import connect, in_dask_worker
    from flywheel_core.config import dask_scheduler_from

    if in_dask_worker():
        if n_jobs == 1:
            yield 1
            return
        from distributed import get_client

        with joblib.parallel_config(backend="dask", client=get_client()):
            yield -1
        return
    address = dask_scheduler_from(os.environ)
    if not address:
        workers = n_jobs if n_jobs is not None else min(os.cpu_count() or 1, 4)
        # each worker process gets its share of the cores for its own threads (no oversubscription)
        inner = max(1, (os.cpu_count() or 1) // max(1, workers))
        if workers == 1:
            yield 1
        else:
            with joblib.parallel_config(backend="loky", inner_max_num_threads=inner):
                yield workers
        return
    with connect(address) as client, joblib.parallel_config(backend="dask", client=client):
        yield -1


# --- versions turn by turn -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionResult:
    """One trained version: what it learnt from, how it scored, and the fitted estimator."""

    turn: int
    train_rows: int
    metrics: dict[str, Any]
    drift: dict[str, Any]
    train_seconds: float
    evaluation: dict[str, Any]  # holdout curves and per-segment metrics
    estimator: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    task: str
    algorithm: str
    params: dict[str, Any]
    feature_names: tuple[str, ...]
    versions: tuple[VersionResult, ...]


def _segments(
    task: FeedbackTask, train: np.ndarray, test: np.ndarray, p: np.ndarray, end_ns: int, minimum: tuple[int, int]
) -> dict[str, Any]:
    """Holdout metrics for new vs returning users and head vs tail items (as seen at training time), each
    with its counts, intervals and, below the minimum sample, the reason it is not scored."""
    returning = task.user_first_ns[task.user[test]] < end_ns
    counts = np.bincount(task.item[train], minlength=int(task.item.max()) + 1)
    seen = np.sort(counts[counts > 0])[::-1]
    head_min = seen[max(0, int(np.ceil(len(seen) * 0.2)) - 1)] if len(seen) else np.inf
    head = counts[task.item[test]] >= max(head_min, 1)
    y = task.y[test]
    out = {}
    for name, mask in (
        ("returning users", returning),
        ("new users", ~returning),
        ("head items", head),
        ("tail items", ~head),
    ):
        scores = score_window(
            y[mask],
            p[mask],
            f"holdout's {name}",
            users=task.user[test][mask],
            min_positives=minimum[0],
            min_negatives=minimum[1],
        )
        out[name] = {**scores.metrics, "intervals": scores.intervals, "unscored": scores.unscored}
    return out


def _fit_version(
    model: str, X: np.ndarray, y: np.ndarray, random_state: int, weight: np.ndarray | None = None
) -> tuple[Any, float]:
    return fit_model(model, X, y, random_state=random_state, sample_weight=weight)


def train_feedback_versions(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 5,
    model: str = "logistic",
    by: str = "time",
    holdout_fraction: float = 0.15,
    random_state: int = 0,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    task: FeedbackTask | None = None,
    labels: np.ndarray | None = None,
    min_positives: int = MIN_POSITIVES.default or 10,
    min_negatives: int = MIN_NEGATIVES.default or 10,
    weight_by_signal: bool = False,
) -> TrainingResult:
    """Train one feedback-prediction version per turn and score each on the next turn and the holdout.

    Every metric carries its evidence (:mod:`flywheel_core.learning.evidence`): the window's rows and
    positives, a 95% interval, and below ``min_positives`` / ``min_negatives`` no value but the reason.
    Each version after the first also carries the paired DeLong delta of its holdout AUC against the
    version before it (same rows), in ``evaluation["holdout_auc_delta"]``.

    ``weight_by_signal`` weights each example's loss by its signal's weight in the dictionary (a "save" of
    weight 3 counts as three "clicks"); off by default, so versions stay comparable with earlier runs.
    ``task`` may be passed when already built; ``labels`` replaces the training targets (experiments).

    Raises:
        DataValidationError: bad options. InsufficientDataError: too little data for the turns.
    """
    import joblib

    from flywheel_core.faults import pause_point
    from flywheel_core.learning.drift import turn_drift

    for param, value in (
        (FEEDBACK_MODEL, model),
        (N_TURNS, n_turns),
        (TURN_BY, by),
        (HOLDOUT_FRACTION, holdout_fraction),
        (MIN_POSITIVES, min_positives),
        (MIN_NEGATIVES, min_negatives),
    ):
        check(param, value, caller="train_feedback_versions")  # before any work
    minimum = (min_positives, min_negatives)
    report = progress or (lambda fraction, message: None)
    report(0.02, "Building history features")
    task = task or build_feedback_task(events, dictionary)
    plan = cut_turns(task.time_ns, n_turns=n_turns, by=by, holdout_fraction=holdout_fraction)
    turn = plan.turn_of(task.time_ns)
    y_train = task.y if labels is None else labels
    holdout = turn == n_turns + 1
    if holdout.sum() == 0:
        raise InsufficientDataError("The holdout has no examples. Use a larger holdout or more data.")
    windows = [turn <= k for k in range(1, n_turns + 1)]
    if n_jobs is None and len(task.y) < 100_000:
        n_jobs = 1  # starting worker processes costs more than small fits
    # Each example's loss is weighted by its signal's weight (a "save" at 3 counts three "clicks"); weights
    # of 0 would drop examples, so they count at a small floor instead. Experiments that swap labels pass none.
    use = weight_by_signal and task.weight is not None and labels is None
    weights = np.maximum(task.weight, 0.05) if use and task.weight is not None else None
    jobs = (
        joblib.delayed(_fit_version)(
            model, task.X[w], y_train[w], random_state, None if weights is None else weights[w]
        )
        for w in windows
    )
    fitted: list[tuple[Any, float]] = []
    report(0.05, f"Training turn 1 of {n_turns}")
    with parallel_backend(n_jobs) as workers:
        for k, outcome in enumerate(joblib.Parallel(n_jobs=workers, return_as="generator")(jobs), start=1):
            pause_point("after_training_turn")  # tests hold a job here to check it blocks nobody
            fitted.append(outcome)
            report(
                0.05 + 0.85 * k / n_turns,
                f"Trained turn {k} of {n_turns}" + ("" if k == n_turns else f"; training turn {k + 1}"),
            )
    versions = []
    y_hold, users_hold = task.y[holdout], task.user[holdout]
    hold_reason = not_enough(y_hold, "holdout", min_positives=min_positives, min_negatives=min_negatives)
    p_before: np.ndarray | None = None
    for k, (estimator, seconds) in enumerate(fitted, start=1):
        nxt = turn == k + 1
        p_next = estimator.predict_proba(task.X[nxt])[:, 1] if nxt.any() else np.zeros(0)
        p_hold = estimator.predict_proba(task.X[holdout])[:, 1]
        window = "next turn" if k < n_turns else "next turn (the holdout follows the last turn)"
        scored = [
            score_window(task.y[nxt], p_next, window, users=task.user[nxt], min_positives=min_positives,
                         min_negatives=min_negatives),
            score_window(y_hold, p_hold, "holdout", users=users_hold, prefix="holdout_",
                         min_positives=min_positives, min_negatives=min_negatives),
        ]  # fmt: skip
        metrics = {**scored[0].metrics, **scored[1].metrics}
        end_ns = plan.edges_ns[k - 1]
        evaluation: dict[str, Any] = {
            "curves": curves(y_hold, p_hold) if not hold_reason else {},
            "segments": _segments(task, windows[k - 1], holdout, p_hold, end_ns, minimum),
            "intervals": {**scored[0].intervals, **scored[1].intervals},
            "unscored": {**scored[0].unscored, **scored[1].unscored},
            "counts": {
                "next_turn": {"rows": int(nxt.sum()), "positives": int(task.y[nxt].sum())},
                "holdout": {"rows": int(holdout.sum()), "positives": int(y_hold.sum())},
            },
        }
        if p_before is not None and not hold_reason:
            delta = paired_auc_delta(y_hold, p_before, p_hold)
            evaluation["holdout_auc_delta"] = {
                "against_turn": k - 1,
                "estimate": delta.estimate,
                "low": delta.low,
                "high": delta.high,
                "p_value": round(delta.p_value, 4),
            }
        p_before = p_hold
        drift = turn_drift(task.X, task.y, turn, k, task.feature_names, groups=task.user) if k > 1 else {}
        versions.append(
            VersionResult(
                turn=k,
                train_rows=int(windows[k - 1].sum()),
                metrics=metrics,
                drift=drift,
                train_seconds=round(seconds, 4),
                evaluation=evaluation,
                estimator=estimator,
            )
        )
    report(0.95, "Scored every version")
    params = {
        "n_turns": n_turns,
        "by": by,
        "holdout_fraction": holdout_fraction,
        "random_state": random_state,
        "weight_by_signal": weight_by_signal,
        "features": list(task.feature_names),
        "turn_ends": [pd.Timestamp(e, tz="UTC").isoformat() for e in plan.edges_ns],
    }
    return TrainingResult(
        run_id=uuid.uuid4().hex[:12],
        task="feedback",
        algorithm=model,
        params=params,
        feature_names=task.feature_names,
        versions=tuple(versions),
    )
