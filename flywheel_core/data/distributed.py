"""The aggregates of a large dataset computed on the Dask cluster, with ``dask.dataframe`` over its events files.

When a cluster is configured (``FLYWHEEL_DASK_SCHEDULER``) and a dataset holds at least
``FLYWHEEL_DASK_MIN_EVENTS`` events, :mod:`flywheel_core.data.summaries` builds its tables here instead of
with DuckDB in the app's process: the same tables as :func:`flywheel_core.data.aggregates.batch_tables`
(``daily``, ``user_days``, ``items``, ``ratings`` and ``wide``) and as
:func:`flywheel_core.data.aggregates.behaviour_table`, equal to them (counts exactly; the behaviour's ratios are
those of the same numpy code). ``dask.dataframe.read_parquet`` reads the files on the workers, which need them
at the same path (a shared folder) or in the same object store (``filesystem``); each partition is put in the
shape of DuckDB's view (:func:`_prepared`), then grouped by the cluster. The users' behaviour is
``analytics.user_outliers`` on each partition after a shuffle by user (a user's events all land in one
partition), with the heavy users computed over every user at the end, as ``behaviour_table`` does.

Only the tables come back to this process, the largest being a row per (day, user) (the DuckDB path streams
that one to disk; here it is held while it is written). Date ranges of the Explore view still run with DuckDB
over the files. A local path must be a file every worker sees (checked on each before the work is sent).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flywheel_core.data.aggregates import DAY_US, RATING_SCALE_MAX, BatchTables
from flywheel_core.data.signals import SignalRule

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from flywheel_core.config import Settings

__all__ = ["DaskAggregates", "batch_tables", "behaviour_table", "events_in"]

WORK = "summaries (the aggregates of a large dataset)"
_STRING = "string[pyarrow]"
_SCHEMAS = {
    "daily": pa.schema(
        [
            ("day", pa.int32()),
            ("event", pa.string()),
            ("rule", pa.int8()),
            ("events", pa.int64()),
            ("first_us", pa.int64()),
            ("last_us", pa.int64()),
        ]
    ),
    "user_days": pa.schema([("day", pa.int32()), ("user", pa.string()), ("events", pa.int64())]),
    "items": pa.schema([("item", pa.string()), ("event", pa.string()), ("rule", pa.int8()), ("events", pa.int64())]),
    "ratings": pa.schema(
        [("day", pa.int32()), ("event", pa.string()), ("value", pa.float64()), ("events", pa.int64())]
    ),
}


@dataclass(frozen=True)
class DaskAggregates:
    """Where a large dataset's aggregates are computed: the scheduler, from how many events, and the files'
    file system (a ``pyarrow.fs.FileSystem`` for an object store; None: local paths)."""

    scheduler: str
    min_events: int
    filesystem: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DaskAggregates | None:
        """The cluster of ``settings`` (None: none configured, or this already runs on a Dask worker, whose
        own thread computes with DuckDB rather than wait on the cluster it is part of)."""
        from flywheel_core.cluster import in_dask_worker

        if not settings.dask_scheduler or in_dask_worker():
            return None
        return cls(scheduler=settings.dask_scheduler, min_events=settings.dask_min_events)

    def wanted(self, paths: Sequence[Path | str]) -> bool:
        """Whether the files hold at least :attr:`min_events` events (read from their footers)."""
        return events_in(paths, self.filesystem) >= self.min_events


def events_in(paths: Sequence[Path | str], filesystem: Any = None) -> int:
    """The number of events in the Parquet files, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(str(p), filesystem=filesystem).metadata.num_rows for p in paths)


def _names(paths: Sequence[Path | str], filesystem: Any) -> list[set[str]]:
    import pyarrow.parquet as pq

    return [set(pq.read_schema(str(p), filesystem=filesystem).names) for p in paths]


def _read(paths: Sequence[Path | str], columns: Sequence[str], filesystem: Any) -> tuple[dd.DataFrame, set[str]]:
    """The files' ``columns`` (those any file has) as one dataframe; a column a file lacks is missing there
    (``union_by_name``, as DuckDB reads them)."""
    import dask.dataframe as dd

    present = _names(paths, filesystem)
    wanted = [c for c in columns if any(c in names for names in present)]
    options: dict[str, Any] = {"filesystem": filesystem} if filesystem is not None else {}
    groups: dict[tuple[str, ...], list[str]] = {}
    for path, names in zip(paths, present, strict=True):
        groups.setdefault(tuple(c for c in wanted if c in names), []).append(str(path))
    frames = []
    for have, files in groups.items():
        frame = dd.read_parquet(files, columns=list(have), **options)
        for missing in (c for c in wanted if c not in have):
            frame = frame.assign(**{missing: None})
        frames.append(frame[wanted])
    return (frames[0] if len(frames) == 1 else dd.concat(frames)), set(wanted)


