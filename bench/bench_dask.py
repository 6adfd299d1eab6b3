"""Whole jobs on a Dask cluster against today's local worker process: a training job, from the page's call to done.

Every job goes through ``start_job``, the function the Train & compare page calls, and is timed until its row says
done (its row polled every 0.25 s; the page polls every 2 s):
- local: no cluster, so a detached ``flywheel job run`` process (its imports included, as in the app);
- cluster: a ``LocalCluster`` of worker processes started beforehand and warmed by one job (an existing cluster:
  its start is not timed), 1 worker x 2 threads and 2 workers x 1 thread;
- the app process's CPU time over the job (handing over, polling, and, for a LocalCluster, its scheduler thread)
  and start_job's own time (the hand-over: a Dask client's connection and the workers' check);
- the resident memory of the processes doing the work (the local job process and its children, or the Dask
  workers, whose memory includes what they hold between jobs), sampled every 0.25 s;
- two jobs started together, local vs the 2-worker cluster;
- a reference: the same job run by ``execute_job`` in this process, already warm (what a job costs without
  starting a process or crossing to a cluster).
Configurations alternate, best of ``BENCH_DASK_REPEAT`` (default 2).

    python bench/run.py dask
    BENCH_DASK_EVENTS=5000000 BENCH_DASK_MODEL=hgb python bench/run.py dask
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Figure, report

N_EVENTS = int(os.environ.get("BENCH_DASK_EVENTS", "1000000"))
MODEL = os.environ.get("BENCH_DASK_MODEL", "logistic")
N_TURNS = int(os.environ.get("BENCH_DASK_TURNS", "5"))
REPEAT = int(os.environ.get("BENCH_DASK_REPEAT", "2"))
Run = tuple[float, float, float, float]  # seconds to done, hand-over seconds, app CPU seconds, workers' peak MB
PARAMS = {"dataset": "music", "task": "feedback", "model": MODEL, "turns": N_TURNS}


def _instance(folder: Path) -> tuple[dict[str, str], int]:
    from flywheel_core.config import load_settings
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.storage.store import Store

    env = {"FLYWHEEL_DATA_DIR": str(folder)}
    store = Store(load_settings(env))
    workspace = store.create_workspace(name="Bench", actor="bench")
    assert workspace.id is not None
    store_frame(
        store,
        workspace_id=workspace.id,
        frame=make_demo_events("music", N_EVENTS, random_state=7),
        dataset="music",
        actor="bench",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()},
        source_name="music.parquet",
    )
    store.engine.dispose()
    return env, workspace.id


def _memory_mb(pids: list[int]) -> float:
    """Resident memory of those processes (each one's own, summed), in MB; a process that has ended counts 0."""
    import psutil

    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total / 2**20


def _job_processes() -> list[int]:
    """The local job processes (``flywheel job run``) this process started, and their own children (loky)."""
    import psutil

    pids = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if "flywheel_core.cli" in " ".join(child.cmdline()):
                pids += [child.pid, *(grandchild.pid for grandchild in child.children(recursive=True))]
    return pids


def _jobs(store: Any, workspace_id: int, n: int, workers: list[int]) -> Run:
    """Start ``n`` training jobs together. Returns seconds until all are done, start_job's seconds, the app's CPU
    seconds, and the peak resident MB of the processes doing the work (``workers``, or the local job processes),
    sampled every 0.25 s."""
    from flywheel_core.jobs import start_job

    cpu, started = time.process_time(), time.perf_counter()
    jobs = [start_job(store, workspace_id=workspace_id, kind="train", params=PARAMS, actor="bench") for _ in range(n)]
    handover = (time.perf_counter() - started) / n
    for job in jobs:
        if job.state == "failed":
            raise RuntimeError(f"job {job.id} failed: {job.error}")
    pending = {job.id for job in jobs}
    peak = 0.0
    while pending:
        time.sleep(0.25)
        pids = workers or _job_processes()
        peak = max(peak, _memory_mb(pids))
        for job_id in list(pending):
            row = store.get_job(workspace_id=workspace_id, job_id=job_id)
            if row.status == "failed":
                raise RuntimeError(f"job {job_id} failed: {row.error}")
            if row.status == "done":
                pending.discard(job_id)
    return time.perf_counter() - started, handover, time.process_time() - cpu, peak


def _here(store: Any, workspace_id: int) -> float:
    """The same job in this process (imports done): ``execute_job`` of a recorded job, in seconds."""
    from flywheel_core.jobs import execute_job, submit_job

    job = submit_job(store, workspace_id=workspace_id, kind="train", params=PARAMS, actor="bench")
    assert job.id is not None
    started = time.perf_counter()
    done = execute_job(store, workspace_id=workspace_id, job_id=job.id)
    if done.status != "done":
        raise RuntimeError(f"job {job.id} failed: {done.error}")
    return time.perf_counter() - started


def main() -> None:
    from distributed import Client, LocalCluster

    from flywheel_core.config import load_settings
    from flywheel_core.experiments import runner  # noqa: F401 - a running app has imported it once
    from flywheel_core.storage.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        env, workspace_id = _instance(Path(tmp) / "data")
        clusters = {
            "1 worker x 2 threads": LocalCluster(
                n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
            ),
            "2 workers x 1 thread": LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
            ),
        }
        try:
            stores = {"local worker process": Store(load_settings(env))}
            workers: dict[str, list[int]] = {"local worker process": []}
            for name, cluster in clusters.items():
                stores[f"cluster, {name}"] = Store(
                    load_settings({**env, "FLYWHEEL_DASK_SCHEDULER": cluster.scheduler_address})
                )
                with Client(cluster.scheduler_address, set_as_default=False) as client:
                    workers[f"cluster, {name}"] = list(client.run(os.getpid).values())
            first = {
                name: _jobs(store, workspace_id, 1, workers[name])
                for name, store in stores.items()
                if "cluster" in name
            }
            best: dict[str, Run] = {}
            here = float("inf")
            for _ in range(REPEAT):
                for name, store in stores.items():
                    run = _jobs(store, workspace_id, 1, workers[name])
                    best[name] = min(best.get(name, run), run)
                here = min(here, _here(stores["local worker process"], workspace_id))
            pair: dict[str, Run] = {}
            for _ in range(REPEAT):
                for name in ("local worker process", "cluster, 2 workers x 1 thread"):
                    run = _jobs(stores[name], workspace_id, 2, workers[name])
                    pair[name] = min(pair.get(name, run), run)
        finally:
            for cluster in clusters.values():
                cluster.close()
    local = best["local worker process"][0]

    def line(name: str, run: Run) -> str:
        ratio = "" if name.startswith("local") else f"   {run[0] / local:4.2f}x local"
        return (
            f"{name:<48} {run[0]:7.2f} s   hand-over {run[1]:5.2f} s   app CPU {run[2]:5.2f} s   "
            f"workers' peak {run[3]:6.0f} MB{ratio}"
        )

    print(f"\n## One training job ({MODEL}, {N_TURNS} turns, {N_EVENTS:,} events), start_job to done, best of {REPEAT}")
    for name, run in best.items():
        print("  " + line(name, run))
    for name, run in first.items():
        print("  " + line(f"{name}, first job (cold worker)", run))
    print(f"  {'reference: the same job in this warm process':<48} {here:7.2f} s")
    report(
        "Two jobs started together",
        [
            Figure(
                "cluster, 2 workers x 1 thread",
                pair["cluster, 2 workers x 1 thread"][0],
                reference="2 local worker processes",
                reference_seconds=pair["local worker process"][0],
                peak_mb=pair["cluster, 2 workers x 1 thread"][3],
            )
        ],
    )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
