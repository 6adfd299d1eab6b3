"""The seed's experiments, measured on a team's own log: curation, capture, network, collapse, weighting, poisoning.

Each is a pure function over the event frame and its signal dictionary that returns an
:class:`ExperimentResult`. Every experiment repeats ``repeats`` times on random halves of the users with fresh
seeds (:mod:`flywheel_core.experiments.effects`) and reports its effect with a 95% interval, a conclusion
(effect, no effect, inconclusive) against a material effect stated in the result, and a sentence written
from both. All use the feedback-prediction task of :mod:`flywheel_core.learning.turns` and score on a fixed
final holdout, so the arms of an experiment are measured on the same examples; a metric with fewer than ten
positives or negatives is not scored and not used as evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.experiments.backward import collapse_experiment, poisoning_experiment, weighting_experiment
from flywheel_core.experiments.claims import describe
from flywheel_core.experiments.common import (
    MATERIAL,
    ExperimentResult,
    Run,
    _check_common,
    _predict,
    _turns,
    auc,
    curate_events,
    difference,
    repeat_runs,
    result,
)
from flywheel_core.learning.evidence import not_enough
from flywheel_core.learning.turns import Progress, build_feedback_task, cut_turns, fit_model, roc_auc
from flywheel_core.params import LABEL_BUDGET, N_TURNS, NETWORK_COHORT_SHARE, check

__all__ = [
    "EXPERIMENTS",
    "MATERIAL",
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
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """The same turns with bot-like users and exact duplicates kept vs removed, scored on the clean users'
    holdout. Bot-like is decided by behaviour (:data:`flywheel_core.data.analytics.BOT_RULE`); heavy users stay."""
    check(N_TURNS, n_turns, caller="curation_experiment")
    _check_common("curation_experiment", model, repeats)
    _, keep_all = curate_events(events)
    keys = [c for c in ("user", "item", "timestamp", "event") if c in events.columns]
    duplicates = int(events.duplicated(subset=keys, keep="first").sum())
    bots = events.loc[~keep_all & ~events.duplicated(subset=keys, keep="first").to_numpy(), "user"]

    def run(half: pd.DataFrame, seed: int) -> Run:
        raw = build_feedback_task(half, dictionary)
        curated, keep = curate_events(half)
        edges = cut_turns(raw.time_ns, n_turns=n_turns)
        turn_raw = edges.turn_of(raw.time_ns)
        hold_raw = (turn_raw == n_turns + 1) & keep[raw.row_index]
        kept: list[float | None] = []
        removed: list[float | None] = []
        clean = build_feedback_task(curated, dictionary) if not keep.all() else raw
        turn_clean = edges.turn_of(clean.time_ns)
        hold_clean = turn_clean == n_turns + 1
        last: tuple[tuple[float | None, str], tuple[float | None, str]] = ((None, ""), (None, ""))
        for k in range(1, n_turns + 1):
            fit_raw, _ = fit_model(model, raw.X[turn_raw <= k], raw.y[turn_raw <= k], random_state=seed)
            a = auc(raw.y[hold_raw], _predict(fit_raw, raw.X[hold_raw]))
            if clean is raw:
                b = a
            else:
                w = turn_clean <= k
                fit_clean, _ = fit_model(model, clean.X[w], clean.y[w], random_state=seed)
                b = auc(clean.y[hold_clean], _predict(fit_clean, clean.X[hold_clean]))
            kept.append(a[0])
            removed.append(b[0])
            last = (a, b)
        gain, reason = difference(last[1], last[0])
        return Run(gain, reason, {"kept": kept, "removed": removed})

    runs = repeat_runs(events, run, repeats=repeats, random_state=random_state, label="Curation", progress=progress)
    return result(
        runs,
        kind="curation",
        title="Curation: bot-like users and duplicates kept vs removed",
        x_label="Version (turn)",
        y_label="Holdout AUC (clean users)",
        x=list(range(1, n_turns + 1)),
        material=MATERIAL["curation"],
        unit="AUC",
        describe=lambda main, others, figures: describe("curation", main, others, figures),
        figures={
            "rows_removed": int((~keep_all).sum()),
            "bot_like_users": int(bots.nunique()),
            "duplicate_rows": duplicates,
        },
    )


# --- selective capture ---------------------------------------------------------------------------------

# Both arms start from the same random labels of turn 1: three turns' budget, so that the model asked which
# examples it is least sure about has seen enough to have an opinion (Tesla's trigger asks a trained onboard
# model; a model fitted on ten labels is not yet calibrated, and targeting by its doubts only chases noise).
START_BUDGETS = 3


def capture_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 8,
    model: str = "logistic",
    label_budget: int = 10,
    paths: int = 10,
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Tesla's fleet trigger: each turn, label ``label_budget`` examples the current model is least sure
    about, vs the same number at random, vs every example.

    Both arms of a path start from the same random labels of turn 1 (:data:`START_BUDGETS` turns' budget,
    with at least one of each outcome); each repeat averages ``paths`` such paths, since ten labels a turn
    make any one path noisy, and reports their spread as the repeat's own variance. All are scored on the holdout. The effect is the area between the learning
    curves: holdout AUC, least sure minus random, averaged over versions 2..n (the last version alone sits
    near the ceiling on an easy log).
    """
    check(N_TURNS, n_turns, caller="capture_experiment")
    check(LABEL_BUDGET, label_budget, caller="capture_experiment")
    _check_common("capture_experiment", model, repeats)

    def run(half: pd.DataFrame, seed: int) -> Run:
        task = build_feedback_task(half, dictionary)
        turn = _turns(task, n_turns)
        hold = turn == n_turns + 1
        rng = np.random.default_rng(seed)
        first = np.flatnonzero(turn == 1)

        def seed_rows() -> list[int]:
            rows = [
                int(r) for r in rng.choice(first, size=min(START_BUDGETS * label_budget, len(first)), replace=False)
            ]
            for outcome in (0, 1):
                present = task.y[first] == outcome
                if len(rows) > 1 and not (task.y[rows] == outcome).any() and present.any():
                    rows[int(np.argmax(task.y[rows] != outcome))] = int(rng.choice(first[present]))
            return rows

        def least_sure(fitted: Any, candidates: np.ndarray, n: int) -> np.ndarray:
            # Ties (all of them, for a model that has seen one outcome only) are broken at random.
            margin = np.round(np.abs(_predict(fitted, task.X[candidates]) - 0.5), 12)
            return candidates[np.lexsort((rng.random(len(candidates)), margin))[:n]]

        def at_random(fitted: Any, candidates: np.ndarray, n: int) -> np.ndarray:
            return rng.choice(candidates, size=n, replace=False)

        def arm(start: list[int], choose: Callable[[Any, np.ndarray, int], np.ndarray]) -> list[float | None]:
            rows, out = list(start), []
            for k in range(1, n_turns + 1):
                fitted, _ = fit_model(model, task.X[rows], task.y[rows], random_state=seed)
                # the holdout's sample was checked once below; the rank-sum AUC is all a learning curve needs
                out.append(roc_auc(y_hold, _predict(fitted, X_hold)))
                candidates = np.flatnonzero(turn == k + 1)
                if k < n_turns and len(candidates):
                    rows += list(choose(fitted, candidates, min(label_budget, len(candidates))))
            return out

        y_hold, X_hold = task.y[hold], task.X[hold]
        reason = not_enough(y_hold, "holdout")
        if reason:
            return Run(None, reason)
        starts = [seed_rows() for _ in range(max(1, paths))]
        sure = np.array([arm(start, least_sure) for start in starts], dtype=float)
        rand = np.array([arm(start, at_random) for start in starts], dtype=float)
        unlimited: list[float | None] = []
        for k in range(1, n_turns + 1):
            full, _ = fit_model(model, task.X[turn <= k], task.y[turn <= k], random_state=seed)
            unlimited.append(auc(task.y[hold], _predict(full, task.X[hold]))[0])
        per_path = (sure[:, 1:] - rand[:, 1:] if n_turns > 1 else sure - rand).mean(axis=1)
        within = float(per_path.var(ddof=1) / len(per_path)) if len(per_path) > 1 else 0.0
        series: dict[str, list[float | None]] = {
            "least sure": [round(float(v), 4) for v in sure.mean(axis=0)],
            "random": [round(float(v), 4) for v in rand.mean(axis=0)],
            "unlimited": unlimited,
        }
        figures = {"least_sure_auc": float(sure[:, -1].mean()), "random_auc": float(rand[:, -1].mean())}
        if unlimited[-1] is not None:
            figures["unlimited_auc"] = unlimited[-1]
        return Run(round(float(per_path.mean()), 4), "", series, figures, within=within)

    runs = repeat_runs(events, run, repeats=repeats, random_state=random_state, label="Capture", progress=progress)
    return result(
        runs,
        kind="capture",
        title="Selective capture under a label budget",
        x_label="Version (turn)",
        y_label="Holdout AUC",
        x=list(range(1, n_turns + 1)),
        material=MATERIAL["capture"],
        unit="AUC",
        describe=lambda main, others, figures: describe("capture", main, others, figures),
        figures={"label_budget": label_budget, "labels_per_arm": label_budget * (START_BUDGETS + n_turns - 1)},
    )


