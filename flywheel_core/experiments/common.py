"""Pieces shared by the experiments: the result type, scoring helpers, and curation of a log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.data.analytics import user_outliers
from flywheel_core.learning.scoring import score_feedback
from flywheel_core.learning.turns import FeedbackTask, cut_turns

__all__ = ["ExperimentResult", "curate_events"]


@dataclass(frozen=True)
class ExperimentResult:
    kind: str
    title: str
    sentence: str
    x_label: str
    y_label: str
    x: list[Any]
    series: dict[str, list[float | None]]
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "sentence": self.sentence,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "x": self.x,
            "series": self.series,
            "figures": self.figures,
        }


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    value = score_feedback(y, p)["auc"]
    return None if value is None else round(float(value), 4)


def _turns(task: FeedbackTask, n_turns: int, holdout_fraction: float = 0.15) -> np.ndarray:
    return cut_turns(task.time_ns, n_turns=n_turns, holdout_fraction=holdout_fraction).turn_of(task.time_ns)


def _predict(estimator: Any, X: np.ndarray) -> np.ndarray:
    return np.asarray(estimator.predict_proba(X)[:, 1]) if len(X) else np.zeros(0)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def curate_events(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Events without bot-like users (robust outliers in volume) and without exact duplicate rows.

    Returns the curated frame and, per original row, whether it was kept.
    """
    flagged = user_outliers(events)
    bots = set(flagged.loc[flagged["outlier"], "user"])
    keys = [c for c in ("user", "item", "timestamp", "event") if c in events.columns]
    keep = (~events.duplicated(subset=keys, keep="first") & ~events["user"].isin(bots)).to_numpy()
    return events.loc[keep].reset_index(drop=True), keep
