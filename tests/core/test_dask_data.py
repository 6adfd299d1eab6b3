"""SQL imports and a large dataset's aggregates on an existing Dask cluster: a LocalCluster of separate worker
processes, started once for this module.

``flywheel ingest --sql`` runs its read, checks and store in a worker and stores what a local run stores; the
``dask.dataframe`` aggregates equal DuckDB's (``aggregates.batch_tables``, ``aggregates.behaviour_table``) on
the demo logs, and the summaries use them from ``FLYWHEEL_DASK_MIN_EVENTS`` events on.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster, get_task_stream

from flywheel_core.cli import _register, cli
from flywheel_core.config import load_settings
from flywheel_core.data import aggregates, distributed
from flywheel_core.data import api as data_api
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import ConfigurationError, ConflictError
from flywheel_core.storage.store import Store


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None, worker_dashboard_address=None
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster.scheduler_address, set_as_default=False) as connected:
        yield connected


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    """A SQLite file with an events table (integer users, ISO times, a rating), as tests/core/test_sql_source.py."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (customer_id INTEGER, occurred_at TEXT, action TEXT, sku TEXT, stars REAL)")
        rows = [
            (u % 7, f"2026-01-{1 + d:02d}T{h:02d}:00:00Z", "rate" if (u + d) % 3 else "skip", f"s{u % 5}", 1 + u % 5)
            for d in range(14)
            for h in range(0, 24, 6)
            for u in range(10)
        ]
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def _worker_pids(client: Client) -> set[int]:
    return set(client.run(os.getpid).values())


