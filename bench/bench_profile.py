"""`flywheel profile` at 1M, 5M and 25M events against bare DuckDB and bare Polars over the same Parquet file.

Each figure is a separate process (median of 3 runs, peak resident memory from ``wait4``). The events file is
generated once into /tmp (the music demo, 5M events per chunk, later chunks shifted in time) in the format the
product stores: dictionary-encoded ids, LZ4, statistics on ``timestamp`` only. It is then stored as a dataset
of a fresh data folder (the file moved in place under a dataset row, as an import does), so the command runs
as a user would run it. Targets (issue 19): profile of 25M events within 1.2x the bare DuckDB query of the
same figures and within 1.5 GB.

    python bench/run.py profile            # 1M and 5M
    FLYWHEEL_BENCH_25M=1 python bench/run.py profile
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from common import Figure, median_process, python, report, run_process

DATA = Path("/tmp/fw-bench-scale")
CHUNK = 5_000_000

# The profile's figures (counts, distinct users and items, span, event counts, daily actives and the last
# 30 days' monthly actives, per-user medians) with each library alone, straight over the Parquet file.
BARE_DUCKDB = """
import sys, duckdb
con = duckdb.connect(config={'threads': 2, 'memory_limit': '1GB'})
f = sys.argv[1]
con.execute(f"CREATE VIEW e AS SELECT * FROM read_parquet('{f}')")
con.execute("SELECT count(*), count(DISTINCT user), count(DISTINCT item), min(timestamp), max(timestamp) FROM e").fetchall()
con.execute("SELECT event, count(*) FROM e GROUP BY event").fetchall()
con.execute("CREATE TABLE ud AS SELECT user, CAST(epoch_us(timestamp) // 86400000000 AS INTEGER) AS day, count(*) AS n FROM e GROUP BY ALL")
con.execute("SELECT day, count(*) FROM ud GROUP BY day").fetchall()
con.execute("SELECT count(DISTINCT user) FROM ud WHERE day > (SELECT max(day) - 30 FROM ud)").fetchall()
con.execute("SELECT median(n) FROM (SELECT user, sum(n) AS n FROM ud GROUP BY user)").fetchall()
con.execute("SELECT min(w), count(*) FROM (SELECT user, min(day // 7) AS w FROM ud GROUP BY user) GROUP BY ALL").fetchall()
"""
BARE_POLARS = """
import sys, polars as pl
e = pl.scan_parquet(sys.argv[1])
e.select(pl.len(), pl.col('user').n_unique(), pl.col('item').n_unique(), pl.col('timestamp').min().alias('first'),
         pl.col('timestamp').max().alias('last')).collect()
