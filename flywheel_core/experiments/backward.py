"""Experiments on loops that spin backward: model collapse, wrong incentives, and data poisoning.

"When flywheels spin backward" in the seed: training on the model's own outputs, optimising the wrong
signal, and users feeding it misleading feedback, each measured on a team's own log.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.analytics import codes
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.experiments.common import (
    ExperimentResult,
    _auc,
    _fmt,
    _predict,
    _turns,
)
from flywheel_core.learning.turns import FeedbackTask, Progress, build_feedback_task, cut_turns, fit_model
from flywheel_core.params import FEEDBACK_MODEL, FLIP_SHARE, N_TURNS, POISON_COHORT_SHARE, check

__all__ = ["collapse_experiment", "poisoning_experiment", "weighting_experiment"]


# --- self-consumption ------------------------------------------------------------------------------------


def _diversity(task: FeedbackTask, rows: np.ndarray, p: np.ndarray) -> float | None:
    """Distinct items among the top-scored tenth of rows, as a share of the distinct items in the rows."""
    if len(rows) < 10:
        return None
    top = rows[np.argsort(-p, kind="stable")[: max(1, len(rows) // 10)]]
    return round(len(np.unique(task.item[top])) / max(len(np.unique(task.item[rows])), 1), 4)


def collapse_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 5,
    model: str = "logistic",
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Model collapse: each turn trained on the previous version's predicted labels vs on real labels.

    The predicted labels replace the real feedback in the log itself, so the history features (item and
    user positive rates) are rebuilt from them too: the loop's memory becomes its own output.
    "accumulate" keeps the real labels of turn 1 and adds predicted ones each turn; "replace" relabels
    every earlier turn with the latest version. Tracks holdout AUC and output diversity.
    """
    check(N_TURNS, n_turns, caller="collapse_experiment")
    check(FEEDBACK_MODEL, model, caller="collapse_experiment")
    report = progress or (lambda f, m: None)
    real_polarity = dictionary.annotate(events["event"], events.get("value"))["polarity"].to_numpy()
    task = build_feedback_task(events, dictionary, polarity=real_polarity)
    turn = _turns(task, n_turns)
    hold = np.flatnonzero(turn == n_turns + 1)
    y_hold = task.y[hold]
    arms = ("real labels", "accumulate", "replace")
    series: dict[str, list[float | None]] = {arm: [] for arm in arms}
    diversity: dict[str, list[float | None]] = {arm: [] for arm in arms}
    polarity = {arm: real_polarity.copy() for arm in arms}
    previous: dict[str, Any] = {}
    for k in range(1, n_turns + 1):
        report(k / (n_turns + 1), f"Self-consumption: training turn {k} of {n_turns}")
        window = turn <= k
        for arm in arms:
            current = task
            if arm != "real labels" and k > 1:
                relabel = (turn == k) if arm == "accumulate" else window
                before = build_feedback_task(events, dictionary, polarity=polarity[arm])
                predicted = _predict(previous[arm], before.X[relabel]) > 0.5
                polarity[arm][task.row_index[relabel]] = np.where(predicted, 1, -1)
                current = build_feedback_task(events, dictionary, polarity=polarity[arm])
            fitted, _ = fit_model(model, current.X[window], current.y[window], random_state=random_state)
            previous[arm] = fitted
            p = _predict(fitted, current.X[hold])
            series[arm].append(_auc(y_hold, p))
            diversity[arm].append(_diversity(task, hold, p))
    real, acc, rep = series["real labels"][-1], series["accumulate"][-1], series["replace"][-1]
    sentence = (
        f"Trained on its own predicted labels, the last version scores holdout AUC {_fmt(rep)} (replace) and "
        f"{_fmt(acc)} (accumulate) against {_fmt(real)} on real labels; output diversity "
        f"{_fmt(diversity['replace'][-1])} vs {_fmt(diversity['real labels'][-1])}. "
        + (
            "Feeding on its own outputs spins the loop backward."
            if (rep or 0) < (real or 0) - 0.005
            else "Here the model's own labels cost little."
        )
    )
    return ExperimentResult(
        "collapse",
        "Self-consumption (model collapse)",
        sentence,
        "Version (turn)",
        "Holdout AUC",
        list(range(1, n_turns + 1)),
        series,
        {"diversity": diversity},
    )


# --- signal weighting ----------------------------------------------------------------------------------


