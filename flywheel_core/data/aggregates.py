"""The aggregates behind the profile and the Explore view, computed with DuckDB straight over the events files.

When a batch is stored its small tables are computed once and kept beside its events file
(:func:`batch_tables`); the figures of the page are then read from them in kilobytes
(:mod:`flywheel_core.data.figures`). Per batch, so an append adds its own and never re-reads an earlier batch:

- ``daily``: events per (day, event, rule), with the first and last timestamp: volumes, the signal mix and
  every share (the rule is the index of the value rule that decided the event's polarity, -1 for none, so a
  re-map of meanings needs no recomputation; a change of the rules does, once);
- ``user_days``: events per (day, user): distinct-user figures (actives, cohorts, new vs returning) of any
  whole-day range, read with the day pushed down into the file;
- ``items``: events per (item, event, rule): the long tail and catalogue coverage;
- ``ratings``: events per (day, event, value) for the events whose values sit on a small whole-number scale
  (``wide`` lists the others): the rating-bias figures.

Per dataset (the users' behaviour depends on every batch: gaps and sessions cross batches): ``behaviour``,
``analytics.user_outliers`` itself computed over buckets of users (:func:`behaviour_table`; an append
re-reads every batch's user, item and time columns for it), and the whole-range activity, cohorts and
new-vs-returning tables, made from the batches' (day, user) tables (:mod:`flywheel_core.data.summaries`).

DuckDB runs with a memory limit (:data:`MEMORY_LIMIT`) and two threads and spills to disk beyond it; the
largest table, a row per (day, user), goes from DuckDB straight to a Parquet file. Events files in an object
store (``storage.batch_files.EventFiles`` with a file system) are read by pyarrow and scanned by DuckDB as an Arrow
dataset, with the columns and the time range pushed down into it; DuckDB's own ``httpfs`` extension (a download
at run time) is not used. Measured figures:
``python bench/run.py profile`` (``FLYWHEEL_BENCH_25M=1`` for 25M events).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flywheel_core.data.signals import SignalRule
from flywheel_core.exceptions import LimitExceededError

if TYPE_CHECKING:
    import duckdb

    from flywheel_core.storage.batch_files import EventFiles

    Events = Sequence[Path] | EventFiles  # local paths, or files in a (local or object-store) file system

__all__ = [
    "FORMAT",
    "MEMORY_LIMIT",
    "BatchTables",
    "Span",
    "batch_tables",
    "behaviour_table",
    "connect",
    "items_table",
    "ratings_table",
    "rules_key",
    "source",
]

FORMAT = 2  # bumped when the tables change: older ones are rebuilt on first read
MEMORY_LIMIT = "512MB"  # reads of the summaries; they spill beyond it (256 MB ran out at 50M events)
BATCH_MEMORY_LIMIT = "512MB"  # a batch's tables at import (256 MB ran out at 25M events sorting the (day, user) table)
THREADS = 2
DAY_US = 86_400_000_000
RATING_SCALE_MAX = 11  # at most this many distinct whole values make a rating scale (analytics.rating_bias)
PAUSE_SECONDS = 30 * 60  # analytics.PAUSE_SECONDS


@dataclass(frozen=True)
class Span:
    """Events with ``start_us <= timestamp < end_us`` (microseconds since the epoch; None: unbounded)."""

    start_us: int | None = None
    end_us: int | None = None

    @property
    def whole(self) -> bool:
        return self.start_us is None and self.end_us is None


@dataclass(frozen=True)
class BatchTables:
    daily: pa.Table
    user_days: pa.Table | Path  # a Parquet file when written straight to disk
    items: pa.Table | None
    ratings: pa.Table
    wide: tuple[str, ...]  # events with values that are not a small whole-number scale

    def named(self) -> dict[str, pa.Table | Path]:
        tables: dict[str, pa.Table | Path] = {"daily": self.daily, "user_days": self.user_days, "ratings": self.ratings}
        if self.items is not None:
            tables["items"] = self.items
        return tables


def rules_key(rules: Sequence[SignalRule]) -> list[list[Any]]:
    """What the stored ``rule`` column depends on (compared with the dictionary's rules on read)."""
    return [[r.event, r.op, r.threshold] for r in rules]


@contextmanager
def connect(memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with a memory limit (default :data:`MEMORY_LIMIT`), two threads and a temporary
    folder to spill to."""
    import duckdb

    memory_limit = memory_limit or MEMORY_LIMIT

    spill = tempfile.mkdtemp(prefix="flywheel-duckdb-")
    con = duckdb.connect(
        config={
            "threads": THREADS,
            "memory_limit": memory_limit,
            "preserve_insertion_order": False,
            "temp_directory": spill,
        }
    )
    try:
        yield con
    except duckdb.OutOfMemoryException as error:  # what could not spill to disk
        raise SummariesMemoryError(
            f"Computing this dataset's summaries needed more than their memory limit ({memory_limit}) even when "
            f"spilling to disk ({str(error).splitlines()[0][:200]}). Try again when the machine is less busy, or "
            "run large datasets' summaries on a Dask cluster (FLYWHEEL_DASK_SCHEDULER)."
        ) from error
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


class SummariesMemoryError(LimitExceededError):
    """DuckDB ran out of its memory limit in a step that cannot spill."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _floor_div(expr: str, unit: int) -> str:
    """Floor division in SQL (DuckDB's ``//`` truncates towards zero; numpy's floors)."""
    return f"(({expr}) - ((({expr}) % {unit}) + {unit}) % {unit}) // {unit}"


def _rule_case(rules: Sequence[SignalRule]) -> str:
    """The index of the last rule that matches the row (later rules win, as in ``SignalDictionary.annotate``)."""
    if not rules:
        return "CAST(-1 AS TINYINT)"
    arms = [
        f"WHEN event = {_quote(r.event)} AND v IS NOT NULL AND NOT isnan(v) AND v {'=' if r.op == '==' else r.op} "
        f"CAST({_quote(repr(float(r.threshold)))} AS DOUBLE) THEN {i}"
        for i, r in reversed(list(enumerate(rules)))
    ]
    return f"CAST(CASE {' '.join(arms)} ELSE -1 END AS TINYINT)"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    found = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(row[0]) for row in found}


_REMOTE = "events_files"  # the name of a registered pyarrow dataset of events files in an object store


def _files(con: duckdb.DuckDBPyConnection, paths: Events) -> str:
    """What to select the events from: ``read_parquet`` of local files (DuckDB reads them itself), or a
    pyarrow dataset over files in an object store, registered in ``con`` as ``events_files``."""
    from flywheel_core.storage.batch_files import EventFiles

    if isinstance(paths, EventFiles) and paths.remote:
        con.register(_REMOTE, paths.arrow_dataset())
        return _REMOTE
    names = paths.paths if isinstance(paths, EventFiles) else [str(p) for p in paths]
    return "read_parquet([" + ", ".join(_quote(p) for p in names) + "], union_by_name = true)"


def source(
    con: duckdb.DuckDBPyConnection, paths: Events, rules: Sequence[SignalRule], span: Span
) -> tuple[str, set[str]]:
    """A view ``src`` over the files: user, item, event, v (numeric value), us, day, sec and rule."""
    relation = _files(con, paths)
    present = _columns(con, relation)
    us = "epoch_us(timestamp)"
    where = []
    # Compared as timestamps so DuckDB prunes row groups by the files' timestamp statistics.
    if span.start_us is not None:
        where.append(f"timestamp >= make_timestamptz({span.start_us})")
    if span.end_us is not None:
        where.append(f"timestamp < make_timestamptz({span.end_us})")
    value = "TRY_CAST(value AS DOUBLE)" if "value" in present else "CAST(NULL AS DOUBLE)"
    item = "CAST(item AS VARCHAR)" if "item" in present else "CAST(NULL AS VARCHAR)"
    inner = (
        f"SELECT CAST(user AS VARCHAR) AS user, {item} AS item, CAST(event AS VARCHAR) AS event, {value} AS v, "
        f"{us} AS us FROM {relation}" + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    # Files in an object store are read once into a table (spilled to disk beyond the memory limit): the
    # queries after it would each read them from the store again.
    kind = "TABLE" if relation == _REMOTE else "VIEW"
    con.sql(
        f"CREATE OR REPLACE TEMP {kind} src AS SELECT *, {_floor_div('us', DAY_US)} AS day, "
        f"{_floor_div('us', 1_000_000)} AS sec, {_rule_case(rules)} AS rule FROM ({inner})"
    )
    return "src", present


def batch_tables(
    con: duckdb.DuckDBPyConnection,
    paths: Events,
    rules: Sequence[SignalRule],
    span: Span = Span(),
    user_days_to: Path | None = None,
) -> BatchTables:
    """The per-batch tables of the events in ``paths`` (one batch's file, or any files with ``span``);
    ``user_days`` written to the Parquet file ``user_days_to`` when given."""
    _, present = source(con, paths, rules, span)
    daily = con.sql(
        "SELECT CAST(day AS INTEGER) AS day, event, rule, count(*) AS events, min(us) AS first_us, "
        "max(us) AS last_us FROM src GROUP BY ALL ORDER BY day, event, rule"
    ).to_arrow_table()
    query = "SELECT CAST(day AS INTEGER) AS day, user, count(*) AS events FROM src GROUP BY ALL ORDER BY day"
    if user_days_to is None:
        user_days: pa.Table | Path = con.sql(query).to_arrow_table()
    else:  # the largest table (a pair per user and day) goes straight to disk, never through Python
        con.execute(
            f"COPY ({query}) TO {_quote(str(user_days_to))} (FORMAT parquet, COMPRESSION lz4, ROW_GROUP_SIZE 65536)"
        )
        user_days = user_days_to
    items = items_table(con) if "item" in present else None
    ratings, wide = ratings_table(con)
    return BatchTables(daily=daily, user_days=user_days, items=items, ratings=ratings, wide=wide)


def items_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Events per (item, event, rule) of the view ``src``."""
    return con.sql(
        "SELECT item, event, rule, count(*) AS events FROM src GROUP BY ALL ORDER BY item, event, rule"
    ).to_arrow_table()


def ratings_table(
    con: duckdb.DuckDBPyConnection, only: Sequence[str] | None = None
) -> tuple[pa.Table, tuple[str, ...]]:
    """Events per (day, event, value) for the events of ``src`` (or of ``only``) whose values make a small
    whole-number scale, and the names of the events with other values."""
    restrict = f" AND event IN ({', '.join(_quote(e) for e in only)})" if only else ""
    if only is not None and not only:
        restrict = " AND FALSE"
    shape = con.sql(
        "SELECT event, count(DISTINCT v) AS n, bool_and(v = round(v)) AS whole FROM src "
        f"WHERE v IS NOT NULL AND NOT isnan(v){restrict} GROUP BY event"
    ).fetchall()
    narrow = [str(e) for e, n, whole in shape if e is not None and n <= RATING_SCALE_MAX and whole]
    wide = tuple(sorted(str(e) for e, n, whole in shape if e is not None and not (n <= RATING_SCALE_MAX and whole)))
    names = ", ".join(_quote(e) for e in narrow) or "NULL"
    table = con.sql(
        "SELECT CAST(day AS INTEGER) AS day, event, v AS value, count(*) AS events FROM src "
        f"WHERE v IS NOT NULL AND NOT isnan(v) AND event IN ({names}) GROUP BY ALL ORDER BY day, event, value"
    ).to_arrow_table()
    return table, wide


BUCKET_ROWS = 1_000_000  # users' behaviour is computed this many events at a time (users split by their code)


def behaviour_table(paths: Sequence[Path], span: Span = Span()) -> pa.Table:
    """``analytics.user_outliers`` of the events in ``paths`` (and ``span``), computed by the same code in
    buckets of users of about :data:`BUCKET_ROWS` events, so its working memory stays bounded.

    The user, item and time columns are read with pyarrow, keeping their dictionary codes (a timestamp
    filter prunes the row groups outside ``span``); each bucket is the events of the users whose code falls
    in it, and a user's behaviour depends only on that user's events, so the buckets' frames are the frame.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from flywheel_core.data import analytics

    filters: list[tuple[str, str, object]] = []
    if span.start_us is not None:
        filters.append(("timestamp", ">=", pd.Timestamp(span.start_us, unit="us", tz="UTC")))
    if span.end_us is not None:
        filters.append(("timestamp", "<", pd.Timestamp(span.end_us, unit="us", tz="UTC")))
    # One column at a time, each made compact before the next is read: codes (int32) for the ids, whole
    # seconds from the first event (int32 where they fit) for the times. About 12 bytes an event.
    present = [set(pq.read_schema(path).names) for path in paths]
    stamps = [pq.read_table(path, columns=["timestamp"], filters=filters or None).column(0) for path in paths]
    lengths = [len(s) for s in stamps]
    seconds = _whole_seconds(stamps)
    del stamps
    t0 = int(seconds.min()) if len(seconds) else 0
    seconds -= t0
    if len(seconds) and int(seconds.max()) < 2**31:
        seconds = seconds.astype(np.int32)
    columns: dict[str, tuple[Any, list[str]]] = {}
    for name in ("user", "item"):
        if not any(name in names for names in present):
            continue
        parts = [
            pq.read_table(path, columns=[name], filters=filters or None).column(0)
            if name in names
            else pa.chunked_array([pa.nulls(n, pa.string())])
            for path, names, n in zip(paths, present, lengths, strict=True)
        ]
        same = all(part.type == parts[0].type for part in parts)  # batches' dictionaries, as a rule
        column = pa.chunked_array([c for part in parts for c in (part if same else part.cast(pa.string())).chunks])
        del parts
        columns[name] = _coded(column)
        del column
    user = columns["user"][0]
    categories = {name: pd.Index(values, dtype=object) for name, (_, values) in columns.items()}
    n_buckets = max(1, -(-len(user) // BUCKET_ROWS))
    # The rows of each bucket, from one stable sort on the bucket number (a radix sort: 16-bit keys).
    bucket_of = (user % n_buckets).astype(np.int16 if n_buckets < 2**15 else np.int64)
    order = np.argsort(bucket_of, kind="stable") if n_buckets > 1 else np.arange(len(user))
    order = order.astype(np.int32) if len(order) < 2**31 else order
    bounds = np.concatenate([[0], np.cumsum(np.bincount(bucket_of, minlength=n_buckets))])
    del bucket_of

    def one(bucket: int) -> pd.DataFrame | None:
        rows = order[bounds[bucket] : bounds[bucket + 1]]
        if len(rows) == 0:
            return None
        frame: dict[str, Any] = {
            name: pd.Categorical.from_codes(codes[rows], categories=categories[name])
            for name, (codes, _) in columns.items()
        }
        frame["timestamp"] = (seconds[rows].astype(np.int64) + t0).view("datetime64[s]")
        return analytics.user_outliers(pd.DataFrame(frame))

    # Two buckets at a time: numpy's sorts, which are most of the work, let go of the GIL.
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        frames = [f for f in pool.map(one, range(n_buckets)) if f is not None]
    if not frames:
        raise ValueError("no events")  # callers ask only for ranges with events
    result = pd.concat(frames, ignore_index=True)
    result["user"] = result["user"].astype(str)
    result["heavy"] = analytics.heavy_mask(result["events"].to_numpy())  # over every user, not one bucket
    result = result.sort_values(["events", "user"], ascending=[False, True], kind="stable")
    return pa.Table.from_pandas(result.reset_index(drop=True), preserve_index=False)


def _whole_seconds(stamps: Sequence[pa.ChunkedArray]) -> Any:
    """Whole seconds since the epoch (int64) of the timestamps, as ``analytics._seconds`` counts them,
    converted a chunk at a time."""
    import numpy as np

    out = [
        chunk.cast(pa.int64()).to_numpy().view("datetime64[us]").astype("datetime64[s]").astype(np.int64)
        for column in stamps
        for chunk in column.chunks
    ]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _coded(column: pa.ChunkedArray) -> tuple[Any, list[str]]:
    """Integer codes (one dictionary over every chunk) and the values they stand for."""
    import numpy as np

    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = column.unify_dictionaries()
    values = column.chunk(0).dictionary.cast(pa.string()).to_pylist() if column.num_chunks else []
    chunks = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
    codes = np.concatenate(chunks) if chunks else np.zeros(0, np.int32)
    return codes.astype(np.int32, copy=False), values
