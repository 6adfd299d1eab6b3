"""Pieces shared by the experiments: the result type, the repeat loop, scoring helpers, and curation of a log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.analytics import codes, user_outliers
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.experiments.effects import Conclusion, Effect, Finding, summarise
from flywheel_core.learning.evidence import auc_score
from flywheel_core.learning.turns import FeedbackTask, Progress, cut_turns
from flywheel_core.params import FEEDBACK_MODEL, REPEATS, check

__all__ = ["MATERIAL", "RESAMPLE_SHARE", "ExperimentResult", "Run", "curate_events", "repeat_runs"]

RESAMPLE_SHARE = 0.5  # each repeat runs on this share of the users (see flywheel_core.experiments.effects)
# The smallest effect each experiment treats as one that matters, in AUC: a point of AUC.
MATERIAL: dict[str, float] = {
    "curation": 0.01,
    "capture": 0.01,
    "network": 0.01,
    "collapse": 0.01,
    "weighting": 0.01,
    "poisoning": 0.01,
}
Figure = float | int | str


@dataclass(frozen=True)
class ExperimentResult:
    """One experiment on one log: the chart's series (means over the scored repeats), the effect with its
    interval, the conclusion read from it, and the sentence written from both.

    ``comparisons`` holds further effects the sentence reads (e.g. pooled vs per-user models in the deletion
    test), each with its own interval and conclusion. ``figures`` holds scalar details (rows removed, ...).
    """

    kind: str
    title: str
    sentence: str
    x_label: str
    y_label: str
    x: list[int | str]
    series: dict[str, list[float | None]]
    effect: Effect | None
    conclusion: Conclusion
    repeats: int
    material: float
    unit: str = "AUC"
    scored_repeats: int = 0
    reason: str = ""
    comparisons: dict[str, Finding] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def finding(self) -> Finding:
        return Finding(self.effect, self.conclusion, self.material, self.repeats, self.scored_repeats, self.reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "sentence": self.sentence,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "x": list(self.x),
            "series": self.series,
            "effect": None if self.effect is None else self.effect.to_json(),
            "conclusion": self.conclusion,
            "repeats": self.repeats,
            "scored_repeats": self.scored_repeats,
            "material": self.material,
            "unit": self.unit,
            "reason": self.reason,
            "comparisons": {name: f.to_json() for name, f in self.comparisons.items()},
            "figures": self.figures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExperimentResult:
        """A stored result parsed back. A result recorded before experiments repeated has no effect: it reads
        as inconclusive, and says so."""
        legacy = "conclusion" not in data
        finding = Finding.from_json(data)
        return cls(
            kind=str(data.get("kind", "")),
            title=str(data.get("title", "")),
            sentence=str(data.get("sentence", "")),
            x_label=str(data.get("x_label", "")),
            y_label=str(data.get("y_label", "")),
            x=[v if isinstance(v, int | str) else str(v) for v in data.get("x", [])],
            series={
                str(name): [None if v is None else float(v) for v in values]
                for name, values in (data.get("series") or {}).items()
            },
            effect=finding.effect,
            conclusion=finding.conclusion,
            repeats=finding.repeats,
            material=finding.material,
            unit=str(data.get("unit", "AUC")),
            scored_repeats=finding.scored,
            reason="recorded before experiments repeated and reported intervals: run it again"
            if legacy
            else finding.reason,
            comparisons={str(k): Finding.from_json(v) for k, v in (data.get("comparisons") or {}).items()},
            figures={str(k): v for k, v in (data.get("figures") or {}).items() if isinstance(v, int | float | str)},
        )


def _check_common(caller: str, model: str, repeats: int) -> None:
    """The options every experiment takes, checked before any data is read."""
    check(FEEDBACK_MODEL, model, caller=caller)
    check(REPEATS, repeats, caller=caller)


# --- repeats -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One repeat: its effect (None when it could not be scored, with the reason), the chart's series, scalar
    figures, further effects by name, and the within-repeat variance of its effect (see
    :func:`flywheel_core.experiments.effects.summarise`)."""

    effect: float | None
    reason: str = ""
    series: dict[str, list[float | None]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    others: dict[str, float | None] = field(default_factory=dict)
    other_reasons: dict[str, str] = field(default_factory=dict)
    within: float = 0.0  # variance of ``effect`` from the repeat's own random choices, when it replicates them


def half_of_users(events: pd.DataFrame, rng: np.random.Generator, share: float = RESAMPLE_SHARE) -> pd.DataFrame:
    """The events of a random ``share`` of the users (at least one)."""
    user, n_codes = codes(events["user"])
    present = np.flatnonzero(np.bincount(user, minlength=n_codes))
    picked = np.zeros(n_codes, dtype=bool)
    picked[rng.choice(present, size=max(1, round(len(present) * share)), replace=False)] = True
    return events.loc[picked[user]].reset_index(drop=True)


def repeat_runs(
    events: pd.DataFrame,
    run: Callable[[pd.DataFrame, int], Run],
    *,
    repeats: int,
    random_state: int,
    label: str,
    progress: Progress | None = None,
) -> list[Run]:
    """``run(half, seed)`` on ``repeats`` random halves of the users, each with its own seed.

    A half too small to build the task is a repeat that could not be scored; when no half can be used, the
    log's own :class:`InsufficientDataError` is raised.
    """
    report = progress or (lambda f, m: None)
    runs: list[Run] = []
    failures: list[InsufficientDataError] = []
    for r in range(repeats):
        report(0.05 + 0.9 * r / repeats, f"{label}: repeat {r + 1} of {repeats}")
        rng = np.random.default_rng([random_state, r])
        try:
            runs.append(run(half_of_users(events, rng), int(rng.integers(0, 2**31 - 1))))
        except InsufficientDataError as error:  # this half is too small to build the task: not scored
            failures.append(error)
            runs.append(Run(None, f"not enough feedback to score ({error})"))
    if len(failures) == repeats:
        raise failures[0]  # the whole log cannot be used, whatever the resample
    report(0.97, f"{label}: summarising {repeats} repeats")
    return runs


def findings(runs: list[Run], *, material: float, unit: str) -> tuple[Finding, dict[str, Finding]]:
    """The main finding and one per further effect, over the runs."""
    main = summarise(
        [r.effect for r in runs],
        [r.reason for r in runs],
        material=material,
        unit=unit,
        within=[r.within for r in runs],
    )
    names = sorted({name for r in runs for name in r.others})
    others = {
        name: summarise(
            [r.others.get(name) for r in runs],
            [r.other_reasons.get(name, "") for r in runs],
            material=material,
            unit=unit,
        )
        for name in names
    }
    return main, others


def mean_series(runs: list[Run]) -> dict[str, list[float | None]]:
    """Each series point averaged over the runs that scored it."""
    out: dict[str, list[float | None]] = {}
    for name in runs[0].series if runs else {}:
        length = max(len(r.series.get(name, [])) for r in runs)
        points: list[float | None] = []
        for i in range(length):
            values = [
                r.series[name][i] for r in runs if i < len(r.series.get(name, [])) and r.series[name][i] is not None
            ]
            points.append(round(float(np.mean([v for v in values if v is not None])), 4) if values else None)
        out[name] = points
    return out


def mean_figures(runs: list[Run]) -> dict[str, Figure]:
    """Each figure averaged over the runs that report it (a whole number stays whole when every run agrees)."""
    out: dict[str, Figure] = {}
    for name in sorted({name for r in runs for name in r.figures}):
        values = [r.figures[name] for r in runs if name in r.figures]
        same = all(v == values[0] for v in values) and float(values[0]).is_integer()
        out[name] = int(values[0]) if same else round(float(np.mean(values)), 4)
    return out


def result(
    runs: list[Run],
    *,
    kind: str,
    title: str,
    x_label: str,
    y_label: str,
    x: list[int | str],
    material: float,
    unit: str,
    describe: Callable[[Finding, dict[str, Finding], dict[str, Figure]], str],
    figures: dict[str, Figure] | None = None,
) -> ExperimentResult:
    """The result of repeated runs: series and figures averaged, findings summarised, the sentence written
    from them by ``describe``."""
    main, others = findings(runs, material=material, unit=unit)
    shown: dict[str, Figure] = {**mean_figures(runs), **(figures or {})}
    return ExperimentResult(
        kind=kind,
        title=title,
        sentence=describe(main, others, shown),
        x_label=x_label,
        y_label=y_label,
        x=x,
        series=mean_series(runs),
        effect=main.effect,
        conclusion=main.conclusion,
        repeats=main.repeats,
        material=material,
        unit=unit,
        scored_repeats=main.scored,
        reason=main.reason,
        comparisons=others,
        figures=shown,
    )


# --- scoring -------------------------------------------------------------------------------------------


def auc(y: np.ndarray, p: np.ndarray, window: str = "holdout") -> tuple[float | None, str]:
    """AUC and "" — or None and the reason it is not scored (too few positives or negatives)."""
    score = auc_score(y, p, window)
    return score.value, score.reason


def difference(b: tuple[float | None, str], a: tuple[float | None, str]) -> tuple[float | None, str]:
    """B − A, or None with the first reason either side could not be scored."""
    if b[0] is None or a[0] is None:
        return None, b[1] or a[1]
    return round(b[0] - a[0], 4), ""


def _turns(task: FeedbackTask, n_turns: int, holdout_fraction: float = 0.15) -> np.ndarray:
    return cut_turns(task.time_ns, n_turns=n_turns, holdout_fraction=holdout_fraction).turn_of(task.time_ns)


def _predict(estimator: Any, X: np.ndarray) -> np.ndarray:
    return np.asarray(estimator.predict_proba(X)[:, 1]) if len(X) else np.zeros(0)


def signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}"