def weighting_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 4,
    model: str = "logistic",
    strong_weight: float = 2.0,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Wrong incentives: the same model trained toward every positive (clicks) vs toward strong signals
    (positive with weight >= ``strong_weight``, or explicit), both scored on the strong signal."""
    check(N_TURNS, n_turns, caller="weighting_experiment")
    check(FEEDBACK_MODEL, model, caller="weighting_experiment")
    report = progress or (lambda f, m: None)
    signals = dictionary.annotate(events["event"], events.get("value"))
    task = build_feedback_task(events, dictionary)
    rows = signals.iloc[task.row_index]
    strong = (task.y == 1) & ((rows["weight"].to_numpy() >= strong_weight) | (rows["kind"] == "explicit").to_numpy())
    y_strong = strong.astype(np.int8)
    if y_strong.sum() < 5 or y_strong.sum() == (task.y == 1).sum():
        raise InsufficientDataError(
            f"Signal weighting needs some strong positives (weight ≥ {strong_weight:g} or explicit) and some weak "
            "ones; this dataset's dictionary does not separate them. Give saves or purchases a higher weight."
        )
    turn = _turns(task, n_turns)
    hold = turn == n_turns + 1
    series: dict[str, list[float | None]] = {"trained on clicks": [], "trained on strong signals": []}
    for k in range(1, n_turns + 1):
        report(k / (n_turns + 1), f"Weighting: training turn {k} of {n_turns}")
        window = turn <= k
        for name, target in (("trained on clicks", task.y), ("trained on strong signals", y_strong)):
            fitted, _ = fit_model(model, task.X[window], target[window], random_state=random_state)
            series[name].append(_auc(y_strong[hold], _predict(fitted, task.X[hold])))
    clicks, strong_auc = series["trained on clicks"][-1] or 0, series["trained on strong signals"][-1] or 0
    sentence = (
        f"Scored on strong signals, the model trained toward them reaches AUC {strong_auc:.3f}, the one trained "
        f"toward clicks {clicks:.3f}: "
        + (
            "optimising the weak signal is a wrong incentive here."
            if strong_auc > clicks + 0.005
            else "clicks are a fair proxy for the strong signal here."
        )
    )
    return ExperimentResult(
        "weighting",
        "Signal weighting: clicks vs strong signals",
        sentence,
        "Version (turn)",
        "Holdout AUC on the strong signal",
        list(range(1, n_turns + 1)),
        series,
        {"strong_rows": int(y_strong.sum()), "strong_weight": strong_weight},
    )


# --- poisoning -----------------------------------------------------------------------------------------


def poisoning_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    flip_share: float = 0.8,
    cohort_share: float = 0.15,
    model: str = "logistic",
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """A share of one cohort's feedback flipped before the holdout; damage to the others with and without
    curation (duplicates, and users whose feedback the pooled model finds least likely)."""
    check(FLIP_SHARE, flip_share, caller="poisoning_experiment")
    check(POISON_COHORT_SHARE, cohort_share, caller="poisoning_experiment")
    check(FEEDBACK_MODEL, model, caller="poisoning_experiment")
    report = progress or (lambda f, m: None)
    polarity = dictionary.annotate(events["event"], events.get("value"))["polarity"].to_numpy().copy()
    users = np.sort(events["user"].astype("str").unique())
    rng = np.random.default_rng(random_state)
    cohort = set(rng.choice(users, size=max(1, int(len(users) * cohort_share)), replace=False))
    clean = build_feedback_task(events, dictionary, polarity=polarity)
    edges = cut_turns(clean.time_ns, n_turns=1)
    before = clean.time_ns < edges.holdout_start_ns
    in_cohort = events["user"].astype("str").isin(cohort).to_numpy()
    flip_rows = clean.row_index[before & in_cohort[clean.row_index] & (rng.random(len(clean.y)) < flip_share)]
    poisoned_polarity = polarity.copy()
    poisoned_polarity[flip_rows] *= -1
    report(0.3, "Poisoning: training on poisoned feedback")
    poisoned = build_feedback_task(events, dictionary, polarity=poisoned_polarity)

    def holdout_auc(task: FeedbackTask, frame_users: np.ndarray) -> tuple[float | None, Any]:
        turn = edges.turn_of(task.time_ns)
        fitted, _ = fit_model(model, task.X[turn == 1], task.y[turn == 1], random_state=random_state)
        hold = (turn == 2) & ~frame_users[task.row_index]
        return _auc(task.y[hold], _predict(fitted, task.X[hold])), fitted

    auc_clean, _ = holdout_auc(clean, in_cohort)
    auc_poisoned, fitted = holdout_auc(poisoned, in_cohort)
    report(0.6, "Poisoning: curating")
    train = poisoned.time_ns < edges.holdout_start_ns
    p = np.clip(_predict(fitted, poisoned.X[train]), 1e-6, 1 - 1e-6)
    y = poisoned.y[train]
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    frame = pd.DataFrame({"user": poisoned.user[train], "loss": loss}).groupby("user")["loss"].agg(["mean", "size"])
    frame = frame[frame["size"] >= 10]
    median = frame["mean"].median()
    mad = (frame["mean"] - median).abs().median() * 1.4826 or 1e-9
    suspects = frame.index[(frame["mean"] - median) / mad > 2.5].to_numpy()
    drop = np.isin(codes(events["user"])[0], suspects)
    keys = [c for c in ("user", "item", "timestamp", "event") if c in events.columns]
    keep = ~drop & ~events.duplicated(subset=keys, keep="first").to_numpy()
    curated_frame = events.loc[keep].reset_index(drop=True)
    curated_polarity = poisoned_polarity[keep]
    curated = build_feedback_task(curated_frame, dictionary, polarity=curated_polarity)
    auc_curated, _ = holdout_auc(curated, curated_frame["user"].astype("str").isin(cohort).to_numpy())
    flagged_users = {str(u) for u in events.loc[drop, "user"].astype("str").unique()}
    caught = len(flagged_users & cohort)
    damage = (auc_clean or 0) - (auc_poisoned or 0)
    left = (auc_clean or 0) - (auc_curated or 0)
    sentence = (
        f"Flipping {flip_share:.0%} of the feedback of {len(cohort):,} users costs the others {damage:+.3f} "
        f"holdout AUC ({_fmt(auc_clean)} clean, {_fmt(auc_poisoned)} poisoned); curation flags "
        f"{len(flagged_users):,} users ({caught:,} of the cohort) and leaves a gap of {left:+.3f} "
        f"(AUC {_fmt(auc_curated)})."
    )
    return ExperimentResult(
        "poisoning",
        "Poisoning: one cohort's feedback flipped",
        sentence,
        "Training data",
        "Other users' holdout AUC",
        ["clean", "poisoned", "poisoned + curation"],
        {"holdout AUC": [auc_clean, auc_poisoned, auc_curated]},
        {
            "damage_auc": damage,
            "damage_after_curation_auc": left,
            "flipped_rows": len(flip_rows),
            "flagged_users": len(flagged_users),
            "flagged_in_cohort": caught,
            "cohort_users": len(cohort),
        },
    )
