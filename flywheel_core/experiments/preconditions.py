"""What each of the seed's experiments needs from a dataset, checked before it is queued or run.

Every experiment learns the feedback task on random halves of the users, so each needs events of both
polarities and enough distinct times of feedback for its turns; the weighting experiment needs strong
positives and weak ones, and the deletion and poisoning experiments need users left outside their cohort.
The conditions mirror what the experiments themselves refuse (:mod:`flywheel_core.experiments.runner`,
:mod:`flywheel_core.experiments.backward`), so a run that passes is not refused later for the same reason.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.signals import SignalDictionary
from flywheel_core.learning.preconditions import REMAP, feedback_problems, turns_problem

__all__ = ["experiment_problems", "experiment_turns"]

_NAMES = {
    "curation": "The curation experiment",
    "capture": "The selective-capture experiment",
    "network": "The deletion test (network experiment)",
    "collapse": "The self-consumption experiment",
    "weighting": "The signal-weighting experiment",
    "poisoning": "The poisoning experiment",
}


def experiment_turns(kind: str) -> int:
    """The turns an experiment cuts its log into (the deletion and poisoning tests: one turn and the holdout)."""
    from flywheel_core.experiments.runner import EXPERIMENTS

    parameter = inspect.signature(EXPERIMENTS[kind]).parameters.get("n_turns")
    return int(parameter.default) if parameter is not None else 1


def _time_ns(events: pd.DataFrame) -> np.ndarray:
    from flywheel_core.learning.turns import _time_ns as time_ns

    return time_ns(events)


def _half(n_users: int) -> int:
    from flywheel_core.experiments.common import RESAMPLE_SHARE

    return max(1, round(n_users * RESAMPLE_SHARE))


def experiment_problems(
    events: pd.DataFrame, dictionary: SignalDictionary, *, dataset: str, kind: str, options: dict[str, Any]
) -> list[str]:
    """Every reason experiment ``kind`` with ``options`` cannot work on these events (or none)."""
    from flywheel_core.params import NETWORK_COHORT_SHARE, POISON_COHORT_SHARE

    name = _NAMES.get(kind, f"The {kind} experiment")
    if len(events) == 0:
        return [f"'{dataset}' has no events. Import a log into it first."]
    meaning = dictionary.annotate(events["event"], events.get("value"))
    polarity = meaning["polarity"].to_numpy()
    problems = feedback_problems(events, polarity, dataset=dataset, purpose=name)
    if problems:
        return problems
    turns = turns_problem(
        _time_ns(events)[polarity != 0],
        n_turns=experiment_turns(kind),
        dataset=dataset,
        examples="feedback events",
        purpose=name,
        adjustable=False,
    )
    problems += [turns] if turns else []
    if kind == "weighting":
        from flywheel_core.experiments.backward import weighting_experiment

        default = inspect.signature(weighting_experiment).parameters["strong_weight"].default
        strong_weight = float(options.get("strong_weight", default))
        positive = polarity > 0
        strong = positive & (
            (meaning["weight"].to_numpy(dtype=float) >= strong_weight) | (meaning["kind"] == "explicit").to_numpy()
        )
        if not strong.any() or strong.sum() == positive.sum():
            which = "none of" if not strong.any() else "all of"
            problems.append(
                f"{name} compares a model trained on every positive with one trained on the strong positives "
                f"(weight ≥ {strong_weight:g}, or explicit), and {which} the "
                f"{positive.sum():,} positives of '{dataset}' are strong, so there is nothing to compare. Give "
                f"saves or purchases a higher weight than clicks in the signal dictionary ({REMAP}), then run "
                "it again."
            )
    if kind in ("network", "poisoning"):
        users = int(events["user"].nunique())
        half = _half(users) if kind == "network" else users
        param = NETWORK_COHORT_SHARE if kind == "network" else POISON_COHORT_SHARE
        share = float(options.get("cohort_share", param.default or 0.0))
        cohort = max(1, int(half * share))
        if half - cohort < 1:
            problems.append(
                f"{name} sets a cohort of users apart and scores the others; with {users:,} "
                f"user{'s' if users != 1 else ''} in '{dataset}' and a cohort share of {share:.0%}, "
                "no user is left outside the cohort. Import a log with more users, or choose a smaller share."
            )
    return problems
