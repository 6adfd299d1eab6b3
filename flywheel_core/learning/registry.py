"""The registry of model versions: store them with skops files, load them safely, compare, summarise.

Every version of a training run is recorded with its dataset, task, algorithm, parameters, turn, training
rows, metrics, drift, training seconds and author; its model is a skops file written by the server (never
uploaded, never pickle) whose sha256 the store checks before :func:`load_model` trusts only the types
it names. Holdout curves (ROC, PR, calibration) and per-segment metrics are computed at training time
and kept in the version's ``params["evaluation"]``, so comparing versions needs no model reloads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from flywheel_core.exceptions import DataValidationError

__all__ = [
    "CompareReport",
    "VersionsSummary",
    "compare_versions",
    "load_model",
    "model_bytes",
    "registry_table",
    "summarize_versions",
    "trusted_types",
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


def version_row(version: Any) -> dict[str, Any]:
    """The registry's public fields of a stored version (what the CLI prints and the page tabulates)."""
    return {
        "version": version.version,
        "run_id": version.run_id,
        "task": version.task,
        "algorithm": version.algorithm,
        "turn": version.turn,
        "train_rows": version.train_rows,
        "metrics": {k: v for k, v in version.metrics.items() if not isinstance(v, dict | list)},
        "drift": {k: v for k, v in version.drift.items() if k != "features"},
        "train_seconds": version.train_seconds,
        "author": version.author,
        "created_at": version.created_at,
    }


# --- compare and summarise stored versions -----------------------------------------------------------


@dataclass(frozen=True)
class CompareReport:
    """Two or more stored versions side by side (curves come from the versions' stored evaluation)."""

    versions: tuple[int, ...]
    metrics: list[dict[str, Any]]  # one row per metric: metric, v<N> values, delta (last - first)
    curves: dict[int, dict[str, Any]]  # version -> roc / pr / calibration points on the holdout
    segments: list[dict[str, Any]]  # one row per (segment, version)
    drift: list[dict[str, Any]]


def compare_versions(versions: list[Any]) -> CompareReport:
    """Compare stored versions: metrics with deltas against the first, curves, per-segment metrics, drift.

    Raises:
        DataValidationError: fewer than two versions, or versions of different tasks.
    """
    if len(versions) < 2:
        raise DataValidationError("Pick at least two versions to compare.")
    if len({v.task for v in versions}) > 1:
        raise DataValidationError("Compare versions of the same task (feedback or recommend).")
    versions = sorted(versions, key=lambda v: v.version)
    names = [k for k, val in versions[0].metrics.items() if isinstance(val, int | float) or val is None]
    rows = []
    for name in names:
        values = [v.metrics.get(name) for v in versions]
        row: dict[str, Any] = {"metric": name}
        row.update({f"v{v.version}": val for v, val in zip(versions, values, strict=True)})
        first, last = values[0], values[-1]
        row["delta"] = None if first is None or last is None else last - first
        rows.append(row)
    segments = []
    for v in versions:
        for segment, metrics in (v.params.get("evaluation", {}).get("segments") or {}).items():
            segments.append({"segment": segment, "version": v.version, **metrics})
    drift = [
        {
            "version": v.version,
            "turn": v.turn,
            "target_psi": v.drift.get("target_psi"),
            "max_feature_psi": v.drift.get("max_feature_psi"),
            "max_feature": v.drift.get("max_feature"),
        }
        for v in versions
    ]
    return CompareReport(
        versions=tuple(v.version for v in versions),
        metrics=rows,
        curves={v.version: v.params.get("evaluation", {}).get("curves") or {} for v in versions},
        segments=segments,
        drift=drift,
    )


def registry_table(versions: list[Any]) -> list[dict[str, Any]]:
    """The registry as rows for a table: one per version, main metrics and drift flattened."""
    rows = []
    for v in sorted(versions, key=lambda v: v.version):
        main = {k: val for k, val in v.metrics.items() if not k.endswith(("rows", "users", "positive_rate"))}
        rows.append(
            {
                "version": v.version,
                "run": v.run_id,
                "task": v.task,
                "algorithm": v.algorithm,
                "turn": v.turn,
                "train_rows": v.train_rows,
                **main,
                "target_psi": v.drift.get("target_psi"),
                "max_feature_psi": v.drift.get("max_feature_psi"),
                "train_seconds": v.train_seconds,
                "author": v.author,
                "created_at": v.created_at,
            }
        )
    return rows


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
