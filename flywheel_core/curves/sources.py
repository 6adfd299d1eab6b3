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

from flywheel_core.curves.judge import MIN_POINTS, CurveReport, judge_curve, judge_curves
from flywheel_core.curves.terms import Verdict
from flywheel_core.exceptions import DataValidationError, FlywheelError
from flywheel_core.limits import MAX_SERIES_FILE_BYTES, check_file_size

MAX_SERIES = 100_000

__all__ = [
    "MAX_SERIES",
    "CsvColumns",
    "DatasetVerdict",
    "SeriesData",
    "SeriesVerdict",
    "csv_columns",
    "judge_model_versions",
    "judge_series_file",
    "metric_is_lower_better",
    "parse_bounds",
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


def _read_frame(source: Path | bytes, name: str) -> tuple[pd.DataFrame, Path]:
    path = Path(name) if isinstance(source, bytes) else source
    check_file_size(
        source,
        limit=MAX_SERIES_FILE_BYTES,
        what="a learning-curve file",
        name=path.name,
        hint="Aggregate the series first (one row per model version or data size).",
    )
    try:
        frame = pd.read_csv(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Cannot read {path.name} as CSV: {exc}. Give a CSV with a header row.") from exc
    frame.columns = [str(c) for c in frame.columns]
    return frame, path


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    converted = pd.to_numeric(frame[col], errors="coerce")
    bad = converted.isna() & frame[col].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataValidationError(
            f"Column '{col}' has {int(bad.sum())} values that are not numbers (first: line {row}, "
            f"{frame[col].iloc[row - 2]!r}). Fix the file or pick another column."
        )
    return converted.to_numpy(dtype=float)


@dataclass(frozen=True)
class CsvColumns:
    """The columns of a CSV file, and those whose every value is a number (the candidates for x and y)."""

    columns: tuple[str, ...]
    numeric: tuple[str, ...]


def csv_columns(source: Path | bytes, *, name: str = "the file") -> CsvColumns:
    """The file's columns, numeric ones apart, so a page can offer x, y and a series column before judging."""
    frame, _ = _read_frame(source, name)
    numeric = tuple(c for c in frame.columns if pd.to_numeric(frame[c], errors="coerce").notna().all())
    return CsvColumns(tuple(frame.columns), numeric)


def read_series(
    source: Path | bytes, *, x_column: str | None = None, y_column: str | None = None, name: str = "the file"
) -> SeriesData:
    """Read (x, y) from a CSV file or its bytes.

    Defaults: one column → y with x = 1, 2, …; several → x is the first column, y the second.
    """
    x_col, y_col = x_column, y_column
    frame, path = _read_frame(source, name)
    columns = list(frame.columns)
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
    values = {col: _numeric(frame, col) for col in (x_col, y_col) if col is not None}
    y = values[y_col]
    x = values[x_col] if x_col is not None else np.arange(1, len(y) + 1, dtype=float)
    return SeriesData(x=x, y=y, x_name=x_col or "row", y_name=y_col, columns=tuple(columns))


@dataclass(frozen=True, eq=False)
class SeriesVerdict:
    """One series of a long-format file: its name, points, and its report or why it was not judged."""

    name: str
    n_points: int
    report: CurveReport | None
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        body = self.report.to_json() if self.report is not None else {"verdict": None, "problem": self.problem}
        return {"series": self.name, "n_points": self.n_points, **body}


def parse_bounds(text: str | None) -> tuple[float, float] | str | None:
    """``"0,1"`` → (0.0, 1.0); ``"none"`` → None (unbounded); None or "infer" → "infer" (from the name)."""
    if text is None or text.strip().lower() in ("", "infer"):
        return "infer"
    if text.strip().lower() in ("none", "unbounded"):
        return None
    parts = text.replace(";", ",").split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError as exc:
        raise DataValidationError(
            f"Bounds must be two numbers 'LOW,HIGH' such as 0,1 (or 'none'); got {text!r}."
        ) from exc
    if not lo < hi:
        raise DataValidationError(f"Bounds must be LOW < HIGH; got {text!r}.")
    return (lo, hi)


def judge_series_file(
    source: Path | bytes,
    *,
    by: str,
    x_column: str,
    y_column: str,
    higher_is_better: bool = True,
    bounds: tuple[float, float] | str | None = "infer",
    x_kind: str | None = None,
    material: float | None = None,
    name: str = "the file",
) -> list[SeriesVerdict]:
    """Judge every series of a long-format CSV (one row per point; ``by`` names the series) in one call.

    Rows are sorted by x within each series. A series that cannot be judged (too few points, repeated x)
    gets its problem instead of a report; the others are judged all the same.

    Raises:
        DataValidationError: a column is missing or not numeric, or the file has more than MAX_SERIES series.
    """
    frame, path = _read_frame(source, name)
    for wanted in (by, x_column, y_column):
        if wanted not in frame.columns:
            raise DataValidationError(
                f"{path.name} has no column '{wanted}'; its columns are: {', '.join(frame.columns)}."
            )
    data = pd.DataFrame(
        {"series": frame[by].astype(str), "x": _numeric(frame, x_column), "y": _numeric(frame, y_column)}
    ).dropna(subset=["x", "y"])
    data = data.sort_values(["series", "x"], kind="stable")
    keys, starts = np.unique(data["series"].to_numpy(), return_index=True)
    if len(keys) > MAX_SERIES:
        raise DataValidationError(f"{path.name} has {len(keys):,} series; judge at most {MAX_SERIES:,} per call.")
    xs, ys = data["x"].to_numpy(), data["y"].to_numpy()
    bounds_at = [*starts[1:], len(data)]
    series = [(xs[a:b], ys[a:b]) for a, b in zip(starts, bounds_at, strict=True)]
    reports = judge_curves(
        series, higher_is_better=higher_is_better, bounds=bounds, x_kind=x_kind, material=material,
        x_name=x_column, y_name=y_column,
    )  # fmt: skip
    out = []
    for key, (x, _), result in zip(keys, series, reports, strict=True):
        if isinstance(result, FlywheelError):
            out.append(SeriesVerdict(str(key), len(x), None, str(result)))
        else:
            out.append(SeriesVerdict(str(key), len(x), result, None))
    return out


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


def versions_series(versions: Sequence[Any], metric: str, *, x: str = "train_rows") -> tuple[np.ndarray, np.ndarray]:
    """(x, metric) of model versions, by x (training rows or turn); the latest version wins a tie."""
    xs, ys, _ = _versions_points(versions, metric, x=x)
    return xs, ys


def _versions_points(
    versions: Sequence[Any], metric: str, *, x: str = "train_rows"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, metric, standard error or NaN) of the versions that scored ``metric``."""
    points: dict[float, tuple[int, float, float]] = {}
    for v in versions:
        value = (v.metrics or {}).get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            at = float(v.train_rows if x == "train_rows" else v.turn)
            interval = (getattr(v, "intervals", None) or {}).get(metric)
            sd = (interval[1] - interval[0]) / (2 * 1.959964) if interval else math.nan
            if at not in points or v.version > points[at][0]:
                points[at] = (v.version, float(value), sd)
    keys = sorted(points)
    return (
        np.array(keys, dtype=float),
        np.array([points[k][1] for k in keys], dtype=float),
        np.array([points[k][2] for k in keys], dtype=float),
    )


@dataclass(frozen=True, eq=False)
class DatasetVerdict:
    """The verdict on a dataset's model versions, with what it rests on and what was left out."""

    metric: str
    x: str  # "train_rows" or "turn"
    verdict: Verdict
    confidence: float
    reason: str
    points: int  # versions scored on the metric, used by the fit
    left_out: int  # versions without a score on the metric (not enough feedback)
    left_out_reason: str
    report: CurveReport | None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "x": self.x,
            "verdict": self.verdict.value,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
            "points": self.points,
            "left_out": self.left_out,
            "left_out_reason": self.left_out_reason,
            **({"curve": self.report.to_json()} if self.report is not None else {}),
        }


def judge_model_versions(
    versions: Sequence[Any], *, metric: str | None = None, x: str = "train_rows"
) -> DatasetVerdict:
    """Verdict on a dataset's model versions: ``metric`` against training rows (or turns).

    The points' evidence counts: versions whose metric is not scored (too little feedback in the window)
    are left out and said so; each point's interval weights the fit and widens the band; fewer than
    three scored points give ``insufficient_data`` with the reason rather than a verdict. The metric
    defaults to the first of auc (next turn), holdout_auc, ndcg@10, … that any version scored.

    Raises:
        DataValidationError: ``x`` is neither "train_rows" nor "turn".
    """
    if x not in ("train_rows", "turn"):
        raise DataValidationError(f"x must be 'train_rows' or 'turn', got {x!r}.")
    names = version_metrics(versions)
    chosen = metric or (names[0] if names else next(iter(_PREFERRED_METRICS)))
    xs, ys, sd = _versions_points(versions, chosen, x=x)
    unscored = [v for v in versions if (v.metrics or {}).get(chosen) is None]
    reasons = sorted({str((getattr(v, "unscored", None) or {}).get(chosen, "")) for v in unscored} - {""})
    left_reason = "; ".join(reasons[:2])
    if len(xs) < MIN_POINTS:
        why = (
            f"{len(xs)} of {len(versions)} model versions have a '{chosen}' score; a verdict needs {MIN_POINTS}"
            + (f" ({left_reason})" if left_reason else "")
            + ". Train more turns, or on a log with more feedback."
        )
        return DatasetVerdict(chosen, x, Verdict.INSUFFICIENT_DATA, 0.0, why, len(xs), len(unscored), left_reason, None)
    report = judge_curve(
        xs,
        ys,
        higher_is_better=not metric_is_lower_better(chosen),
        x_kind="size" if x == "train_rows" else "time",
        x_name="training rows" if x == "train_rows" else "turn",
        y_name=chosen,
        y_sd=sd if np.isfinite(sd).all() else None,
    )
    reason = report.reason + (
        f" {len(unscored)} version(s) left out: {left_reason}." if unscored and left_reason else ""
    )
    return DatasetVerdict(
        chosen, x, report.verdict, report.confidence, reason, len(xs), len(unscored), left_reason, report
    )
