"""The registry of model versions: store them with skops files, load them safely, compare, summarise.

Every version of a training run is recorded with its dataset, task, algorithm, parameters, turn, training
rows, metrics, drift, training seconds and author; its model is a skops file written by the server (never
uploaded, never pickle) whose sha256 the store checks before :func:`load_model` trusts only the types
it names. Holdout curves (ROC, PR, calibration) and per-segment metrics are computed at training time
and kept in the version's ``params["evaluation"]``, so comparing versions needs no model reloads.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AucDelta",
    "CompareReport",
    "VersionInfo",
    "VersionsSummary",
    "WindowCount",
    "compare_versions",
    "load_model",
    "model_bytes",
    "registry_table",
    "summarize_versions",
    "trusted_types",
    "version_infos",
    "version_row",
]


# --- registry -------------------------------------------------------------------------------------------


@functools.cache
def trusted_types() -> list[str]:
    """Types a stored model may contain, named from the classes themselves (never from the file being
    loaded), so a class that moves module stays loadable."""
    from sklearn._loss.link import Interval, LogitLink
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from flywheel_core.learning.scoring import _Constant

    classes = (
        _Constant,
        Interval,
        LogitLink,
        HalfBinomialLoss,
        _BinMapper,
        TreePredictor,
        HistGradientBoostingClassifier,
        LogisticRegression,
        Pipeline,
        StandardScaler,
    )
    return sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)


def model_bytes(estimator: Any) -> bytes:
    """A fitted estimator (or a dict of arrays) as skops bytes: never pickle."""
    import skops.io

    return bytes(skops.io.dumps(estimator))


def load_model(data: bytes) -> Any:
    """Load skops bytes (already hash-checked by ``Store.read_model_bytes``) trusting only known types.

    Raises:
        StorageError: the file holds a type outside the trusted list.
    """
    import skops.io

    from flywheel_core.exceptions import StorageError

    trusted = trusted_types()
    untrusted = [t for t in skops.io.get_untrusted_types(data=data) if t not in trusted]
    if untrusted:
        raise StorageError(
            f"The model file holds types Flywheel Studio does not load ({', '.join(untrusted[:3])}). "
            "Retrain the version."
        )
    return skops.io.loads(data, trusted=trusted)


# --- compare and summarise stored versions -----------------------------------------------------------


@dataclass(frozen=True)
class WindowCount:
    """How much a scored window held: rows and positive outcomes."""

    rows: int
    positives: int


@dataclass(frozen=True)
class AucDelta:
    """A version's holdout AUC minus the version before it in its run, paired on the same rows (DeLong)."""

    against_turn: int
    estimate: float
    low: float
    high: float
    p_value: float

    @property
    def detectable(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class VersionInfo:
    """A stored model version as callers see it: its metrics with their evidence, parsed from storage.

    ``metrics`` holds the scalar metrics (None where not scored), ``intervals`` the 95% interval of
    each scored one, ``unscored`` the reason for each one that is not, ``counts`` the rows and positives
    of each window ("next_turn", "holdout").
    """

    dataset_id: int
    version: int
    run_id: str
    task: str
    algorithm: str
    turn: int
    train_rows: int
    train_seconds: float
    author: str
    created_at: datetime
    metrics: Mapping[str, float | None]
    intervals: Mapping[str, tuple[float, float]]
    unscored: Mapping[str, str]
    counts: Mapping[str, WindowCount]
    holdout_auc_delta: AucDelta | None
    target_psi: float | None
    max_feature_psi: float | None
    max_feature: str
    shift: str  # "none" | "moderate" | "major" | "" (first version, or stored before shifts were judged)
    curves: Mapping[str, Mapping[str, tuple[float, ...]]]
    segments: Mapping[str, Mapping[str, float | None]]
    signal_dictionary_version: int | None = None  # the dataset's meanings it learnt from (None: not recorded)

    @classmethod
    def from_row(cls, row: Any) -> VersionInfo:
        evaluation = dict((row.params or {}).get("evaluation") or {})
        drift = dict(row.drift or {})
        delta = evaluation.get("holdout_auc_delta")
        counts = evaluation.get("counts") or {}
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(
            dataset_id=int(row.dataset_id),
            version=int(row.version),
            run_id=str(row.run_id),
            task=str(row.task),
            algorithm=str(row.algorithm),
            turn=int(row.turn),
            train_rows=int(row.train_rows),
            train_seconds=float(row.train_seconds),
            author=str(row.author),
            created_at=created,
            metrics={k: (None if v is None else float(v)) for k, v in row.metrics.items() if _scalar(v)},
            intervals={k: (float(v[0]), float(v[1])) for k, v in (evaluation.get("intervals") or {}).items()},
            unscored={k: str(v) for k, v in (evaluation.get("unscored") or {}).items()},
            counts={k: WindowCount(int(c.get("rows", 0)), int(c.get("positives", 0))) for k, c in counts.items()},
            holdout_auc_delta=None
            if not delta
            else AucDelta(
                int(delta["against_turn"]),
                float(delta["estimate"]),
                float(delta["low"]),
                float(delta["high"]),
                float(delta["p_value"]),
            ),
            target_psi=_number(drift.get("target_psi")),
            max_feature_psi=_number(drift.get("max_feature_psi")),
            max_feature=str(drift.get("max_feature") or ""),
            shift=str(drift.get("shift") or ""),
            curves={
                name: {axis: tuple(float(x) for x in values) for axis, values in points.items() if _series(values)}
                for name, points in (evaluation.get("curves") or {}).items()
                if isinstance(points, dict)
            },
            segments={
                name: {k: _number(v) for k, v in scores.items() if _scalar(v)}
                for name, scores in (evaluation.get("segments") or {}).items()
            },
            signal_dictionary_version=_whole((row.params or {}).get("signal_dictionary_version")),
        )

    def value_text(self, metric: str, digits: int = 3) -> str:
        """The metric for people: "0.712 (95% CI 0.559–0.828)", or "not scored: <reason>"."""
        value = self.metrics.get(metric)
        if value is None:
            reason = self.unscored.get(metric)
            return f"not scored: {reason}" if reason else "—"
        if metric in self.intervals:
            low, high = self.intervals[metric]
            return f"{value:.{digits}f} (95% CI {low:.{digits}f}–{high:.{digits}f})"
        return f"{value:.{digits}f}"


def _scalar(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _series(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, int | float) for v in values)


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def version_infos(rows: Sequence[Any]) -> list[VersionInfo]:
    """Stored version rows parsed into :class:`VersionInfo`, by version number."""
    return sorted((VersionInfo.from_row(r) for r in rows), key=lambda v: v.version)


def version_row(version: Any) -> dict[str, Any]:
    """The registry's public fields of a stored version (what the CLI prints as JSON): metrics (None where
    not scored), their 95% intervals, the windows' counts, the reasons for unscored metrics, drift."""
    v = version if isinstance(version, VersionInfo) else VersionInfo.from_row(version)
    delta = v.holdout_auc_delta
    return {
        "version": v.version,
        "run_id": v.run_id,
        "task": v.task,
        "algorithm": v.algorithm,
        "turn": v.turn,
        "train_rows": v.train_rows,
        "metrics": dict(v.metrics),
        "intervals": {k: list(pair) for k, pair in v.intervals.items()},
        "counts": {k: {"rows": c.rows, "positives": c.positives} for k, c in v.counts.items()},
        "unscored": dict(v.unscored),
        "holdout_auc_delta": None if delta is None else dict(delta.__dict__),
        "signal_dictionary_version": v.signal_dictionary_version,
        "drift": {
            "shift": v.shift or None,
            "target_psi": v.target_psi,
            "max_feature_psi": v.max_feature_psi,
            "max_feature": v.max_feature or None,
        },
        "train_seconds": v.train_seconds,
        "author": v.author,
        "created_at": v.created_at,
    }


@dataclass(frozen=True, eq=False)
class CompareReport:
    """Two or more stored versions side by side, every difference with its evidence.

    ``metrics`` has one row per metric: the metric, each version's value with its interval, the change
    from the first to the last version with a 95% interval, and what that change means. The interval
    is DeLong's paired one when the two versions are consecutive turns of one run (same holdout rows),
    otherwise an unpaired, conservative one from the two intervals.
    """

    versions: tuple[int, ...]
    metrics: pd.DataFrame
    curves: Mapping[int, Mapping[str, Mapping[str, tuple[float, ...]]]]  # version -> roc / pr / calibration
    segments: pd.DataFrame  # one row per (segment, version)
    drift: pd.DataFrame


_Z = 1.959964
_LOWER_IS_BETTER = ("log_loss", "brier")


def _change(first: VersionInfo, last: VersionInfo, metric: str) -> tuple[float | None, float | None, float | None, str]:
    """(delta, low, high, basis) of ``metric`` from ``first`` to ``last``."""
    a, b = first.metrics.get(metric), last.metrics.get(metric)
    if a is None or b is None:
        return None, None, None, "not scored in both"
    delta = round(b - a, 4)
    pair = last.holdout_auc_delta
    if metric == "holdout_auc" and pair is not None and last.run_id == first.run_id and pair.against_turn == first.turn:
        return pair.estimate, pair.low, pair.high, "paired DeLong on the holdout"
    if metric in first.intervals and metric in last.intervals:
        se = [(hi - lo) / (2 * _Z) for lo, hi in (first.intervals[metric], last.intervals[metric])]
        half = _Z * float(np.hypot(se[0], se[1]))
        return delta, round(delta - half, 4), round(delta + half, 4), "unpaired (conservative)"
    return delta, None, None, "no interval"


def _reading(metric: str, delta: float | None, low: float | None, high: float | None) -> str:
    if delta is None:
        return "not enough feedback to compare"
    if low is None or high is None:
        return "no interval: cannot tell"
    if low <= 0 <= high:
        return "no detectable difference"
    better = (delta > 0) != metric.endswith(_LOWER_IS_BETTER)
    return "better" if better else "worse"


def compare_versions(versions: Sequence[VersionInfo]) -> CompareReport:
    """Compare stored versions: metrics with their intervals, the change with its interval and reading,
    curves, per-segment metrics, drift.

    Raises:
        DataValidationError: fewer than two versions, or versions of different tasks.
    """
    import pandas as pd

    if len(versions) < 2:
        raise DataValidationError("Pick at least two versions to compare.")
    if len({v.task for v in versions}) > 1:
        raise DataValidationError("Compare versions of the same task (feedback or recommend).")
    ordered = sorted(versions, key=lambda v: v.version)
    first, last = ordered[0], ordered[-1]
    names = [k for k in first.metrics if not k.endswith(("rows", "positives", "users", "positive_rate"))]
    rows = []
    for name in names:
        row: dict[str, Any] = {"metric": name}
        row.update({f"v{v.version}": v.value_text(name) for v in ordered})
        delta, low, high, basis = _change(first, last, name)
        row["change"] = None if delta is None else delta
        row["change 95% CI"] = "" if low is None or high is None else f"{low:+.3f} to {high:+.3f}"
        row["reading"] = _reading(name, delta, low, high)
        row["basis"] = basis
        rows.append(row)
    segments = [
        {"segment": segment, "version": v.version, **scores} for v in ordered for segment, scores in v.segments.items()
    ]
    drift = [
        {
            "version": v.version,
            "turn": v.turn,
            "shift": v.shift or "—",
            "target_psi": v.target_psi,
            "max_feature_psi": v.max_feature_psi,
            "max_feature": v.max_feature,
        }
        for v in ordered
    ]
    return CompareReport(
        versions=tuple(v.version for v in ordered),
        metrics=pd.DataFrame(rows),
        curves={v.version: v.curves for v in ordered},
        segments=pd.DataFrame(segments),
        drift=pd.DataFrame(drift),
    )


def registry_table(versions: Sequence[VersionInfo]) -> pd.DataFrame:
    """The registry as a table: one row per version, each main metric with its interval and counts."""
    import pandas as pd

    rows = []
    for v in sorted(versions, key=lambda v: v.version):
        main = {
            k: val for k, val in v.metrics.items() if not k.endswith(("rows", "positives", "users", "positive_rate"))
        }
        hold = v.counts.get("holdout")
        rows.append(
            {
                "version": v.version,
                "run": v.run_id,
                "task": v.task,
                "algorithm": v.algorithm,
                "turn": v.turn,
                "train_rows": v.train_rows,
                "holdout rows": hold.rows if hold else None,
                "holdout positives": hold.positives if hold else None,
                **main,
                **{f"{k} 95% CI": f"{lo:.3f}–{hi:.3f}" for k, (lo, hi) in v.intervals.items() if k in main},
                "not scored": "; ".join(sorted(set(v.unscored.values()))),
                "drift": v.shift or "—",
                "meanings": "—" if v.signal_dictionary_version is None else f"v{v.signal_dictionary_version}",
                "train_seconds": v.train_seconds,
                "author": v.author,
                "created_at": v.created_at,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class VersionsSummary:
    """What the Overview shows for a dataset's model versions."""

    versions: int
    latest_version: int | None
    metric: str
    first_value: float | None
    latest_value: float | None
    best_version: int | None
    trend: str  # improving | flat | declining | none

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarize_versions(versions: list[Any]) -> VersionsSummary:
    """Summarise the latest run of a dataset's versions: holdout metric first vs latest, best, trend."""
    if not versions:
        return VersionsSummary(0, None, "", None, None, None, "none")
    latest = max(versions, key=lambda v: v.version)
    run = sorted((v for v in versions if v.run_id == latest.run_id), key=lambda v: v.turn)
    metric = "holdout_auc" if latest.task == "feedback" else "holdout_ndcg@10"
    values = [(v.version, v.metrics.get(metric)) for v in run if v.metrics.get(metric) is not None]
    if not values:
        return VersionsSummary(len(versions), latest.version, metric, None, None, None, "none")
    first, last = values[0][1], values[-1][1]
    best = max(values, key=lambda pair: pair[1])[0]
    change = last - first
    trend = "improving" if change > 0.005 else "declining" if change < -0.005 else "flat"
    return VersionsSummary(len(versions), latest.version, metric, first, last, best, trend)
