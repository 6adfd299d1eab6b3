"""Where curve series come from: a dataset's model versions, or a CSV file with an x and a y column."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flywheel_core.curves import MIN_POINTS, CurveReport, judge_curve
from flywheel_core.exceptions import DataValidationError, InsufficientDataError

__all__ = [
    "SeriesData",
    "judge_model_versions",
    "metric_is_lower_better",
    "read_series",
    "version_metrics",
    "versions_series",
]


@dataclass(frozen=True, eq=False)
class SeriesData:
    """A series read from a file: x, y, their column names and every column the file has."""

    x: np.ndarray
    y: np.ndarray
    x_name: str
    y_name: str
    columns: tuple[str, ...]


def read_series(
    source: Path | bytes, *, x_column: str | None = None, y_column: str | None = None, name: str = "the file"
) -> SeriesData:
    """Read (x, y) from a CSV file or its bytes.

    Defaults: one column → y with x = 1, 2, …; several → x is the first column, y the second.
    """
    x_col, y_col = x_column, y_column
    path = Path(name) if isinstance(source, bytes) else source
    try:
        frame = pd.read_csv(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Cannot read {path.name} as CSV: {exc}. Give a CSV with a header row.") from exc
    columns = [str(c) for c in frame.columns]
    for wanted in (x_col, y_col):
        if wanted is not None and wanted not in columns:
            raise DataValidationError(f"{path.name} has no column '{wanted}'; its columns are: {', '.join(columns)}.")
    others = [c for c in columns if c not in (x_col, y_col)]
    if y_col is None:
        if x_col is None and len(columns) == 1:
            y_col = columns[0]
        elif x_col is None:
            x_col, y_col = columns[0], columns[1]
        elif others:
            y_col = others[0]
        else:
            raise DataValidationError(f"{path.name} needs a y column besides '{x_col}'; choose the y column.")
    elif x_col is None and others:
        x_col = others[0]
    values: dict[str, Any] = {}
    for col in [c for c in (x_col, y_col) if c is not None]:
        converted = pd.to_numeric(frame[col], errors="coerce")
        bad = converted.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataValidationError(
                f"Column '{col}' has {int(bad.sum())} values that are not numbers (first: line {row}, "
                f"{frame[col].iloc[row - 2]!r}). Fix the file or pick another column."
            )
        values[col] = converted.to_numpy(dtype=float)
    y = values[y_col]
    x = values[x_col] if x_col is not None else np.arange(1, len(y) + 1, dtype=float)
    return SeriesData(x=x, y=y, x_name=x_col or "row", y_name=y_col, columns=tuple(columns))


# The next-turn score first: it measures what users would have met next, the flywheel's promise.
_PREFERRED_METRICS = ("auc", "holdout_auc", "ndcg@10", "holdout_ndcg@10", "hit_rate@10", "holdout_hit_rate@10")


def metric_is_lower_better(name: str) -> bool:
    """Losses and errors (log_loss, brier, rmse, mae, …) are lower-is-better; everything else higher."""
    lowered = name.lower()
    return any(word in lowered for word in ("loss", "brier", "error", "rmse", "mae", "perplexity"))


def version_metrics(versions: Sequence[Any]) -> list[str]:
    """Numeric metric names found in the model versions' ``metrics``, preferred ones first."""
    names: set[str] = set()
    for v in versions:
        names.update(
            k for k, val in (v.metrics or {}).items() if isinstance(val, int | float) and not isinstance(val, bool)
        )
    return [m for m in _PREFERRED_METRICS if m in names] + sorted(names - set(_PREFERRED_METRICS))


def versions_series(versions: Sequence[Any], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, metric) of model versions, by training rows; the latest version wins a tie."""
    points: dict[float, tuple[int, float]] = {}
    for v in versions:
        value = (v.metrics or {}).get(metric)
        if isinstance(value, int | float) and math.isfinite(value):
            rows = float(v.train_rows)
            if rows not in points or v.version > points[rows][0]:
                points[rows] = (v.version, float(value))
    xs = sorted(points)
    return np.array(xs, dtype=float), np.array([points[x][1] for x in xs], dtype=float)


def judge_model_versions(versions: Sequence[Any], *, metric: str | None = None) -> CurveReport:
    """Verdict on a dataset's model versions: ``metric`` against training rows.

    ``versions`` are ``Store.list_model_versions(...)`` rows (``.version``, ``.train_rows``, ``.metrics``).
    The metric defaults to the first of auc (next turn), holdout_auc, ndcg@10, holdout_ndcg@10, … that exists;
    its direction comes from :func:`metric_is_lower_better`.

    Raises:
        InsufficientDataError: fewer than 3 versions with distinct training rows carry the metric.
    """
    names = version_metrics(versions)
    if metric is None:
        if not names:
            raise InsufficientDataError("No model version has a numeric metric yet; train a few versions first.")
        metric = names[0]
    x, y = versions_series(versions, metric)
    if len(x) < MIN_POINTS:
        raise InsufficientDataError(
            f"A verdict needs {MIN_POINTS} model versions with distinct training rows and a '{metric}' value; "
            f"found {len(x)}. Train more versions (turns) first."
        )
    return judge_curve(x, y, higher_is_better=not metric_is_lower_better(metric))
