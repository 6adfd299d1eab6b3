"""Experiments on loops that spin backward: self-consumption, wrong incentives, and data poisoning.

"When flywheels spin backward" in the seed: training on the model's own outputs, optimising the wrong
signal, and users feeding it misleading feedback, each measured on a team's own log, repeated on random halves
of the users (:mod:`flywheel_core.experiments.effects`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flywheel_core.data.analytics import codes
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.experiments.claims import describe
from flywheel_core.experiments.common import (
    MATERIAL,
    ExperimentResult,
    Run,
    _check_common,
    _predict,
    _turns,
    auc,
    difference,
    repeat_runs,
    result,
)
from flywheel_core.learning.turns import FeedbackTask, Progress, build_feedback_task, cut_turns, fit_model
from flywheel_core.params import FLIP_SHARE, N_TURNS, POISON_COHORT_SHARE, check

__all__ = ["collapse_experiment", "poisoning_experiment", "weighting_experiment"]


# --- self-consumption ------------------------------------------------------------------------------------


def _diversity(task: FeedbackTask, rows: np.ndarray, p: np.ndarray) -> float | None:
    """Distinct items among the top-scored tenth of rows, as a share of the distinct items in the rows."""
    if len(rows) < 10:
        return None
    top = rows[np.argsort(-p, kind="stable")[: max(1, len(rows) // 10)]]
    return round(len(np.unique(task.item[top])) / max(len(np.unique(task.item[rows])), 1), 4)


def _trend(values: list[float | None]) -> float | None:
    """The change from the first version to the last along the least-squares line through the scored points."""
    points = [(k, v) for k, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return None
    k, v = np.array(points, dtype=float).T
    slope = float(np.polyfit(k, v, 1)[0])
    return round(slope * (len(values) - 1), 4)


def collapse_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 5,
    model: str = "logistic",
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Self-consumption, read from the log: does each version predict what comes next worse than the last?

    Version k learns from turns 1..k and is scored on turn k+1 (the last on the holdout). A loop that feeds on
    its own outputs fills its log with feedback that says less and less about users, so each version does
    worse on what comes next; the output diversity (distinct items among each version's top-scored tenth of
    the holdout) shows whether its range narrows. The effect is the change in next-turn AUC from the first
    version to the last along the least-squares trend: negative when the loop spins backward.
    """
    check(N_TURNS, n_turns, caller="collapse_experiment")
    _check_common("collapse_experiment", model, repeats)
    if n_turns < 2:
        raise InsufficientDataError("The self-consumption experiment compares versions: give it two turns or more.")

    def run(half: pd.DataFrame, seed: int) -> Run:
        task = build_feedback_task(half, dictionary)
        turn = _turns(task, n_turns)
        hold = np.flatnonzero(turn == n_turns + 1)
        following: list[float | None] = []
        diversity: list[float | None] = []
        reason = ""
        for k in range(1, n_turns + 1):
            fitted, _ = fit_model(model, task.X[turn <= k], task.y[turn <= k], random_state=seed)
            nxt = turn == k + 1
            value, why = auc(task.y[nxt], _predict(fitted, task.X[nxt]), "next turn")
            following.append(value)
            reason = reason or why
            diversity.append(_diversity(task, hold, _predict(fitted, task.X[hold])))
        change = _trend(following)
        figures = {"versions": float(n_turns)}
        if diversity[0] is not None and diversity[-1] is not None:
            figures |= {"diversity_first": diversity[0], "diversity_last": diversity[-1]}
        series = {"AUC on the next turn": following, "output diversity (holdout)": diversity}
        return Run(change, reason if change is None else "", series, figures)

    runs = repeat_runs(
        events, run, repeats=repeats, random_state=random_state, label="Self-consumption", progress=progress
    )
    return result(
        runs,
        kind="collapse",
        title="Self-consumption: does each version predict what comes next worse?",
        x_label="Version (turn)",
        y_label="AUC on the next turn · output diversity",
        x=list(range(1, n_turns + 1)),
        material=MATERIAL["collapse"],
        unit="AUC",
        describe=lambda main, others, figures: describe("collapse", main, others, figures),
    )