def interval_text(finding: Finding, digits: int = 3) -> str:
    """ "+0.021 AUC (95% interval +0.012 to +0.030, 5 repeats)", or why there is no interval."""
    effect = finding.effect
    if effect is None:
        return f"not measured ({finding.reason})"
    scored = (
        f"{finding.scored} of {finding.repeats} repeats"
        if finding.scored < finding.repeats
        else f"{finding.repeats} repeats"
    )
    return (
        f"{signed(effect.estimate, digits)} {effect.unit} (95% interval {signed(effect.low, digits)} to "
        f"{signed(effect.high, digits)}, {scored})"
    )


# --- curation ------------------------------------------------------------------------------------------


def curate_events(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Events without bot-like users (by behaviour, :data:`flywheel_core.data.analytics.BOT_RULE`) and without
    exact duplicate rows. Heavy users are kept: volume alone is not evidence of a bot.

    Returns the curated frame and, per original row, whether it was kept.
    """
    flagged = user_outliers(events)
    bots = set(flagged.loc[flagged["bot_like"], "user"])
    keys = [c for c in ("user", "item", "timestamp", "event") if c in events.columns]
    keep = (~events.duplicated(subset=keys, keep="first") & ~events["user"].isin(bots)).to_numpy()
    return events.loc[keep].reset_index(drop=True), keep
