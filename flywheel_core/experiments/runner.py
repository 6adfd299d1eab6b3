"""The seed's experiments, measured on a team's own log: curation, capture, network, collapse, weighting, poisoning.

Each is a pure function over the event frame and its signal dictionary that returns an
:class:`ExperimentResult`: metric series (one value per turn, or one per arm), the chart's axes and a
sentence saying what the run shows. All use the feedback-prediction task of :mod:`flywheel_core.learning.turns`
and score on the fixed final holdout, so the arms of an experiment are measured on the same examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.experiments.backward import collapse_experiment, poisoning_experiment, weighting_experiment
from flywheel_core.experiments.common import (
    ExperimentResult,
    _auc,
    _fmt,
    _predict,
    _turns,
    curate_events,
)
from flywheel_core.learning.scoring import score_feedback
from flywheel_core.learning.turns import Progress, build_feedback_task, cut_turns, fit_model
from flywheel_core.params import FEEDBACK_MODEL, LABEL_BUDGET, N_TURNS, NETWORK_COHORT_SHARE, check

__all__ = [
    "EXPERIMENTS",
    "ExperimentResult",
    "capture_experiment",
    "collapse_experiment",
    "curate_events",
    "curation_experiment",
    "network_experiment",
    "poisoning_experiment",
    "weighting_experiment",
]


# --- curation ----------------------------------------------------------------------------------------


def curation_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 5,
    model: str = "logistic",
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """The same turns with bot-like users and duplicates kept vs removed, scored on the clean holdout."""
    check(N_TURNS, n_turns, caller="curation_experiment")
    check(FEEDBACK_MODEL, model, caller="curation_experiment")
    report = progress or (lambda f, m: None)
    raw = build_feedback_task(events, dictionary)
    curated, keep = curate_events(events)
    clean = build_feedback_task(curated, dictionary)
    edges = cut_turns(raw.time_ns, n_turns=n_turns)
    turn_raw, turn_clean = edges.turn_of(raw.time_ns), edges.turn_of(clean.time_ns)
    clean_rows = keep[raw.row_index]
    hold_raw = (turn_raw == n_turns + 1) & clean_rows
    hold_clean = turn_clean == n_turns + 1
    series: dict[str, list[float | None]] = {"kept": [], "removed": []}
    for k in range(1, n_turns + 1):
        report(k / (n_turns + 1), f"Curation: training turn {k} of {n_turns}")
        fit_raw, _ = fit_model(model, raw.X[turn_raw <= k], raw.y[turn_raw <= k], random_state=random_state)
        fit_clean, _ = fit_model(model, clean.X[turn_clean <= k], clean.y[turn_clean <= k], random_state=random_state)
        series["kept"].append(_auc(raw.y[hold_raw], _predict(fit_raw, raw.X[hold_raw])))
        series["removed"].append(_auc(clean.y[hold_clean], _predict(fit_clean, clean.X[hold_clean])))
    removed = int((~keep).sum())
    gain = (series["removed"][-1] or 0) - (series["kept"][-1] or 0)
    sentence = (
        f"Removing {removed:,} rows from bot-like users and duplicates changes the last version's holdout AUC "
        f"by {gain:+.3f} ({_fmt(series['kept'][-1])} kept vs {_fmt(series['removed'][-1])} removed): "
        + ("curation pays." if gain > 0.002 else "curation makes little difference on this log.")
    )
    return ExperimentResult(
        "curation",
        "Curation: bots and duplicates kept vs removed",
        sentence,
        "Version (turn)",
        "Holdout AUC (clean users)",
        list(range(1, n_turns + 1)),
        series,
        {"rows_removed": removed, "gain_auc": gain},
    )


# --- selective capture ---------------------------------------------------------------------------------


def capture_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 8,
    model: str = "logistic",
    label_budget: int = 10,
    random_repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Tesla's fleet trigger: each turn, label ``label_budget`` examples the current model is least sure
    about, vs the same number at random (averaged over ``random_repeats`` draws), vs every example.

    Every arm starts from the same random labels of turn 1; all are scored on the holdout.
    """
    check(N_TURNS, n_turns, caller="capture_experiment")
    check(FEEDBACK_MODEL, model, caller="capture_experiment")
    check(LABEL_BUDGET, label_budget, caller="capture_experiment")
    report = progress or (lambda f, m: None)
    task = build_feedback_task(events, dictionary)
    turn = _turns(task, n_turns)
    hold = turn == n_turns + 1
    rng = np.random.default_rng(random_state)
    first = np.flatnonzero(turn == 1)
    seed_rows = list(rng.choice(first, size=min(label_budget, len(first)), replace=False))

    def arm(choose: Callable[[Any, np.ndarray, int], np.ndarray]) -> list[float]:
        rows, out = list(seed_rows), []
        for k in range(1, n_turns + 1):
            fitted, _ = fit_model(model, task.X[rows], task.y[rows], random_state=random_state)
            out.append(_auc(task.y[hold], _predict(fitted, task.X[hold])) or 0.5)
            candidates = np.flatnonzero(turn == k + 1)
            if k < n_turns and len(candidates):
                rows += list(choose(fitted, candidates, min(label_budget, len(candidates))))
        return out

    def least_sure(fitted: Any, candidates: np.ndarray, n: int) -> np.ndarray:
        margin = np.abs(_predict(fitted, task.X[candidates]) - 0.5)
        return candidates[np.argsort(margin, kind="stable")[:n]]

    def at_random(fitted: Any, candidates: np.ndarray, n: int) -> np.ndarray:
        return rng.choice(candidates, size=n, replace=False)

    report(0.1, "Capture: labelling the least sure examples")
    sure_series = arm(least_sure)
    report(0.4, "Capture: labelling at random")
    random_series = np.mean([arm(at_random) for _ in range(max(1, random_repeats))], axis=0)
    report(0.8, "Capture: unlimited labels")
    unlimited = []
    for k in range(1, n_turns + 1):
        full, _ = fit_model(model, task.X[turn <= k], task.y[turn <= k], random_state=random_state)
        unlimited.append(_auc(task.y[hold], _predict(full, task.X[hold])))
    series: dict[str, list[float | None]] = {
        "least sure": [round(v, 4) for v in sure_series],
        "random": [round(float(v), 4) for v in random_series],
        "unlimited": unlimited,
    }
    sure, rand = sure_series[-1], float(random_series[-1])
    sentence = (
        f"With {label_budget} labels per turn, spending them on the examples the model is least sure about "
        f"reaches holdout AUC {sure:.3f} against {rand:.3f} at random "
        f"(unlimited labels: {_fmt(series['unlimited'][-1])}): "
        + (
            "selective capture teaches more per label."
            if sure > rand
            else "on this log, targeting does not beat chance."
        )
    )
    return ExperimentResult(
        "capture",
        "Selective capture under a label budget",
        sentence,
        "Version (turn)",
        "Holdout AUC",
        list(range(1, n_turns + 1)),
        series,
        {
            "label_budget": label_budget,
            "labels_per_arm": len(seed_rows) + label_budget * (n_turns - 1),
            "advantage_auc": sure - rand,
            "mean_advantage_auc": float(np.mean(sure_series) - np.mean(random_series)),
        },
    )


