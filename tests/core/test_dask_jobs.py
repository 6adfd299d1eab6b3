"""Whole jobs on an existing Dask cluster: a LocalCluster of separate worker processes, started here.

The jobs go through ``start_job``, the function the Train & compare page calls; the app process (this one)
only records the row, hands it to the cluster and polls it, as the page does.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil
import pytest
from distributed import Client, LocalCluster

from flywheel_core.config import load_settings
from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import ConfigurationError
from flywheel_core.experiments import runner  # noqa: F401 - imported once by a running app, not per job
from flywheel_core.jobs import JobInfo, execute_job, start_job, submit_job
from flywheel_core.learning.registry import load_model
from flywheel_core.learning.turns import build_feedback_task
from flywheel_core.storage.store import Store

TRAIN = {"dataset": "fleet", "task": "feedback", "model": "hgb", "turns": 3, "n_jobs": 2}
EXPERIMENT = {"dataset": "fleet", "kind": "curation", "options": {"repeats": 2}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
    ) as running:
        yield running


@pytest.fixture
def cluster_store(env: dict[str, str], cluster: LocalCluster) -> Iterator[Store]:
    """The app's store, configured as a deployment with FLYWHEEL_DASK_SCHEDULER would be."""
    store = Store(load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": cluster.scheduler_address}))
    yield store
    store.engine.dispose()


def _fleet(store: Store, name: str) -> int:
    workspace = store.create_workspace(name=name, actor="alice")
    assert workspace.id is not None
    store_frame(
        store,
        workspace_id=workspace.id,
        frame=make_demo_events("fleet", 6_000),
        dataset="fleet",
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["fleet"].items()},
        source_name="fleet.parquet",
    )
    return workspace.id


def _worker_pids(cluster: LocalCluster) -> set[int]:
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        return set(client.run(os.getpid).values())


def _wait(store: Store, workspace_id: int, job: JobInfo, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while (row := store.get_job(workspace_id=workspace_id, job_id=job.id)).status not in ("done", "failed"):
        assert time.monotonic() < deadline, f"the job did not finish: {row.status} {row.message}"
        time.sleep(0.25)
    return row


def _versions(store: Store, workspace_id: int) -> list[tuple[Any, ...]]:
    rows = store.list_model_versions(workspace_id=workspace_id)
    return sorted((v.version, v.turn, v.train_rows, v.algorithm, v.metrics, v.drift) for v in rows)


def test_a_training_job_runs_on_a_cluster_worker_while_the_app_idles(
    cluster: LocalCluster, cluster_store: Store
) -> None:
    store = cluster_store
    on_cluster, local = _fleet(store, "On the cluster"), _fleet(store, "Here")
    (worker_pid,) = _worker_pids(cluster)
    worker = psutil.Process(worker_pid)
    worker_before, app_before = sum(worker.cpu_times()[:2]), time.process_time()
    job = start_job(store, workspace_id=on_cluster, kind="train", params=TRAIN, actor="alice")
    assert job.state in ("queued", "running"), job.error
    done = _wait(store, on_cluster, job)  # as the page does: poll the row
    app_cpu = time.process_time() - app_before  # handing the job over, polling, and the scheduler's thread
    worker_cpu = sum(worker.cpu_times()[:2]) - worker_before
    print(f"app process CPU {app_cpu:.2f} s, worker process CPU {worker_cpu:.2f} s")
    assert done.status == "done", done.error
    assert done.progress == 1.0 and [v["turn"] for v in done.result["versions"]] == [1, 2, 3]
    # (a) it ran in the cluster's worker process, not here, and the row says where
    ran_on = done.result["ran_on"]
    assert ran_on["pid"] == worker_pid != os.getpid() and ran_on["host"] == socket.gethostname()
    assert ran_on["dask_worker"] in cluster.scheduler_info["workers"]
    # (b) this process stayed idle: its CPU time while the job ran is small against the worker's
    assert worker_cpu > 1.0 and app_cpu < 0.25 * worker_cpu, (app_cpu, worker_cpu)
    # (c) the registry holds what the same job run here, with the same seed, makes
    here = execute_job(
        store,
        workspace_id=local,
        job_id=submit_job(store, workspace_id=local, kind="train", params=TRAIN, actor="alice").id,
    )
    assert here.status == "done" and here.result["ran_on"]["pid"] == os.getpid()
    assert _versions(store, on_cluster) == _versions(store, local) != []
    # the stored models themselves predict alike (their files differ only by the zip's timestamps)
    rows = make_demo_events("fleet", 6_000)
    task = build_feedback_task(
        rows, SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["fleet"].items()})
    )
    for there, here_version in zip(
        store.list_model_versions(workspace_id=on_cluster), store.list_model_versions(workspace_id=local), strict=True
    ):
        predicted = [load_model(store.read_model_bytes(v)).predict_proba(task.X) for v in (there, here_version)]
        np.testing.assert_array_equal(*predicted)


