"""The evidence behind a metric: counts, 95% intervals, paired deltas, and the minimum sample to score.

- **AUC** by DeLong's method (the fast midrank form of Sun & Xu, 2014), its interval on the logit scale so
  it stays inside [0, 1]; a **paired delta** of two models on the same rows by DeLong's covariance.
- **Log loss and Brier score** are means of per-row losses; their interval is cluster-robust by user (the
  analytic counterpart of a bootstrap over users: rows of one user are not independent).
- Below :data:`MIN_POSITIVES` positives or :data:`MIN_NEGATIVES` negatives in a window a metric is **not
  scored**: its value is None and the reason says how much feedback there was, e.g. "not enough feedback
  to score (1 positive in the holdout)".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from flywheel_core import params

__all__ = [
    "LEVEL",
    "MIN_NEGATIVES",
    "MIN_POSITIVES",
    "Delta",
    "Score",
    "WindowScores",
    "auc_delong",
    "auc_score",
    "mean_score",
    "not_enough",
    "paired_auc_delta",
    "score_window",
]

LEVEL = 0.95
MIN_POSITIVES = params.MIN_POSITIVES.default or 10
MIN_NEGATIVES = params.MIN_NEGATIVES.default or 10


@dataclass(frozen=True)
class Score:
    """One metric on one window: its value and 95% interval, or None with the reason it is not scored."""

    value: float | None
    low: float | None = None
    high: float | None = None
    reason: str = ""

    @property
    def scored(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Delta:
    """B minus A on the same rows, with its 95% interval and two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float

    @property
    def detectable(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def not_enough(
    y: np.ndarray, window: str, *, min_positives: int = MIN_POSITIVES, min_negatives: int = MIN_NEGATIVES
) -> str:
    """The reason a window cannot be scored, or "" when it has enough of both classes."""
    positives = int(np.count_nonzero(y))
    negatives = len(y) - positives
    if positives >= min_positives and negatives >= min_negatives:
        return ""
    if positives < min_positives:
        return f"not enough feedback to score ({_plural(positives, 'positive')} in the {window}; needs {min_positives})"
    return f"not enough feedback to score ({_plural(negatives, 'negative')} in the {window}; needs {min_negatives})"


def _midranks_of_sorted(values: np.ndarray) -> np.ndarray:
    """Midranks (1-based, ties share their mean rank) of an array already sorted ascending."""
    k = len(values)
    if k == 0:
        return np.empty(0)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], k]
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def _components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DeLong's structural components: AUC per predictor, V10 (per positive) and V01 (per negative).

    Sun & Xu's fast algorithm: with midranks T over all rows, Tx within the positives and Tz within the
    negatives, V10 = (T - Tx) / n and V01 = 1 - (T - Tz) / m. One sort per predictor gives all three (the
    positives and the negatives come out of the combined order already sorted).
    """
    positive = np.asarray(y).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    m = int(positive.sum())
    n = len(positive) - m
    within = np.cumsum(positive) - 1  # a positive row's place among the positives
    within_neg = np.cumsum(~positive) - 1
    auc = np.empty(len(s))
    v10, v01 = np.empty((len(s), m)), np.empty((len(s), n))
    for r, row in enumerate(s):
        order = np.argsort(row)  # ties share a midrank, so their order does not matter
        ordered = row[order]
        is_pos = positive[order]
        t = _midranks_of_sorted(ordered)
        tx = _midranks_of_sorted(ordered[is_pos])
        tz = _midranks_of_sorted(ordered[~is_pos])
        t_pos, t_neg = t[is_pos], t[~is_pos]
        auc[r] = (t_pos.sum() - m * (m + 1) / 2.0) / (m * n)
        v10[r, within[order[is_pos]]] = (t_pos - tx) / n
        v01[r, within_neg[order[~is_pos]]] = 1.0 - (t_neg - tz) / m
    return auc, v10, v01


def auc_delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong variance (both classes must be present)."""
    auc, v10, v01 = _components(y, p)
    m, n = v10.shape[1], v01.shape[1]
    var = (np.var(v10[0], ddof=1) if m > 1 else 0.0) / m + (np.var(v01[0], ddof=1) if n > 1 else 0.0) / n
    return float(auc[0]), float(var)


