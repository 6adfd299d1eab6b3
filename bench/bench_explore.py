"""The Explore view's figures at 1M, 5M and 25M events: the whole range and a new date range.

Four ways, each in its own process (medians of 3, peak resident memory from ``wait4``), on the dataset and
Parquet file of ``bench_profile`` (the music demo in the stored format):

- before: what the page did until the aggregates (``read_analysis_events`` then ``explore_events``: every
  event read into pandas, every figure recomputed for each range);
- after: ``explore_dataset`` (the aggregates kept beside the events; a range of whole days from the daily
  tables plus one DuckDB scan of the range's row groups for behaviour and items);
- bare DuckDB and bare Polars computing the figures' inputs (daily counts by event, the (day, user) pairs,
  per-item and per-user counts) over the same Parquet file for the same range.

    python bench/run.py explore            # 1M and 5M
    FLYWHEEL_BENCH_25M=1 python bench/run.py explore
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess

from bench_profile import events_file, sizes, stored_dataset
from common import REPO, Figure, python, report

SETUP = f"""
import sys, time, json
sys.path.insert(0, {str(REPO)!r})
from datetime import datetime, timedelta
from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store
from flywheel_core.data import api
store = Store(load_settings({{"FLYWHEEL_DATA_DIR": sys.argv[1]}}), migrate=False)
ws = store.get_workspace(name="bench")
row = api.get_dataset(store, workspace_id=ws.id, name="bench", actor="bench")
first = datetime.combine(row.first_event.date(), datetime.min.time())
start, end = first + timedelta(days=30), first + timedelta(days=60)
out = {{}}
"""
BEFORE = (
    SETUP
    + """
t = time.perf_counter()
events = api.read_analysis_events(store, workspace_id=ws.id, name="bench", actor="bench")
api.explore_events(events, row.signals)
out["whole"] = time.perf_counter() - t
t = time.perf_counter()
api.explore_events(events, row.signals, start=start, end=end)
out["range"] = time.perf_counter() - t
print(json.dumps(out))
"""
)
AFTER = (
    SETUP
    + """
t = time.perf_counter()
api.explore_dataset(store, workspace_id=ws.id, name="bench", actor="bench")
out["whole"] = time.perf_counter() - t
t = time.perf_counter()
api.explore_dataset(store, workspace_id=ws.id, name="bench", actor="bench", start=start, end=end)
out["range"] = time.perf_counter() - t
print(json.dumps(out))
"""
)
_RANGE = """
import sys, time, json, datetime as dt
import pyarrow.parquet as pq
meta = pq.read_metadata(sys.argv[1])
first = min(meta.row_group(i).column(2).statistics.min for i in range(meta.num_row_groups))
day = dt.datetime.combine(first.date(), dt.time(), tzinfo=dt.timezone.utc)
ranges = {"whole": None, "range": (day + dt.timedelta(days=30), day + dt.timedelta(days=60))}
out = {}
"""
BARE_DUCKDB = (
    _RANGE
    + """
import duckdb
con = duckdb.connect(config={'threads': 2, 'memory_limit': '1GB'})
for name, span in ranges.items():
    t = time.perf_counter()
    where = "" if span is None else f"WHERE timestamp >= '{span[0].isoformat()}' AND timestamp < '{span[1].isoformat()}'"
    con.execute(f"CREATE OR REPLACE VIEW e AS SELECT * FROM read_parquet('{sys.argv[1]}') {where}")
    con.sql("SELECT epoch_us(timestamp) // 86400000000 AS day, event, count(*) FROM e GROUP BY ALL").fetchall()
    con.sql("SELECT epoch_us(timestamp) // 86400000000 AS day, user, count(*) FROM e GROUP BY ALL").to_arrow_table()
    con.sql("SELECT item, event, count(*) FROM e GROUP BY ALL").to_arrow_table()
    con.sql("SELECT user, count(*) FROM e GROUP BY ALL").to_arrow_table()
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""
)
BARE_POLARS = (
    _RANGE
    + """
import polars as pl
for name, span in ranges.items():
    t = time.perf_counter()
    e = pl.scan_parquet(sys.argv[1])
    if span is not None:
        e = e.filter((pl.col('timestamp') >= span[0]) & (pl.col('timestamp') < span[1]))
    e = e.with_columns((pl.col('timestamp').dt.epoch('us') // 86400000000).alias('day'))
    pl.collect_all([e.group_by('day', 'event').len(), e.group_by('day', 'user').len(),
                    e.group_by('item', 'event').len(), e.group_by('user').len()])
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""
)


def _run(code: str, arg: str) -> tuple[dict[str, float], float]:
    """Run ``code`` in a child; its JSON line of timings and its own peak resident MB (``wait4``)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([python(), "-W", "ignore", "-c", code, arg], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(err.read().decode()[-2000:])
        return json.loads(out.read().decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def _median(code: str, arg: str, repeat: int = 3) -> tuple[dict[str, float], float]:
    runs = [_run(code, arg) for _ in range(repeat)]
    keys = runs[0][0].keys()
    return {k: statistics.median(r[0][k] for r in runs) for k in keys}, max(r[1] for r in runs)


def main() -> None:
    figures: list[Figure] = []
    for n in sizes():
        label = f"{n // 1_000_000}M"
        events = events_file(n)
        folder = str(stored_dataset(events))
        _run(AFTER, folder)  # the aggregates exist (made on a first read if the dataset predates them)
        rows = {}
        for name, code, arg in (
            ("bare DuckDB", BARE_DUCKDB, str(events)),
            ("bare Polars", BARE_POLARS, str(events)),
            ("before (pandas over every event)", BEFORE, folder),
            ("after (aggregates)", AFTER, folder),
        ):
            rows[name] = _median(code, arg)
        duck = rows["bare DuckDB"][0]
        for name, (times, peak) in rows.items():
            for part in ("whole", "range"):
                what = "whole range" if part == "whole" else "new 30-day range"
                figures.append(
                    Figure(
                        f"{name}, {what}, {label}",
                        times[part],
                        "bare DuckDB" if name != "bare DuckDB" else "",
                        duck[part] if name != "bare DuckDB" else None,
                        peak_mb=peak if part == "whole" else None,
                        target="≤ 1.5 s" if name.startswith("after") else "",
                    )
                )
    report("explore: the Explore view's figures, whole range and a new range (peak: the whole process)", figures)


if __name__ == "__main__":
    main()