# --- network vs individual learning ---------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def network_experiment(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    cohort_share: float = 0.5,
    cohorts: int = 4,
    model: str = "logistic",
    repeats: int = 5,
    random_state: int = 0,
    progress: Progress | None = None,
) -> ExperimentResult:
    """The deletion test, measured: retrain without one random cohort's data and score the other users on
    the same holdout rows. The effect is the others' AUC with the cohort minus without it (what they lose),
    averaged over ``cohorts`` random cohorts in each repeat (their spread is the repeat's own variance).

    A second finding compares the pooled model with a per-user model (each user's own history features only)
    on every user's holdout: a pooled model that beats it learns something users share, even when it is
    saturated and a deletion costs the others nothing.
    """
    check(NETWORK_COHORT_SHARE, cohort_share, caller="network_experiment")
    _check_common("network_experiment", model, repeats)

    def run(half: pd.DataFrame, seed: int) -> Run:
        rng = np.random.default_rng(seed)
        users = np.sort(half["user"].astype("str").unique())
        user_of_event = half["user"].astype("str").to_numpy()
        pooled = build_feedback_task(half, dictionary)
        edges = cut_turns(pooled.time_ns, n_turns=1)
        turn = edges.turn_of(pooled.time_ns)
        train, hold_all = turn == 1, turn == 2
        fitted, _ = fit_model(model, pooled.X[train], pooled.y[train], random_state=seed)
        p_all = _predict(fitted, pooled.X)
        size = max(1, int(len(users) * cohort_share))
        costs: list[float] = []
        with_runs: list[float] = []
        without_runs: list[float] = []
        reason = ""
        for _ in range(max(1, cohorts)):
            in_cohort = np.isin(user_of_event, rng.choice(users, size=size, replace=False))
            hold = hold_all & ~in_cohort[pooled.row_index]
            with_cohort = auc(pooled.y[hold], p_all[hold])
            try:
                deleted = build_feedback_task(half.loc[~in_cohort].reset_index(drop=True), dictionary)
            except InsufficientDataError as error:  # what remains cannot be learnt from: not scored
                reason = (
                    reason
                    or f"not enough feedback to score: without the cohort, {str(error)[0].lower()}{str(error)[1:]}"
                )
                continue
            turn_d = edges.turn_of(deleted.time_ns)
            fitted_d, _ = fit_model(model, deleted.X[turn_d == 1], deleted.y[turn_d == 1], random_state=seed)
            without = auc(deleted.y[turn_d == 2], _predict(fitted_d, deleted.X[turn_d == 2]))
            one, why = difference(with_cohort, without)
            reason = reason or why
            if one is not None and with_cohort[0] is not None and without[0] is not None:
                costs.append(one)
                with_runs.append(with_cohort[0])
                without_runs.append(without[0])
        own = [i for i, n in enumerate(pooled.feature_names) if n.startswith("user_")]
        fitted_u, _ = fit_model(model, pooled.X[train][:, own], pooled.y[train], random_state=seed)
        individual = auc(pooled.y[hold_all], _predict(fitted_u, pooled.X[hold_all][:, own]))
        pooled_all = auc(pooled.y[hold_all], p_all[hold_all])
        shared, shared_reason = difference(pooled_all, individual)
        series = {"holdout AUC": [_mean(with_runs), _mean(without_runs), individual[0], pooled_all[0]]}
        within = float(np.var(costs, ddof=1) / len(costs)) if len(costs) > 1 else 0.0
        return Run(
            _mean(costs),
            "" if costs else reason,
            series,
            {"cohort_users": float(size)},
            {"pooled over per-user": shared},
            {"pooled over per-user": shared_reason},
            within=within,
        )

    runs = repeat_runs(events, run, repeats=repeats, random_state=random_state, label="Network", progress=progress)
    return result(
        runs,
        kind="network",
        title="Network vs individual learning (the deletion test)",
        x_label="Model",
        y_label="Holdout AUC",
        x=["pooled (others)", "cohort deleted (others)", "per-user only (all)", "pooled (all)"],
        material=MATERIAL["network"],
        unit="AUC",
        describe=lambda main, others, figures: describe("network", main, others, figures),
        figures={"cohort_share": cohort_share},
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