# --- signal weighting ----------------------------------------------------------------------------------


def _strong(events: pd.DataFrame, dictionary: SignalDictionary, task: FeedbackTask, strong_weight: float) -> np.ndarray:
    signals = dictionary.annotate(events["event"], events.get("value")).iloc[task.row_index]
    strong = (task.y == 1) & (
        (signals["weight"].to_numpy() >= strong_weight) | (signals["kind"] == "explicit").to_numpy()
    )
    return strong.astype(np.int8)


def weighting_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 4,
    model: str = "logistic",
    strong_weight: float = 2.0,
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Wrong incentives: the same model trained toward every positive (clicks) vs toward strong signals
    (positive with weight >= ``strong_weight``, or explicit), both scored on the strong signal. The effect is
    the last version's AUC on the strong signal, strong-trained minus click-trained.

    Raises:
        InsufficientDataError: the dictionary does not separate strong positives from weak ones.
    """
    check(N_TURNS, n_turns, caller="weighting_experiment")
    _check_common("weighting_experiment", model, repeats)
    whole = build_feedback_task(events, dictionary)
    strong_all = _strong(events, dictionary, whole, strong_weight)
    if strong_all.sum() == 0 or strong_all.sum() == (whole.y == 1).sum():
        raise InsufficientDataError(
            f"Signal weighting needs some strong positives (weight ≥ {strong_weight:g} or explicit) and some weak "
            "ones; this dataset's dictionary does not separate them. Give saves or purchases a higher weight."
        )

    def run(half: pd.DataFrame, seed: int) -> Run:
        task = build_feedback_task(half, dictionary)
        y_strong = _strong(half, dictionary, task, strong_weight)
        turn = _turns(task, n_turns)
        hold = turn == n_turns + 1
        series: dict[str, list[float | None]] = {"trained on clicks": [], "trained on strong signals": []}
        last: dict[str, tuple[float | None, str]] = {}
        for k in range(1, n_turns + 1):
            window = turn <= k
            for name, target in (("trained on clicks", task.y), ("trained on strong signals", y_strong)):
                fitted, _ = fit_model(model, task.X[window], target[window], random_state=seed)
                last[name] = auc(y_strong[hold], _predict(fitted, task.X[hold]), "holdout's strong signal")
                series[name].append(last[name][0])
        gain, reason = difference(last["trained on strong signals"], last["trained on clicks"])
        return Run(gain, reason, series)

    runs = repeat_runs(events, run, repeats=repeats, random_state=random_state, label="Weighting", progress=progress)
    return result(
        runs,
        kind="weighting",
        title="Signal weighting: clicks vs strong signals",
        x_label="Version (turn)",
        y_label="Holdout AUC on the strong signal",
        x=list(range(1, n_turns + 1)),
        material=MATERIAL["weighting"],
        unit="AUC",
        describe=lambda main, others, figures: describe("weighting", main, others, figures),
        figures={"strong_rows": int(strong_all.sum()), "strong_weight": strong_weight},
    )


# --- poisoning -----------------------------------------------------------------------------------------


def _loss_suspects(task: FeedbackTask, rows: np.ndarray, fitted: object) -> np.ndarray:
    """Users (codes) whose feedback the model finds least likely: mean log loss over 2.5 robust deviations
    above the median, among users with 10 or more rows."""
    p = np.clip(_predict(fitted, task.X[rows]), 1e-6, 1 - 1e-6)
    y = task.y[rows]
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    frame = pd.DataFrame({"user": task.user[rows], "loss": loss}).groupby("user")["loss"].agg(["mean", "size"])
    frame = frame[frame["size"] >= 10]
    median = frame["mean"].median()
    mad = (frame["mean"] - median).abs().median() * 1.4826 or 1e-9
    return frame.index[(frame["mean"] - median) / mad > 2.5].to_numpy()


def poisoning_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    flip_share: float = 0.8,
    cohort_share: float = 0.15,
    model: str = "logistic",
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """A share of one cohort's feedback flipped before the holdout; the effect is the damage to the other
    users' holdout AUC (clean minus poisoned). A second finding is what curation recovers (duplicates, and
    users whose feedback the poisoned model finds least likely): curated minus poisoned."""
    check(FLIP_SHARE, flip_share, caller="poisoning_experiment")
    check(POISON_COHORT_SHARE, cohort_share, caller="poisoning_experiment")
    _check_common("poisoning_experiment", model, repeats)

    def run(half: pd.DataFrame, seed: int) -> Run:
        rng = np.random.default_rng(seed)
        polarity = dictionary.annotate(half["event"], half.get("value"))["polarity"].to_numpy().copy()
        names = half["user"].astype("str")
        users = np.sort(names.unique())
        cohort = set(rng.choice(users, size=max(1, int(len(users) * cohort_share)), replace=False))
        in_cohort = names.isin(cohort).to_numpy()
        clean = build_feedback_task(half, dictionary, polarity=polarity)
        edges = cut_turns(clean.time_ns, n_turns=1)
        before = clean.time_ns < edges.holdout_start_ns
        flip = clean.row_index[before & in_cohort[clean.row_index] & (rng.random(len(clean.y)) < flip_share)]
        poisoned_polarity = polarity.copy()
        poisoned_polarity[flip] *= -1
        poisoned = build_feedback_task(half, dictionary, polarity=poisoned_polarity)

        def others_auc(task: FeedbackTask, cohort_rows: np.ndarray) -> tuple[tuple[float | None, str], object]:
            turn = edges.turn_of(task.time_ns)
            fitted, _ = fit_model(model, task.X[turn == 1], task.y[turn == 1], random_state=seed)
            hold = (turn == 2) & ~cohort_rows[task.row_index]
            return auc(task.y[hold], _predict(fitted, task.X[hold]), "other users' holdout"), fitted

        auc_clean, _ = others_auc(clean, in_cohort)
        auc_poisoned, fitted = others_auc(poisoned, in_cohort)
        suspects = _loss_suspects(poisoned, np.flatnonzero(poisoned.time_ns < edges.holdout_start_ns), fitted)
        drop = np.isin(codes(half["user"])[0], suspects)
        keys = [c for c in ("user", "item", "timestamp", "event") if c in half.columns]
        keep = ~drop & ~half.duplicated(subset=keys, keep="first").to_numpy()
        curated_frame = half.loc[keep].reset_index(drop=True)
        curated = build_feedback_task(curated_frame, dictionary, polarity=poisoned_polarity[keep])
        auc_curated, _ = others_auc(curated, curated_frame["user"].astype("str").isin(cohort).to_numpy())
        flagged = set(names[drop].unique())
        damage, reason = difference(auc_clean, auc_poisoned)
        recovered, recovered_reason = difference(auc_curated, auc_poisoned)
        return Run(
            damage,
            reason,
            {"holdout AUC": [auc_clean[0], auc_poisoned[0], auc_curated[0]]},
            {
                "cohort_users": float(len(cohort)),
                "flipped_rows": float(len(flip)),
                "flagged_users": float(len(flagged)),
                "flagged_in_cohort": float(len(flagged & cohort)),
            },
            {"recovered by curation": recovered},
            {"recovered by curation": recovered_reason},
        )

    runs = repeat_runs(events, run, repeats=repeats, random_state=random_state, label="Poisoning", progress=progress)
    return result(
        runs,
        kind="poisoning",
        title="Poisoning: one cohort's feedback flipped",
        x_label="Training data",
        y_label="Other users' holdout AUC",
        x=["clean", "poisoned", "poisoned + curation"],
        material=MATERIAL["poisoning"],
        unit="AUC",
        describe=lambda main, others, figures: describe("poisoning", main, others, figures),
        figures={"flip_share": flip_share},
    )
