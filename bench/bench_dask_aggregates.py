"""A dataset's aggregates with dask.dataframe on a cluster (flywheel_core/data/distributed.py) against DuckDB here.

One demo log (``BENCH_DASK_AGG_EVENTS``, default 1M, one batch) is stored once; then, alternating, median of
``BENCH_DASK_AGG_REPEAT`` (default 3):
- here: ``aggregates.batch_tables`` (DuckDB) and ``aggregates.behaviour_table``, the path without a cluster;
- cluster: ``distributed.batch_tables`` and ``distributed.behaviour_table`` on a ``LocalCluster`` of 1 worker
  process x 2 threads, started and warmed beforehand (an existing cluster: its start is not timed);
- references: a bare DuckDB query of the events per (day, event) over the file, and the same with a bare
  ``dask.dataframe.read_parquet(...).groupby(...).size()`` on the same cluster.
The results are checked equal once. On a 2-core machine a cluster adds no cores: this measures its overhead.

    python bench/run.py dask_aggregates
    BENCH_DASK_AGG_EVENTS=5000000 python bench/run.py dask_aggregates
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

N_EVENTS = int(os.environ.get("BENCH_DASK_AGG_EVENTS", "1000000"))
REPEAT = int(os.environ.get("BENCH_DASK_AGG_REPEAT", "3"))


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def main() -> None:
    from distributed import Client, LocalCluster

    from flywheel_core.config import load_settings
    from flywheel_core.data import aggregates, distributed
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalDictionary, SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.storage.store import Store

    print(f"\n## dask.dataframe aggregates vs DuckDB, {N_EVENTS:,} events (load {_load()})")
    folder = tempfile.mkdtemp(prefix="flywheel-bench-dask-agg-")
    store = Store(load_settings({"FLYWHEEL_DATA_DIR": folder}))
    ws = store.create_workspace(name="Bench", actor="bench")
    assert ws.id is not None
    signals = {e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()}
    frame = make_demo_events("music", N_EVENTS)
    store_frame(store, workspace_id=ws.id, frame=frame, dataset="music", actor="bench", signals=signals)
    del frame
    row = store.get_dataset(workspace_id=ws.id, name="music")
    folders = store.aggregate_folders(row)
    assert folders is not None
    files = [events for events, _ in folders]
    rules = SignalDictionary.from_json(row.signal_dictionary).rules

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None, worker_dashboard_address=None
        ) as cluster,
        Client(cluster.scheduler_address, set_as_default=False) as client,
    ):
        on_cluster = distributed.DaskAggregates(scheduler=cluster.scheduler_address, min_events=1)

        def here() -> object:
            with aggregates.connect() as con:
                tables = aggregates.batch_tables(con, files, rules)
            return tables, aggregates.behaviour_table(files)

        def there() -> object:
            return distributed.batch_tables(on_cluster, files, rules), distributed.behaviour_table(on_cluster, files)

        def bare_duckdb() -> object:
            import duckdb

            paths = ", ".join(f"'{p}'" for p in files)
            return duckdb.sql(
                f"SELECT epoch_us(timestamp) // {aggregates.DAY_US} AS day, event, count(*) FROM "
                f"read_parquet([{paths}]) GROUP BY ALL"
            ).fetchall()

        def bare_dask() -> object:
            import dask.dataframe as dd

            events = dd.read_parquet([str(p) for p in files], columns=["event", "timestamp"])
            events = events.assign(day=events["timestamp"].dt.floor("D"))
            return client.compute(events.groupby(["day", "event"], observed=True).size()).result()

        (local_tables, local_behaviour), (dask_tables, dask_behaviour) = here(), there()  # warm both; check once
        assert dask_tables.daily.equals(local_tables.daily) and dask_tables.wide == local_tables.wide
        assert dask_behaviour.num_rows == local_behaviour.num_rows
        bare_dask()
        runs: dict[str, list[float]] = {"here": [], "cluster": [], "bare DuckDB": [], "bare dask": []}
        work: dict[str, Callable[[], object]] = {
            "here": here,
            "cluster": there,
            "bare DuckDB": bare_duckdb,
            "bare dask": bare_dask,
        }
        for _ in range(REPEAT):
            for name, function in work.items():
                started = time.perf_counter()
                function()
                runs[name].append(time.perf_counter() - started)
        medians = {name: statistics.median(times) for name, times in runs.items()}
        for name, seconds in medians.items():
            spread = f"{min(runs[name]):.2f}-{max(runs[name]):.2f}"
            print(f"  {name:<12} {seconds:7.2f} s median ({spread}, {REPEAT} runs)")
        print(
            f"  cluster / here {medians['cluster'] / medians['here']:.2f}x; "
            f"bare dask / bare DuckDB {medians['bare dask'] / medians['bare DuckDB']:.2f}x (load {_load()})"
        )
    store.engine.dispose()


if __name__ == "__main__":
    main()
