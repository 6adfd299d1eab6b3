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
per user the integer sums the bot rule needs (:func:`behaviour_table`), and the whole-range activity,
cohorts and new-vs-returning tables (:mod:`flywheel_core.data.figures`).

DuckDB runs with a memory limit and two threads and spills to disk beyond it, so a 25M-event dataset is
summarised within about 1 GB (``python bench/run.py profile``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flywheel_core.data.signals import SignalRule

if TYPE_CHECKING:
    import duckdb

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

FORMAT = 1  # bumped when the tables change: older ones are rebuilt on first read
MEMORY_LIMIT = "1GB"
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
    user_days: pa.Table
    items: pa.Table | None
    ratings: pa.Table
    wide: tuple[str, ...]  # events with values that are not a small whole-number scale

    def named(self) -> dict[str, pa.Table]:
        tables = {"daily": self.daily, "user_days": self.user_days, "ratings": self.ratings}
        if self.items is not None:
            tables["items"] = self.items
        return tables


def rules_key(rules: Sequence[SignalRule]) -> list[list[Any]]:
    """What the stored ``rule`` column depends on (compared with the dictionary's rules on read)."""
    return [[r.event, r.op, r.threshold] for r in rules]


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the memory limit, two threads and a temporary folder to spill to."""
    import duckdb

    spill = tempfile.mkdtemp(prefix="flywheel-duckdb-")
    con = duckdb.connect(
        config={
            "threads": THREADS,
            "memory_limit": MEMORY_LIMIT,
            "preserve_insertion_order": False,
            "temp_directory": spill,
        }
    )
    try:
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


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


def _columns(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> set[str]:
    found = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_files(paths)}, union_by_name = true)").fetchall()
    return {str(row[0]) for row in found}


def _files(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(_quote(str(p)) for p in paths) + "]"


def source(
    con: duckdb.DuckDBPyConnection, paths: Sequence[Path], rules: Sequence[SignalRule], span: Span
) -> tuple[str, set[str]]:
    """A view ``src`` over the files: user, item, event, v (numeric value), us, day, sec and rule."""
    present = _columns(con, paths)
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
        f"{us} AS us FROM read_parquet({_files(paths)}, union_by_name = true)"
        + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    con.sql(
        f"CREATE OR REPLACE TEMP VIEW src AS SELECT *, {_floor_div('us', DAY_US)} AS day, "
        f"{_floor_div('us', 1_000_000)} AS sec, {_rule_case(rules)} AS rule FROM ({inner})"
    )
    return "src", present


def batch_tables(
    con: duckdb.DuckDBPyConnection, paths: Sequence[Path], rules: Sequence[SignalRule], span: Span = Span()
) -> BatchTables:
    """The per-batch tables of the events in ``paths`` (one batch's file, or any files with ``span``)."""
    _, present = source(con, paths, rules, span)
    daily = con.sql(
        "SELECT CAST(day AS INTEGER) AS day, event, rule, count(*) AS events, min(us) AS first_us, "
        "max(us) AS last_us FROM src GROUP BY ALL ORDER BY day, event, rule"
    ).to_arrow_table()
    user_days = con.sql(
        "SELECT CAST(day AS INTEGER) AS day, user, count(*) AS events FROM src GROUP BY ALL ORDER BY day, user"
    ).to_arrow_table()
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


def behaviour_table(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], span: Span = Span()) -> pa.Table:
    """Per user: events, gaps within sessions (count, sum, sum of squares, in seconds), active minutes, the
    longest session (seconds) and the top item's events: the integer sums ``analytics.behaviour_frame``
    turns into the bot rule's signs, exactly as ``analytics.user_outliers`` does from the events."""
    source(con, paths, (), span)
    pause = PAUSE_SECONDS
    return con.sql(
        f"""
        WITH g AS (
            SELECT user, item, sec, sec - lag(sec) OVER (PARTITION BY user ORDER BY sec) AS gap FROM src
        ),
        per_user AS (
            SELECT user, count(*) AS events,
                   count(*) FILTER (WHERE gap <= {pause}) AS n_gaps,
                   coalesce(sum(gap) FILTER (WHERE gap <= {pause}), 0) AS gap_sum,
                   coalesce(sum(gap * gap) FILTER (WHERE gap <= {pause}), 0) AS gap_sq,
                   max(sec) AS last_sec
            FROM g GROUP BY user
        ),
        starts AS (
            SELECT user, sec, lead(sec - gap) OVER (PARTITION BY user ORDER BY sec) AS end_before_next
            FROM g WHERE gap IS NULL OR gap > {pause}
        ),
        sessions AS (
            SELECT s.user, max(coalesce(s.end_before_next, p.last_sec) - s.sec) AS longest_seconds
            FROM starts s JOIN per_user p USING (user) GROUP BY s.user
        ),
        minutes AS (
            SELECT user, count(DISTINCT {_floor_div("sec", 60)}) AS minutes FROM src GROUP BY user
        ),
        top AS (
            SELECT user, max(n) AS top_item FROM (
                SELECT user, item, count(*) AS n FROM src WHERE item IS NOT NULL GROUP BY ALL
            ) GROUP BY user
        )
        SELECT p.user, p.events, p.n_gaps, CAST(p.gap_sum AS BIGINT) AS gap_sum,
               CAST(p.gap_sq AS BIGINT) AS gap_sq, m.minutes, s.longest_seconds,
               coalesce(t.top_item, 0) AS top_item
        FROM per_user p JOIN minutes m USING (user) JOIN sessions s USING (user) LEFT JOIN top t USING (user)
        ORDER BY p.user
        """
    ).to_arrow_table()