def _ingest(env: dict[str, str], *args: str) -> dict[str, Any]:
    _register()
    result = CliRunner().invoke(cli, ["ingest", *args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def _events(store: Store, workspace: str, name: str) -> Any:
    ws = store.get_workspace(name=workspace)
    frame = store.read_events(workspace_id=ws.id, name=name)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_ingest_sql_reads_and_stores_in_a_cluster_worker_what_a_local_run_stores(
    env: dict[str, str], cluster: LocalCluster, client: Client, warehouse: str
) -> None:
    first = "SELECT * FROM events WHERE occurred_at < '2026-01-08'"
    later = "SELECT * FROM events WHERE occurred_at >= '2026-01-08'"
    there = {**env, "FLYWHEEL_DASK_SCHEDULER": cluster.scheduler_address, "FLYWHEEL_WORKSPACE": "Cluster"}
    here = {**env, "FLYWHEEL_WORKSPACE": "Here"}
    store = Store(load_settings(env))
    for name in ("Cluster", "Here"):
        store.create_workspace(name=name, actor="alice")

    with get_task_stream(client) as tasks:
        on_cluster = _ingest(there, "--sql", warehouse, "--query", first, "--dataset", "dw")
    keys = [str(task["key"]) for task in tasks.data]
    assert keys and all(k.startswith("flywheel-sql-import-") and "warehouse" not in k for k in keys)  # no URL
    (worker_pid,) = _worker_pids(client)
    assert on_cluster["ran_on"]["pid"] == worker_pid != os.getpid()  # read, checked and stored in the worker
    assert on_cluster["ran_on"]["host"] == socket.gethostname()
    assert on_cluster["ran_on"]["dask_worker"] in cluster.scheduler_info["workers"]
    appended = _ingest(there, "--sql", warehouse, "--query", later, "--dataset", "dw", "--append")
    assert appended["ran_on"]["pid"] == worker_pid and appended["batch"] == 2 and appended["dataset_rows"] == 560

    local = _ingest(here, "--sql", warehouse, "--query", first, "--dataset", "dw")
    _ingest(here, "--sql", warehouse, "--query", later, "--dataset", "dw", "--append")
    assert "ran_on" not in local
    assert {k: v for k, v in on_cluster.items() if k not in ("ran_on", "seconds")} == {
        k: v for k, v in local.items() if k != "seconds"
    }
    assert on_cluster["rows_stored"] == 280
    rows = {n: store.get_dataset(workspace_id=store.get_workspace(name=n).id, name="dw") for n in ("Cluster", "Here")}
    assert rows["Cluster"].source_name == rows["Here"].source_name  # the URL as redact_url shows it, no more
    assert (rows["Cluster"].rows, rows["Cluster"].users, rows["Cluster"].items) == (560, 7, 5)
    assert _events(store, "Cluster", "dw").equals(_events(store, "Here", "dw"))
    store.engine.dispose()


def test_an_sql_import_a_cluster_cannot_take_fails_clearly_and_stores_nothing(
    env: dict[str, str], cluster: LocalCluster, warehouse: str, tmp_path: Path
) -> None:
    store = Store(load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": cluster.scheduler_address}))
    ws = store.create_workspace(name="Team", actor="alice")
    assert ws.id is not None
    missing = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with pytest.raises(ConfigurationError, match=r"Dask worker tcp://\S+ cannot run Flywheel Studio's SQL imports: "):
        data_api.ingest_sql(
            store, workspace_id=ws.id, url=missing, query="SELECT 1", dataset="dw", actor="alice"
        )  # the worker cannot see the file the query reads: checked there before anything runs
    # the import's progress comes back to the caller's thread as a local import reports it
    query = "SELECT * FROM events"
    seen: list[tuple[float, str, int]] = []

    def note(fraction: float, message: str) -> None:
        seen.append((fraction, message, threading.get_ident()))

    data_api.ingest_sql(
        store, workspace_id=ws.id, url=warehouse, query=query, dataset="dw", actor="alice", progress=note
    )
    there, seen[:] = list(seen), []
    local = Store(load_settings(env))
    here = local.create_workspace(name="Here", actor="alice")
    assert here.id is not None
    data_api.ingest_sql(
        local, workspace_id=here.id, url=warehouse, query=query, dataset="dw", actor="alice", progress=note
    )
    local.engine.dispose()
    assert [(f, m) for f, m, _ in there] == [(f, m) for f, m, _ in seen] and there[-1][:2] == (1.0, "Stored")
    assert {thread for _, _, thread in there} == {threading.get_ident()}
    # the import's own errors come back as they are
    with pytest.raises(ConflictError, match="already imported in this workspace as dataset 'dw'"):
        data_api.ingest_sql(store, workspace_id=ws.id, url=warehouse, query=query, dataset="again", actor="alice")
    store.engine.dispose()

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        store = Store(load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": empty.scheduler_address}))
        with pytest.raises(ConfigurationError, match="has no workers: start some"):
            data_api.ingest_sql(store, workspace_id=ws.id, url=warehouse, query=query, dataset="x", actor="alice")
    # (a scheduler that does not answer: the same `cluster.connect` as jobs, tested in test_dask_jobs.py)
    assert [d.name for d in store.list_datasets(workspace_id=ws.id)] == ["dw"]
    store.engine.dispose()


def _demo_dataset(store: Store, workspace_id: int, archetype: str, n_events: int = 6_000) -> list[Path]:
    """A demo log stored as three batches (three files: the cluster reads three partitions)."""
    frame = make_demo_events(archetype, n_events)
    signals = {e: SignalSpec(*s) for e, s in DEMO_SIGNALS[archetype].items()}
    third = len(frame) // 3
    parts = [frame.iloc[:third], frame.iloc[third : 2 * third], frame.iloc[2 * third :]]
    data_api.store_frame(
        store, workspace_id=workspace_id, frame=parts[0], dataset=archetype, actor="alice", signals=signals
    )
    for part in parts[1:]:
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        data_api.append_file(
            store, workspace_id=workspace_id, source=buffer.getvalue(), dataset=archetype, actor="alice"
        )
    folders = store.aggregate_folders(store.get_dataset(workspace_id=workspace_id, name=archetype))
    assert folders is not None
    return [events for events, _ in folders]


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


def _assert_same_behaviour(found: pa.Table, expected: pa.Table) -> None:
    """Counts and flags exactly, ratios to 1e-9, the same order."""
    assert found.schema.names == expected.schema.names and found.num_rows == expected.num_rows > 0
    left, right = found.to_pandas(), expected.to_pandas()
    for name in left.columns:
        if left[name].dtype.kind == "f":
            assert ((left[name] - right[name]).abs().fillna(0) <= 1e-9).all(), name
            assert (left[name].isna() == right[name].isna()).all(), name
        else:
            assert left[name].tolist() == right[name].tolist(), name


def test_dask_dataframe_aggregates_equal_duckdbs_on_the_demo_logs(env: dict[str, str], cluster: LocalCluster) -> None:
    store = Store(load_settings(env))
    ws = store.create_workspace(name="Demo", actor="alice")
    assert ws.id is not None
    on_cluster = distributed.DaskAggregates(scheduler=cluster.scheduler_address, min_events=1)
    for archetype in ("music", "support"):  # value rules and events of several kinds; a rating scale
        files = _demo_dataset(store, ws.id, archetype)
        rules = SignalDictionary.from_json(
            store.get_dataset(workspace_id=ws.id, name=archetype).signal_dictionary
        ).rules
        with aggregates.connect() as con:
            expected = aggregates.batch_tables(con, files, rules)
        found = distributed.batch_tables(on_cluster, files, rules)
        assert found.wide == expected.wide, archetype
        for name in ("daily", "items", "ratings"):  # ordered as DuckDB orders them
            assert found.named()[name].equals(expected.named()[name]), (archetype, name)
        user_days = found.user_days
        assert isinstance(user_days, pa.Table) and isinstance(expected.user_days, pa.Table)
        assert _sorted(user_days).equals(_sorted(expected.user_days)), archetype  # DuckDB orders it by day only
        assert sum(found.daily.column("events").to_pylist()) == distributed.events_in(files) > 5_000
        _assert_same_behaviour(distributed.behaviour_table(on_cluster, files), aggregates.behaviour_table(files))
    store.engine.dispose()


def test_the_summaries_of_a_dataset_from_the_minimum_size_are_made_on_the_cluster(
    env: dict[str, str], cluster: LocalCluster, client: Client
) -> None:
    settings = {**env, "FLYWHEEL_DASK_SCHEDULER": cluster.scheduler_address, "FLYWHEEL_DASK_MIN_EVENTS": "10000"}
    store = Store(load_settings(settings))
    ws = store.create_workspace(name="Team", actor="alice")
    assert ws.id is not None
    with get_task_stream(client) as small:
        _demo_dataset(store, ws.id, "support", 6_000)  # below the minimum: DuckDB here
        small_profile = data_api.profile(store, workspace_id=ws.id, name="support", actor="alice")
    assert small.data == []
    with get_task_stream(client) as large:
        _demo_dataset(store, ws.id, "music", 12_000)
        profile = data_api.profile(store, workspace_id=ws.id, name="music", actor="alice")
    # A batch's own tables are made by the import from its staged file (before its row commits); the
    # dataset-wide users' behaviour, which reads every batch, is made on the cluster.
    ran = {str(task["key"]) for task in large.data}
    assert any("_behaviour_part" in key for key in ran), sorted(ran)[:5]
    assert {task["worker"] for task in large.data} <= set(cluster.scheduler_info["workers"])

    local = Store(load_settings(env))  # the same instance without a cluster
    here = local.create_workspace(name="Here", actor="alice")
    assert here.id is not None
    _demo_dataset(local, here.id, "music", 12_000)
    assert profile.to_json() == data_api.profile(local, workspace_id=here.id, name="music", actor="alice").to_json()
    assert small_profile.to_json()["events"] > 5_000
    local.engine.dispose()
    store.engine.dispose()


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1e6"])
def test_the_minimum_events_for_the_cluster_is_parsed_strictly(value: str) -> None:
    with pytest.raises(ConfigurationError, match="FLYWHEEL_DASK_MIN_EVENTS must be"):
        load_settings({"FLYWHEEL_DASK_MIN_EVENTS": value})
    assert load_settings({}).dask_min_events == 20_000_000
    assert load_settings({"FLYWHEEL_DASK_MIN_EVENTS": "5000000"}).dask_min_events == 5_000_000


def test_the_aggregates_read_events_files_in_object_storage(env: dict[str, str], cluster: LocalCluster) -> None:
    """The files in a local S3-compatible server (moto's, started here), read by the workers through pyarrow."""
    import pyarrow.fs as pafs
    from moto import server as moto_server

    store = Store(load_settings(env))
    ws = store.create_workspace(name="Demo", actor="alice")
    assert ws.id is not None
    files = _demo_dataset(store, ws.id, "music", 3_000)
    rules = SignalDictionary.from_json(store.get_dataset(workspace_id=ws.id, name="music").signal_dictionary).rules
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            region="us-east-1",
            endpoint_override=f"http://{host}:{port}",
            allow_bucket_creation=True,
        )
        s3.create_dir("flywheel-dask")
        keys = []
        for path in files:
            keys.append(f"flywheel-dask/events/{path.name}")
            with s3.open_output_stream(keys[-1]) as out:
                out.write(path.read_bytes())
        on_cluster = distributed.DaskAggregates(scheduler=cluster.scheduler_address, min_events=1, filesystem=s3)
        assert on_cluster.wanted(keys) and distributed.events_in(keys, s3) == distributed.events_in(files)
        found = distributed.batch_tables(on_cluster, keys, rules)
        behaviour = distributed.behaviour_table(on_cluster, keys)
    finally:
        server.stop()
    with aggregates.connect() as con:
        expected = aggregates.batch_tables(con, files, rules)
    assert found.daily.equals(expected.daily) and found.wide == expected.wide
    assert found.items is not None and expected.items is not None and found.items.equals(expected.items)
    _assert_same_behaviour(behaviour, aggregates.behaviour_table(files))
    store.engine.dispose()