e.group_by('event').len().collect()
ud = e.select('user', (pl.col('timestamp').dt.epoch('us') // 86400000000).alias('day')).group_by('user', 'day').len().collect()
ud.group_by('day').len()
ud.filter(pl.col('day') > ud['day'].max() - 30)['user'].n_unique()
ud.group_by('user').agg(pl.col('len').sum())['len'].median()
ud.group_by('user').agg((pl.col('day') // 7).min().alias('w')).group_by('w').len()
"""


def events_file(n_events: int) -> Path:
    """The synthetic log of ``n_events`` (a multiple of 1M), generated once, in a child process."""
    target = DATA / f"events-{n_events // 1_000_000}M.parquet"
    if not target.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        code = f"import sys; sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parents[1])]!r}; "
        code += f"from bench_profile import _write_events; _write_events({str(target)!r}, {n_events})"
        run_process([python(), "-c", code])
    return target


def _write_events(path: str, n_events: int) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flywheel_core.demo import make_demo_events

    temp = path + ".part"
    writer = None
    for chunk in range(max(1, n_events // CHUNK)):
        frame = make_demo_events("music", min(n_events, CHUNK), random_state=7 + chunk)
        frame = frame[["user", "item", "timestamp", "event", "value", "session"]]
        frame["timestamp"] = frame["timestamp"] + pd.Timedelta(days=182 * chunk)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.set_column(0, "user", table.column("user").dictionary_encode())
        table = table.set_column(1, "item", table.column("item").dictionary_encode())
        table = table.set_column(3, "event", table.column("event").dictionary_encode())
        table = table.set_column(5, "session", table.column("session").dictionary_encode())
        if writer is None:
            writer = pq.ParquetWriter(temp, table.schema, compression="lz4", write_statistics=["timestamp"])
        writer.write_table(table)
    assert writer is not None
    writer.close()
    os.replace(temp, path)


def stored_dataset(events: Path) -> Path:
    """A data folder holding ``events`` as dataset 'bench' of workspace 'bench' (made once per size)."""
    folder = DATA / f"store-{events.stem}"
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    code = f"import sys; sys.path[:0] = {[str(Path(__file__).parent), str(Path(__file__).parents[1])]!r}; "
    code += f"from bench_profile import _store; _store({str(events)!r}, {str(folder)!r})"
    run_process([python(), "-c", code])
    (folder / "ready").touch()
    return folder


def _store(events: str, folder: str) -> None:
    """Store the file under a dataset row, as an import would (the file copied into staging, then moved)."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from flywheel_core.config import load_settings
    from flywheel_core.data.signals import default_dictionary
    from flywheel_core.storage.files import file_sha256
    from flywheel_core.storage.models import Dataset
    from flywheel_core.storage.store import Store

    store = Store(load_settings({"FLYWHEEL_DATA_DIR": folder}))
    ws = store.ensure_workspace(name="bench", actor="bench")
    staged = Path(folder) / "staging" / "bench.parquet"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(events, staged)
    table = pq.read_table(events, columns=["user", "item", "timestamp", "event"])
    stamps = pc.min_max(table.column("timestamp").cast(pa.int64()))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    names = [str(v) for v in pc.unique(table.column("event").combine_chunks().dictionary).to_pylist()]
    record = Dataset(
        workspace_id=ws.id or 0,
        name="bench",
        source_name=Path(events).name,
        content_hash=file_sha256(Path(events)),
        file_path="",
        rows=table.num_rows,
        users=len(pc.unique(table.column("user"))),
        items=len(pc.unique(table.column("item"))),
        first_event=epoch + timedelta(microseconds=stamps["min"].as_py()),
        last_event=epoch + timedelta(microseconds=stamps["max"].as_py()),
        column_map={r: r for r in ("user", "item", "timestamp", "event", "value", "session")},
        signal_dictionary=default_dictionary(names).to_json(),
        report={},
        created_by="bench",
    )
    store.store_dataset(workspace_id=ws.id or 0, table=staged, dataset=record, actor="bench")


def sizes() -> list[int]:
    wanted = [1_000_000, 5_000_000]
    if os.environ.get("FLYWHEEL_BENCH_25M"):
        wanted.append(25_000_000)
    return wanted


BEHAVIOUR = """
con.execute(\"\"\"
WITH s AS (SELECT user, item, epoch_us(timestamp) // 1000000 AS sec FROM e),
g AS (SELECT user, item, sec, sec - lag(sec) OVER (PARTITION BY user ORDER BY sec) AS gap FROM s),
p AS (SELECT user, count(*) AS n, count(*) FILTER (WHERE gap <= 1800) AS k, sum(gap) FILTER (WHERE gap <= 1800) AS gs,
      sum(gap * gap) FILTER (WHERE gap <= 1800) AS gq, max(sec) AS last FROM g GROUP BY user),
st AS (SELECT user, sec, lead(sec - gap) OVER (PARTITION BY user ORDER BY sec) AS stop FROM g WHERE gap IS NULL OR gap > 1800),
se AS (SELECT st.user, max(coalesce(stop, last) - sec) AS longest FROM st JOIN p USING (user) GROUP BY st.user),
m AS (SELECT user, count(DISTINCT sec // 60) AS minutes FROM s GROUP BY user),
t AS (SELECT user, max(n) AS top FROM (SELECT user, item, count(*) AS n FROM s GROUP BY ALL) GROUP BY user)
SELECT * FROM p JOIN m USING (user) JOIN se USING (user) LEFT JOIN t USING (user)\"\"\").fetch_df()
"""


def _without_aggregates(folder: Path) -> None:
    for path in folder.rglob("*.agg"):
        shutil.rmtree(path)


def main() -> None:
    import statistics

    figures: list[Figure] = []
    for n in sizes():
        label = f"{n // 1_000_000}M"
        events = events_file(n)
        folder = stored_dataset(events)
        env = {"FLYWHEEL_DATA_DIR": str(folder)}
        profile = [python(), "-m", "flywheel_core.cli", "profile", "bench", "--workspace", "bench", "--json"]
        builds = []
        repeat = 1 if n >= 25_000_000 else 3
        for _ in range(repeat):  # a dataset stored before the aggregates existed: the first profile makes them
            _without_aggregates(folder)
            builds.append(run_process(profile, env=env))
        build = statistics.median(b[0] for b in builds), max(b[1] for b in builds)
        duck = median_process([python(), "-c", BARE_DUCKDB, str(events)])
        duck_all = median_process([python(), "-c", BARE_DUCKDB + BEHAVIOUR, str(events)], repeat=repeat)
        polars = median_process([python(), "-c", BARE_POLARS, str(events)])
        ours = median_process(profile, env=env)
        figures += [
            Figure(f"bare DuckDB, profile figures, {label}", duck[0], peak_mb=duck[1], rows=n),
            Figure(f"bare Polars, profile figures, {label}", polars[0], "bare DuckDB", duck[0], peak_mb=polars[1]),
            Figure(f"bare DuckDB, the same + users' behaviour, {label}", duck_all[0], peak_mb=duck_all[1]),
            Figure(
                f"flywheel profile, first read (builds), {label}",
                build[0],
                "bare DuckDB + behaviour",
                duck_all[0],
                peak_mb=build[1],
                rows=n,
                target="≤ 1.2x DuckDB, ≤ 1.5 GB" if n >= 25_000_000 else "",
            ),
            Figure(
                f"flywheel profile process, {label}",
                ours[0],
                "bare DuckDB",
                duck[0],
                peak_mb=ours[1],
                rows=n,
                target="≤ 1.2x DuckDB, ≤ 1.5 GB" if n >= 25_000_000 else "",
            ),
        ]
    report("profile: flywheel vs bare DuckDB and Polars over the same Parquet file", figures)


if __name__ == "__main__":
    main()
