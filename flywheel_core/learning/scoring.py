"""Fitting the feedback models and scoring them: AUC, log loss, Brier score, ROC/PR and calibration curves.

Numpy implementations of the metrics (no per-call scikit-learn validation overhead in the turn loop).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from flywheel_core.exceptions import DataValidationError
from flywheel_core.params import FEEDBACK_MODEL, check

__all__ = ["MODELS", "curves", "fit_model", "make_model", "roc_auc", "score_feedback"]

MODELS: tuple[str, ...] = FEEDBACK_MODEL.options  # declared once, in flywheel_core.params


def make_model(model: str, *, random_state: int = 0) -> Any:
    """A fresh estimator: ``logistic`` (scaled logistic regression) or ``hgb`` (gradient boosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    if model == "hgb":
        return HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, early_stopping=False, random_state=random_state
        )
    check(FEEDBACK_MODEL, model, caller="make_model")
    raise DataValidationError(f"Unknown model '{model}'.")  # pragma: no cover - declared but not built


class _Constant:
    """The prior rate, for a training window with only one class (a model would refuse to fit)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.full(len(X), self.rate)
        return np.column_stack([1 - p, p])


def fit_model(
    model: str, X: np.ndarray, y: np.ndarray, *, random_state: int = 0, sample_weight: np.ndarray | None = None
) -> tuple[Any, float]:
    """Fit one estimator; returns it and the seconds the fit took.

    ``sample_weight`` (one per row, e.g. the signal dictionary's weights) weights each example's loss.
    """
    started = time.perf_counter()
    if len(np.unique(y)) < 2:
        return _Constant(float(np.mean(y)) if len(y) else 0.5), time.perf_counter() - started
    estimator = make_model(model, random_state=random_state)
    fit_params: dict[str, Any] = {}
    if sample_weight is not None:  # a pipeline routes it to its last step; a bare estimator takes it as is
        key = f"{estimator.steps[-1][0]}__sample_weight" if hasattr(estimator, "steps") else "sample_weight"
        fit_params[key] = sample_weight
    if len(y) < 10_000:  # threads cost more than they bring on small fits, and starve on a busy machine
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            estimator.fit(X, y, **fit_params)
    else:
        estimator.fit(X, y, **fit_params)
    return estimator, time.perf_counter() - started


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank-sum formula (ties share their average rank); None with one class."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(p, kind="stable")
    ps = np.asarray(p)[order]
    new = np.empty(len(ps), dtype=bool)
    new[0] = True
    new[1:] = ps[1:] != ps[:-1]
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(ps)))
    average = starts + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(len(ps))
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def score_feedback(y: np.ndarray, p: np.ndarray, prefix: str = "") -> dict[str, float | None]:
    """AUC (None with one class), log loss, Brier score, rows and positive rate."""
    if len(y) == 0:
        return {f"{prefix}auc": None, f"{prefix}log_loss": None, f"{prefix}brier": None, f"{prefix}rows": 0}
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    yf = np.asarray(y, dtype=float)
    return {
        f"{prefix}auc": roc_auc(y, p),
        f"{prefix}log_loss": float(-np.mean(yf * np.log(p) + (1 - yf) * np.log1p(-p))),
        f"{prefix}brier": float(np.mean((p - yf) ** 2)),
        f"{prefix}rows": len(y),
        f"{prefix}positive_rate": float(np.mean(yf)),
    }


def curves(y: np.ndarray, p: np.ndarray, points: int = 41) -> dict[str, Any]:
    """ROC, precision-recall and calibration (10 bins) points, thinned for storage."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(np.unique(y)) < 2:
        return {}
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)

    def thin(a: np.ndarray, b: np.ndarray) -> tuple[list[float], list[float]]:
        keep = np.unique(np.linspace(0, len(a) - 1, min(points, len(a))).astype(int))
        return [round(float(v), 4) for v in a[keep]], [round(float(v), 4) for v in b[keep]]

    bins = np.minimum((p * 10).astype(int), 9)
    n = np.bincount(bins, minlength=10)
    mean_p = np.bincount(bins, weights=p, minlength=10) / np.maximum(n, 1)
    rate = np.bincount(bins, weights=y.astype(float), minlength=10) / np.maximum(n, 1)
    keep = n > 0
    return {
        "roc": dict(zip(("fpr", "tpr"), thin(fpr, tpr), strict=True)),
        "pr": dict(zip(("recall", "precision"), thin(recall[::-1], precision[::-1]), strict=True)),
        "calibration": {
            "predicted": [round(float(v), 4) for v in mean_p[keep]],
            "observed": [round(float(v), 4) for v in rate[keep]],
            "rows": [int(v) for v in n[keep]],
        },
    }
