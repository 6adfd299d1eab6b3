"""Model versions the team trained elsewhere, read from MLflow or from a CSV / JSON file of versions.

Each imported version carries what the registry needs to compare it and judge it like a trained one: when
it was trained, how much data it learned from (``train_rows``, or the param or metric the user names), its
metrics, and where given each metric's 95% interval (``<metric>_low`` / ``<metric>_high``) and the counts of
its evaluation window (``holdout_rows`` / ``holdout_positives``). With counts under the minimum sample
(:data:`flywheel_core.learning.evidence.MIN_POSITIVES` positives or negatives) its metrics are not scored,
exactly as for trained versions, and the reason says so.

MLflow is read with its own client (``mlflow.tracking.MlflowClient``), an optional extra:
``pip install 'flywheel-studio[mlflow]'``. Every problem is reported before anything is stored, naming the
run, or the row and column of the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from flywheel_core.exceptions import ConfigurationError, DataValidationError, NotFoundError, Problem
from flywheel_core.learning.evidence import MIN_NEGATIVES, MIN_POSITIVES, not_enough
from flywheel_core.limits import MAX_VERSIONS_FILE_BYTES, check_file_size

__all__ = [
    "MAX_IMPORTED",
    "ImportBatch",
    "ImportedVersion",
    "read_mlflow_versions",
    "read_versions_file",
]

MAX_IMPORTED = 10_000
_COUNT_COLUMNS = ("holdout_rows", "holdout_positives")
_SIZE_ALIASES = ("train_rows", "training_rows", "data_size", "rows_trained", "n_train")
_SKIP_COLUMNS = ("", "Unnamed: 0", "index")


@dataclass(frozen=True)
class ImportedVersion:
    """One version from the team's pipeline, checked and ready for the registry."""

    label: str  # the team's name for it (MLflow run name, the file's version column)
    source: str  # "mlflow" | "file"
    source_id: str  # the MLflow run id, or the file's version label
    trained_at: datetime | None
    train_rows: int
    metrics: Mapping[str, float | None]
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    unscored: Mapping[str, str] = field(default_factory=dict)
    holdout: tuple[int, int] | None = None  # (rows, positives) of the evaluation window
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportBatch:
    """What a source held: the versions to store, and the runs left out with why."""

    source: str  # "mlflow" | "file"
    location: str  # the tracking URI and experiment, or the file name
    group: str  # a short id shared by the batch's versions (their run in the registry)
    versions: tuple[ImportedVersion, ...]
    left_out: tuple[str, ...] = ()


def _number(value: Any) -> float | None:
    """A finite number from a cell or an MLflow param, None when blank; raises ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if text == "" or text.lower() in ("nan", "none", "null"):
            return None
        number = float(text)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _evidence(
    metrics: dict[str, float | None], where: str, problems: list[Problem], row: int | None = None
) -> tuple[dict[str, tuple[float, float]], dict[str, str], tuple[int, int] | None]:
    """Split ``*_low`` / ``*_high`` and the counts off ``metrics`` (in place); check them against the values.

    A problem names ``where`` (an MLflow run) in its text, or carries the file's ``row``.
    """

    def say(text: str, column: str | None) -> None:
        problems.append(Problem(text if row is not None else f"{where}: {text}", column, row))

    intervals: dict[str, tuple[float, float]] = {}
    for name in [m for m in metrics if m.endswith("_low")]:
        base = name.removesuffix("_low")
        low, high = metrics.pop(name), metrics.pop(f"{base}_high", None)
        if base not in metrics:
            say(f"an interval '{name}' for a metric '{base}' it does not have", name)
            continue
        value = metrics[base]
        if low is None and high is None:
            continue
        if low is None or high is None:
            say(f"'{base}' needs both '{base}_low' and '{base}_high'", name)
        elif value is not None and not low <= value <= high:
            say(f"'{base}' = {value:g} lies outside its interval [{low:g}, {high:g}]", base)
        else:
            intervals[base] = (low, high)
    for name in [m for m in metrics if m.endswith("_high")]:
        say(f"'{name}' has no '{name.removesuffix('_high')}_low'", name)
        metrics.pop(name)
    rows, positives = metrics.get("holdout_rows"), metrics.get("holdout_positives")
    holdout: tuple[int, int] | None = None
    unscored: dict[str, str] = {}
    if (rows is None) != (positives is None):
        say("give both holdout_rows and holdout_positives, or neither", "holdout_rows")
    elif rows is not None and positives is not None:
        if rows != int(rows) or positives != int(positives) or not 0 <= positives <= rows:
            say(
                f"holdout_positives ({positives:g}) must be a whole number between 0 and holdout_rows ({rows:g})",
                "holdout_positives",
            )
        else:
            holdout = (int(rows), int(positives))
            y = np.r_[np.ones(holdout[1]), np.zeros(holdout[0] - holdout[1])]
            reason = not_enough(y, "holdout", min_positives=MIN_POSITIVES, min_negatives=MIN_NEGATIVES)
            if reason:
                for name in metrics:
                    if name not in _COUNT_COLUMNS:
                        metrics[name] = None
                        unscored[name] = reason
                intervals.clear()
    for name, value in metrics.items():
        if value is None and name not in unscored and name not in _COUNT_COLUMNS:
            unscored[name] = "not reported by the import"
    return intervals, unscored, holdout


# --- files -------------------------------------------------------------------------------------------


def _file_records(source: Path | bytes, name: str) -> tuple[list[dict[str, Any]], str]:
    """The file's rows as dicts of raw values, and how to name a row in messages ("row" or "item")."""
    check_file_size(
        source,
        limit=MAX_VERSIONS_FILE_BYTES,
        what="a file of model versions",
        name=name,
        hint="Give one row per model version.",
    )
    raw = source if isinstance(source, bytes) else source.read_bytes()
    if name.lower().endswith(".json") or raw.lstrip()[:1] in (b"[", b"{"):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataValidationError(f"{name} is not valid JSON: {exc}. Give a list of versions.") from exc
        if isinstance(data, dict):
            data = data.get("versions")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise DataValidationError(f'{name}: expected a JSON list of versions (objects), or {{"versions": [...]}}.')
        return [{str(k): v for k, v in item.items()} for item in data], "item"
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Cannot read {name} as CSV: {exc}. Give a CSV with a header row.") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")], "row"