def test_an_experiment_job_runs_on_the_cluster_with_the_local_result(
    cluster: LocalCluster, cluster_store: Store
) -> None:
    store = cluster_store
    on_cluster, local = _fleet(store, "On the cluster"), _fleet(store, "Here")
    job = start_job(store, workspace_id=on_cluster, kind="experiment", params=EXPERIMENT, actor="alice")
    done = _wait(store, on_cluster, job)
    assert done.status == "done", done.error
    assert done.result["ran_on"]["pid"] in _worker_pids(cluster) - {os.getpid()}
    here = execute_job(
        store,
        workspace_id=local,
        job_id=submit_job(store, workspace_id=local, kind="experiment", params=EXPERIMENT, actor="alice").id,
    )

    def figures(result: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in result.items() if k not in ("experiment_id", "ran_on")}

    assert figures(done.result) == figures(here.result) and figures(done.result)["series"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_cluster_fails_the_job_with_a_clear_message_at_once(env: dict[str, str]) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    store = Store(load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": address}))
    workspace_id = _fleet(store, "Team")
    started = time.monotonic()
    job = start_job(store, workspace_id=workspace_id, kind="train", params=TRAIN, actor="alice")
    waited = time.monotonic() - started
    assert job.state == "failed" and waited < 60
    assert f"The Dask scheduler at {address} (FLYWHEEL_DASK_SCHEDULER) cannot be reached" in job.error
    assert "unset FLYWHEEL_DASK_SCHEDULER" in job.error and "Traceback" not in job.error
    row = store.get_job(workspace_id=workspace_id, job_id=job.id)
    assert row.status == "failed" and row.error == job.error
    assert store.list_model_versions(workspace_id=workspace_id) == []
    store.engine.dispose()


def test_a_cluster_without_workers_fails_the_job_saying_so(env: dict[str, str]) -> None:
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        store = Store(load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": empty.scheduler_address}))
        workspace_id = _fleet(store, "Team")
        job = start_job(store, workspace_id=workspace_id, kind="train", params=TRAIN, actor="alice")
    assert job.state == "failed" and "has no workers: start some" in job.error
    assert store.get_job(workspace_id=workspace_id, job_id=job.id).status == "failed"
    store.engine.dispose()


@pytest.mark.parametrize(
    ("value", "problem"),
    [("http://host:8786", "schemes: tcp"), ("tcp://host", "host and port"), ("scheduler", "host and port")],
)
def test_a_scheduler_address_dask_cannot_use_is_refused_by_name(value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=f"FLYWHEEL_DASK_SCHEDULER must .*{problem}"):
        load_settings({"FLYWHEEL_DASK_SCHEDULER": value})
    assert load_settings({"FLYWHEEL_DASK_SCHEDULER": "10.0.0.5:8786"}).dask_scheduler == "tcp://10.0.0.5:8786"