def auc_score(
    y: np.ndarray,
    p: np.ndarray,
    window: str,
    *,
    min_positives: int = MIN_POSITIVES,
    min_negatives: int = MIN_NEGATIVES,
) -> Score:
    """AUC with its 95% DeLong interval (logit scale), or not scored below the minimum sample."""
    reason = not_enough(y, window, min_positives=min_positives, min_negatives=min_negatives)
    if reason:
        return Score(None, reason=reason)
    auc, var = auc_delong(y, p)
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    if 0.0 < auc < 1.0 and var > 0:
        centre = np.log(auc / (1 - auc))
        half = z * np.sqrt(var) / (auc * (1 - auc))
        low, high = 1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half)))
    else:  # a perfect (or perfectly wrong) ranking: the interval is only as wide as the variance says
        half = z * np.sqrt(max(var, 0.0))
        low, high = max(auc - half, 0.0), min(auc + half, 1.0)
    return Score(round(auc, 4), round(float(low), 4), round(float(high), 4))


def paired_auc_delta(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray) -> Delta:
    """AUC(B) − AUC(A) on the same rows, with DeLong's paired variance."""
    auc, v10, v01 = _components(y, np.vstack([p_a, p_b]))
    m, n = v10.shape[1], v01.shape[1]
    contrast = np.array([-1.0, 1.0])
    s10 = np.cov(v10) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(v01) if n > 1 else np.zeros((2, 2))
    var = float(contrast @ (s10 / m + s01 / n) @ contrast)
    delta = float(auc[1] - auc[0])
    se = np.sqrt(max(var, 0.0))
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    p_value = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else (1.0 if delta == 0 else 0.0)
    return Delta(round(delta, 4), round(delta - z * se, 4), round(delta + z * se, 4), p_value)


def mean_score(losses: np.ndarray, groups: np.ndarray | None = None, *, decimals: int = 4) -> Score:
    """The mean of per-row values with a 95% interval, cluster-robust when ``groups`` (users) is given."""
    values = np.asarray(losses, dtype=float)
    n = len(values)
    if n == 0:
        return Score(None, reason="no rows to score")
    mean = float(values.mean())
    resid = values - mean
    sums: np.ndarray = resid
    if groups is not None:
        index = np.unique(groups, return_inverse=True)[1]
        sums = np.bincount(index, weights=resid).astype(float)
    clusters = len(sums)
    if clusters < 2:
        return Score(round(mean, decimals))
    var = float((sums**2).sum()) / n**2 * clusters / (clusters - 1)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, clusters - 1)) * np.sqrt(var)
    return Score(round(mean, decimals), round(mean - half, decimals), round(mean + half, decimals))


@dataclass(frozen=True)
class WindowScores:
    """The feedback metrics of one scored window (next turn, holdout, a segment) with their evidence.

    ``metrics`` keeps the flat layout the registry stores (``auc``, ``log_loss``, ``brier``, ``rows``,
    ``positives``, ``positive_rate``, each with the window's prefix) with None where a metric is not
    scored; ``intervals`` maps a scored metric to its 95% interval and ``unscored`` maps the others to why.
    """

    metrics: dict[str, float | int | None]
    intervals: dict[str, list[float]] = field(default_factory=dict)
    unscored: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "intervals": self.intervals, "unscored": self.unscored}


def score_window(
    y: np.ndarray,
    p: np.ndarray,
    window: str,
    *,
    users: np.ndarray | None = None,
    prefix: str = "",
    min_positives: int = MIN_POSITIVES,
    min_negatives: int = MIN_NEGATIVES,
) -> WindowScores:
    """AUC, log loss and Brier score of predictions ``p`` for outcomes ``y``, each with its interval.

    Below the minimum sample every metric of the window is unscored (None) with the reason; the counts
    (rows, positives) are always reported. Intervals of the losses are cluster-robust by ``users``.
    """
    yb = np.asarray(y).astype(bool)
    rows, positives = len(yb), int(yb.sum())
    metrics: dict[str, float | int | None] = {
        f"{prefix}rows": rows,
        f"{prefix}positives": positives,
        f"{prefix}positive_rate": round(positives / rows, 4) if rows else None,
    }
    names = ("auc", "log_loss", "brier")
    reason = (
        not_enough(yb, window, min_positives=min_positives, min_negatives=min_negatives)
        if rows
        else (f"nothing to score (no rows in the {window})")
    )
    if reason:
        metrics.update({f"{prefix}{n}": None for n in names})
        return WindowScores(metrics, {}, {f"{prefix}{n}": reason for n in names})
    pc = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    yf = yb.astype(float)
    scores = {
        "auc": auc_score(yb, pc, window, min_positives=min_positives, min_negatives=min_negatives),
        "log_loss": mean_score(-(yf * np.log(pc) + (1 - yf) * np.log1p(-pc)), users),
        "brier": mean_score((pc - yf) ** 2, users),
    }
    intervals: dict[str, list[float]] = {}
    for name, score in scores.items():
        metrics[f"{prefix}{name}"] = score.value
        if score.low is not None and score.high is not None:
            intervals[f"{prefix}{name}"] = [score.low, score.high]
    return WindowScores(metrics, intervals, {})