def _text(column: pd.Series) -> pd.Series:
    """A column as Arrow-backed strings, missing values NA: grouped, compared and sorted by Arrow's kernels.
    A dictionary column (read as a categorical) is decoded by Arrow from its codes, with no Python object per
    value."""
    import numpy as np
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        labels = pa.array(np.asarray(column.cat.categories, dtype=object), type=pa.string())
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        decoded = pa.DictionaryArray.from_arrays(indices, labels).cast(pa.string())
        return pd.Series(pd.arrays.ArrowStringArray(decoded), index=column.index)
    return column.astype(pd.StringDtype("pyarrow"))


def _prepared(part: pd.DataFrame, rules: Sequence[SignalRule], has_item: bool, has_value: bool) -> pd.DataFrame:
    """One partition in the shape of DuckDB's view ``src`` (:func:`aggregates.source`): user, item, event,
    v (the value as a number), us, day and rule (the index of the last value rule that matches, -1 for none)."""
    import numpy as np
    import pandas as pd

    stamps = part["timestamp"]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(None)
    us = stamps.to_numpy().astype("datetime64[us]").view(np.int64)
    if has_value:
        v = pd.to_numeric(part["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        v = np.full(len(part), np.nan)
    event = _text(part["event"])
    rule = np.full(len(part), -1, dtype=np.int8)
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal}
    known = ~np.isnan(v)
    for i, r in enumerate(rules):  # a later rule wins, as in SignalDictionary.annotate and the SQL CASE
        with np.errstate(invalid="ignore"):
            hit = (event == r.event).fillna(False).to_numpy(dtype=bool) & known & ops[r.op](v, float(r.threshold))
        rule[hit] = i
    return pd.DataFrame(
        {
            "user": _text(part["user"]),
            "item": _text(part["item"]) if has_item else pd.Series(pd.NA, index=part.index, dtype=_STRING),
            "event": event,
            "v": v,
            "us": us,
            "day": np.floor_divide(us, DAY_US).astype(np.int32),
            "rule": rule,
        },
        index=part.index,
    )


def _src(paths: Sequence[Path | str], rules: Sequence[SignalRule], filesystem: Any) -> tuple[dd.DataFrame, set[str]]:
    import numpy as np
    import pandas as pd

    frame, present = _read(paths, ("user", "item", "event", "value", "timestamp"), filesystem)
    meta = pd.DataFrame(
        {
            "user": pd.Series([], dtype=_STRING),
            "item": pd.Series([], dtype=_STRING),
            "event": pd.Series([], dtype=_STRING),
            "v": pd.Series([], dtype=float),
            "us": pd.Series([], dtype=np.int64),
            "day": pd.Series([], dtype=np.int32),
            "rule": pd.Series([], dtype=np.int8),
        }
    )
    prepared = frame.map_partitions(_prepared, list(rules), "item" in present, "value" in present, meta=meta)
    return prepared, present


def _table(frame: pd.DataFrame, name: str, order: Sequence[str]) -> pa.Table:
    """A grouped result as DuckDB returns it: its schema, sorted by ``order`` (missing values last)."""
    frame = frame.sort_values(list(order), kind="stable", na_position="last").reset_index(drop=True)
    schema = _SCHEMAS[name]
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def _grouped(series: Any) -> pd.DataFrame:
    frame = series.reset_index()
    return frame.rename(columns={frame.columns[-1]: "events"})


def batch_tables(cluster: DaskAggregates, paths: Sequence[Path | str], rules: Sequence[SignalRule]) -> BatchTables:
    """:func:`flywheel_core.data.aggregates.batch_tables` of the events in ``paths``, computed on the cluster.

    Raises:
        ConfigurationError: the cluster cannot be reached, has no workers, a worker cannot see the files,
        or the cluster lost the work.
    """
    import pandas as pd

    from flywheel_core.cluster import computing

    src, present = _src(paths, rules, cluster.filesystem)
    daily = src.groupby(["day", "event", "rule"], dropna=False).agg({"us": ["count", "min", "max"]})
    user_days = src.groupby(["day", "user"], dropna=False).size()
    items = src.groupby(["item", "event", "rule"], dropna=False).size() if "item" in present else None
    valued = src[~src["v"].isna()]
    shape = valued.groupby("event")["v"].nunique()
    whole = (valued["v"] == valued["v"].round()).groupby(valued["event"]).min()
    wanted = [daily, user_days, shape, whole] + ([items] if items is not None else [])
    probe = _probe(paths) if cluster.filesystem is None else None
    with computing(cluster.scheduler, work=WORK, probe=probe) as run:
        found = run(wanted)
        daily_frame, user_days_frame, shape_found, whole_found = found[:4]
        narrow = sorted(str(e) for e, n in shape_found.items() if n <= RATING_SCALE_MAX and bool(whole_found[e]))
        if narrow:  # a second pass, over the events with a rating scale only
            (counted,) = run([valued[valued["event"].isin(narrow)].groupby(["day", "event", "v"]).size()])
            ratings_frame = _grouped(counted).rename(columns={"v": "value"})
        else:
            ratings_frame = pd.DataFrame({"day": [], "event": [], "value": [], "events": []})
    daily_frame.columns = ["events", "first_us", "last_us"]
    wide = tuple(sorted(str(e) for e in shape_found.index if str(e) not in narrow))
    return BatchTables(
        daily=_table(daily_frame.reset_index(), "daily", ("day", "event", "rule")),
        user_days=_table(_grouped(user_days_frame), "user_days", ("day", "user")),
        items=None if items is None else _table(_grouped(found[4]), "items", ("item", "event", "rule")),
        ratings=_table(ratings_frame, "ratings", ("day", "event", "value")),
        wide=wide,
    )


def _probe(paths: Sequence[Path | str]) -> Any:
    from functools import partial

    return partial(_worker_problem, [str(p) for p in paths])


def _worker_problem(paths: list[str]) -> str:
    """What stops this worker from reading the events files ("" when nothing)."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"it cannot see the events file {missing[0]}{more}"
    return ""


def _behaviour_part(part: pd.DataFrame) -> pd.DataFrame:
    """``analytics.user_outliers`` of one partition's users (every event of each of them), as
    ``aggregates.behaviour_table`` calls it on one bucket."""
    import numpy as np
    import pandas as pd

    from flywheel_core.data import analytics

    if len(part) == 0:
        return _behaviour_meta(has_item="item" in part.columns)
    frame: dict[str, Any] = {}
    for name in ("user", "item"):
        if name in part.columns:
            frame[name] = pd.Categorical(_text(part[name]))
    stamps = part["timestamp"]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(None)
    frame["timestamp"] = stamps.to_numpy().astype("datetime64[us]")
    result = analytics.user_outliers(pd.DataFrame(frame))
    result["user"] = np.asarray(result["user"].astype(str), dtype=object)
    return result


def _behaviour_meta(*, has_item: bool) -> pd.DataFrame:
    """The columns and types of :func:`_behaviour_part`'s frame, from a one-event frame."""
    import numpy as np
    import pandas as pd

    from flywheel_core.data import analytics

    one: dict[str, Any] = {"user": pd.Categorical(["u"])}
    if has_item:
        one["item"] = pd.Categorical(["i"])
    one["timestamp"] = np.array(["2026-01-01T00:00:00"], dtype="datetime64[us]")
    result = analytics.user_outliers(pd.DataFrame(one))
    result["user"] = np.asarray(result["user"].astype(str), dtype=object)
    return result.iloc[:0]


def behaviour_table(cluster: DaskAggregates, paths: Sequence[Path | str]) -> pa.Table:
    """:func:`flywheel_core.data.aggregates.behaviour_table` of every event in ``paths``, computed on the
    cluster: the events shuffled by user, ``analytics.user_outliers`` per partition, heavy users over all.

    Raises:
        ConfigurationError: as :func:`batch_tables`; ValueError: no events (as ``behaviour_table``).
    """
    from flywheel_core.cluster import compute
    from flywheel_core.data import analytics

    frame, present = _read(paths, ("user", "item", "timestamp"), cluster.filesystem)
    meta = _behaviour_meta(has_item="item" in present)
    per_user = frame.shuffle("user").map_partitions(_behaviour_part, meta=meta)
    probe = _probe(paths) if cluster.filesystem is None else None
    (result,) = compute(cluster.scheduler, [per_user], work=WORK, probe=probe)
    if len(result) == 0:
        raise ValueError("no events")  # callers ask only for datasets with events
    result = result.reset_index(drop=True)
    result["user"] = result["user"].astype(str)
    result["heavy"] = analytics.heavy_mask(result["events"].to_numpy())  # over every user, not one partition
    result = result.sort_values(["events", "user"], ascending=[False, True], kind="stable")
    return pa.Table.from_pandas(result.reset_index(drop=True), preserve_index=False)