# --- network vs individual learning ---------------------------------------------------------------------


def network_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    cohort_share: float = 0.5,
    repeats: int = 3,
    model: str = "logistic",
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """The deletion test, measured: retrain without one cohort's data and score the other users
    (averaged over ``repeats`` random cohorts). The network-learning score is the others' relative
    log-loss increase; the AUC they lose is what a privacy deletion of that cohort costs.

    Also compares a per-user model (each user's own history only) with the pooled model.
    """
    check(NETWORK_COHORT_SHARE, cohort_share, caller="network_experiment")
    check(FEEDBACK_MODEL, model, caller="network_experiment")
    report = progress or (lambda f, m: None)
    users = np.sort(events["user"].astype("str").unique())
    user_of_event = events["user"].astype("str").to_numpy()
    rng = np.random.default_rng(random_state)
    pooled = build_feedback_task(events, dictionary)
    edges = cut_turns(pooled.time_ns, n_turns=1)
    turn = edges.turn_of(pooled.time_ns)
    train = turn == 1
    fitted, _ = fit_model(model, pooled.X[train], pooled.y[train], random_state=random_state)
    p_all = _predict(fitted, pooled.X)
    with_runs, without_runs = [], []
    for r in range(max(1, repeats)):
        report(0.1 + 0.7 * r / max(1, repeats), f"Network: deleting cohort {r + 1} of {repeats}")
        cohort = rng.choice(users, size=max(1, int(len(users) * cohort_share)), replace=False)
        in_cohort = np.isin(user_of_event, cohort)
        hold = (turn == 2) & ~in_cohort[pooled.row_index]
        deleted = build_feedback_task(events.loc[~in_cohort].reset_index(drop=True), dictionary)
        turn_d = edges.turn_of(deleted.time_ns)
        fitted_d, _ = fit_model(model, deleted.X[turn_d == 1], deleted.y[turn_d == 1], random_state=random_state)
        with_runs.append(score_feedback(pooled.y[hold], p_all[hold]))
        without_runs.append(score_feedback(deleted.y[turn_d == 2], _predict(fitted_d, deleted.X[turn_d == 2])))

    def mean(runs: list[dict[str, Any]], key: str) -> float | None:
        values = [run[key] for run in runs if run[key] is not None]
        return float(np.mean(values)) if values else None

    with_all = {k: mean(with_runs, k) for k in ("auc", "log_loss")}
    without = {k: mean(without_runs, k) for k in ("auc", "log_loss")}
    report(0.85, "Network: per-user models")
    hold_all = turn == 2
    own = [pooled.feature_names.index(n) for n in pooled.feature_names if n.startswith("user_")]
    fitted_u, _ = fit_model(model, pooled.X[train][:, own], pooled.y[train], random_state=random_state)
    individual = score_feedback(pooled.y[hold_all], _predict(fitted_u, pooled.X[hold_all][:, own]))
    pooled_all = score_feedback(pooled.y[hold_all], p_all[hold_all])
    auc_loss = (with_all["auc"] or 0.5) - (without["auc"] or 0.5)
    ll_gain = (without["log_loss"] or 0) - (with_all["log_loss"] or 0)
    score = ll_gain / max(with_all["log_loss"] or 1.0, 1e-9)
    cohort_users = max(1, int(len(users) * cohort_share))
    sentence = (
        f"Deleting {cohort_share:.0%} of users' data changes the other users' holdout AUC by {-auc_loss:+.3f} "
        f"and log loss by {ll_gain:+.3f} ({score:+.1%}): "
        + (
            "other users notice, so this is network learning."
            if auc_loss > 0.01
            else "other users barely notice: learning here is individual."
        )
        + f" A per-user model reaches AUC {_fmt(individual['auc'])} against {_fmt(pooled_all['auc'])} pooled"
        + f" (averaged over {repeats} random cohorts)."
    )
    series: dict[str, list[float | None]] = {
        "holdout AUC": [with_all["auc"], without["auc"], individual["auc"], pooled_all["auc"]],
        "holdout log loss": [with_all["log_loss"], without["log_loss"], individual["log_loss"], pooled_all["log_loss"]],
    }
    return ExperimentResult(
        "network",
        "Network vs individual learning (the deletion test)",
        sentence,
        "Model",
        "Other users' holdout metric",
        ["pooled (others)", "cohort deleted (others)", "per-user only (all)", "pooled (all)"],
        series,
        {
            "network_score": score,
            "deletion_auc_cost": auc_loss,
            "deletion_log_loss_cost": ll_gain,
            "cohort_users": cohort_users,
            "cohort_share": cohort_share,
        },
    )


# The names are declared in flywheel_core.params.EXPERIMENT (read by the CLI and the page); a test holds them equal.
EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {
    "curation": curation_experiment,
    "capture": capture_experiment,
    "network": network_experiment,
    "collapse": collapse_experiment,
    "weighting": weighting_experiment,
    "poisoning": poisoning_experiment,
}