def _describe(problem: Problem, unit: str) -> str:
    """ "row 2 (line 3), column 'auc': not a number (e.g. '0.7x')"; a problem of no row as it describes itself."""
    if problem.row is None:
        return problem.describe()
    where = f"{unit} {problem.row}" + (f" (line {problem.row + 1})" if unit == "row" else "")
    column = f", column '{problem.column}'" if problem.column else ""
    example = f" (e.g. {problem.value!r})" if problem.value is not None else ""
    return f"{where}{column}: {problem.problem}{example}"


def _when(value: Any) -> datetime:
    import pandas as pd

    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError("not a date")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def read_versions_file(source: Path | bytes, *, name: str = "", x_column: str | None = None) -> ImportBatch:
    """Versions from a CSV or JSON file: one per row with ``version``, ``trained_at``, the data size
    (``train_rows`` or ``x_column``), metric columns, optional ``<metric>_low`` / ``<metric>_high`` and
    ``holdout_rows`` / ``holdout_positives``. A column with no number in it is kept as a text param.

    Raises:
        DataValidationError: listing every problem with its row and column (nothing is imported).
    """
    label = name or (source.name if isinstance(source, Path) else "the file")
    records, unit = _file_records(source, label)
    if not records:
        raise DataValidationError(f"{label} holds no versions.")
    if len(records) > MAX_IMPORTED:
        raise DataValidationError(f"{label} holds {len(records):,} versions; import at most {MAX_IMPORTED:,} at once.")
    columns = list(dict.fromkeys(k for r in records for k in r if k not in _SKIP_COLUMNS))
    size = x_column or next((c for c in _SIZE_ALIASES if c in columns), None)
    if size is None or size not in columns:
        raise DataValidationError(
            f"{label} needs a column with each version's data size: {x_column or 'train_rows'}"
            + ("" if x_column else f" (or one of {', '.join(_SIZE_ALIASES[1:])}; name another with --x-param)")
            + f". Its columns are: {', '.join(columns)}."
        )
    text_columns = []
    for column in columns:
        if column in ("version", "trained_at", size):
            continue
        numbers = 0
        for r in records:
            with contextlib.suppress(ValueError):
                numbers += _number(r.get(column)) is not None
        if numbers == 0 and any(str(r.get(column) or "").strip() for r in records):
            text_columns.append(column)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    versions = []
    for i, record in enumerate(records, start=1):
        where = f"{unit} {i}" + (f" (line {i + 1})" if unit == "row" else "")
        version = str(record.get("version") or "").strip() or f"{Path(label).stem} #{i}"
        if version in seen:
            problems.append(Problem(f"version '{version}' is also {unit} {seen[version]}", "version", i))
        seen[version] = i
        trained_at = None
        if str(record.get("trained_at") or "").strip():
            try:
                trained_at = _when(record["trained_at"])
            except (ValueError, TypeError):
                problems.append(Problem("not a date", "trained_at", i, str(record["trained_at"])))
        try:
            rows = _number(record.get(size))
        except ValueError:
            rows = None
        if rows is None or rows < 1 or rows != int(rows):
            problems.append(Problem("must be a whole number of rows, at least 1", size, i, str(record.get(size))))
            rows = 1
        metrics: dict[str, float | None] = {}
        for column in columns:
            if column in ("version", "trained_at", size) or column in text_columns:
                continue
            try:
                metrics[column] = _number(record.get(column))
            except ValueError:
                problems.append(Problem("not a number", column, i, str(record.get(column))))
        intervals, unscored, holdout = _evidence(metrics, where, problems, i)
        versions.append(
            ImportedVersion(
                label=version,
                source="file",
                source_id=version,
                trained_at=trained_at,
                train_rows=int(rows),
                metrics=metrics,
                intervals=intervals,
                unscored=unscored,
                holdout=holdout,
                params={c: str(record.get(c) or "") for c in text_columns},
            )
        )
    if problems:
        shown = "; ".join(_describe(p, unit) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DataValidationError(
            f"{label} cannot be imported: {shown}{more}. Fix the file; nothing was imported.", problems
        )
    return ImportBatch("file", label, f"file:{Path(label).stem[:40]}", tuple(versions))


# --- MLflow ------------------------------------------------------------------------------------------


def _client(tracking_uri: str) -> Any:
    """MLflow's own client, or a message saying how to install it and what the URI must be."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ConfigurationError(
            "Importing from MLflow needs MLflow's client: pip install 'flywheel-studio[mlflow]'."
        ) from exc
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():  # MLflow would create an empty database there and find no experiment
            raise NotFoundError(f"No MLflow database at {path}: check the tracking URI ({tracking_uri}).")
    elif "://" not in tracking_uri or tracking_uri.startswith("file:"):
        folder = Path(tracking_uri.removeprefix("file://").removeprefix("file:"))
        if not folder.is_dir():
            raise NotFoundError(f"No MLflow folder store at {folder}: check the tracking URI.")
        if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true":
            raise ConfigurationError(
                f"{tracking_uri} is an MLflow folder store, which MLflow 3 opens only with "
                "MLFLOW_ALLOW_FILE_STORE=true. Set it, or point at the tracking database (sqlite:///mlflow.db) "
                "or server (http://host:5000)."
            )
    return MlflowClient(tracking_uri=tracking_uri)


def _mlflow_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError)


def read_mlflow_versions(tracking_uri: str, experiment: str, *, x_param: str = "train_rows") -> ImportBatch:
    """Every finished run of ``experiment`` at ``tracking_uri`` as a version, oldest first: its metrics
    (the latest value of each), params, start time and data size (the param or metric ``x_param``).

    Raises:
        ConfigurationError: MLflow's client is not installed, or the folder store is not allowed.
        NotFoundError: no such database, folder or experiment.
        DataValidationError: a run without the data size or with a bad interval or counts (naming the run).
    """
    client = _client(tracking_uri)
    errors = _mlflow_errors()
    try:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in client.search_experiments(max_results=20)]
            raise NotFoundError(
                f"MLflow at {tracking_uri} has no experiment '{experiment}'"
                + (f"; its experiments: {', '.join(names)}." if names else "; it has no experiments."),
                entity="mlflow_experiment",
                name=experiment,
            )
        runs: list[Any] = []
        token = None
        while True:
            page = client.search_runs(
                [found.experiment_id], max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
            )
            runs.extend(page)
            token = getattr(page, "token", None)
            if not token or len(runs) > MAX_IMPORTED:
                break
    except errors as exc:
        raise DataValidationError(f"MLflow at {tracking_uri} could not be read: {exc}") from exc
    if len(runs) > MAX_IMPORTED:
        raise DataValidationError(f"Experiment '{experiment}' has over {MAX_IMPORTED:,} runs; import fewer at once.")
    problems: list[Problem] = []
    versions, left_out = [], []
    for run in runs:
        info, data = run.info, run.data
        name = info.run_name or info.run_id[:8]
        where = f"run '{name}' ({info.run_id[:8]})"
        if info.status != "FINISHED":
            left_out.append(f"{where}: {info.status.lower()}, not finished")
            continue
        metrics: dict[str, float | None] = {k: float(v) for k, v in data.metrics.items() if math.isfinite(v)}
        raw_size = data.params.get(x_param, metrics.pop(x_param, None))
        try:
            size = _number(raw_size)
        except ValueError:
            size = None
        if size is None or size < 1 or size != int(size):
            problems.append(
                Problem(
                    f"{where} has no whole, positive param or metric '{x_param}' (the data it trained on)"
                    + (f"; got {raw_size!r}" if raw_size is not None else "")
                    + f"; log it, or name another with --x-param (its params: {', '.join(sorted(data.params)) or 'none'})"
                )
            )
            continue
        intervals, unscored, holdout = _evidence(metrics, where, problems)
        versions.append(
            ImportedVersion(
                label=name,
                source="mlflow",
                source_id=info.run_id,
                trained_at=datetime.fromtimestamp(info.start_time / 1000, tz=UTC) if info.start_time else None,
                train_rows=int(size),
                metrics=metrics,
                intervals=intervals,
                unscored=unscored,
                holdout=holdout,
                params={k: str(v)[:500] for k, v in data.params.items()},
            )
        )
    if problems:
        shown = "; ".join(p.describe() for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DataValidationError(
            f"Experiment '{experiment}' cannot be imported: {shown}{more}. Nothing was imported.", problems
        )
    if not versions:
        raise NotFoundError(
            f"Experiment '{experiment}' has no finished runs to import"
            + (f" ({'; '.join(left_out[:3])})." if left_out else ".")
        )
    return ImportBatch(
        "mlflow",
        f"{tracking_uri} · {experiment}",
        f"mlflow:{found.experiment_id}"[:64],
        tuple(versions),
        tuple(left_out),
    )
