"""Background runs: a training or experiment run is a job that outlives the page that started it.

The page (or the command line) records a ``Job`` row and launches a detached worker process,
``flywheel job run ID --workspace-id W``, which does the work and reports progress in the row; the page
polls the row. The worker runs in its own session, so navigating away, reloading or another user's run
never stops or blocks it. A worker that fails marks its job failed with the message.

With an existing Dask cluster configured (``FLYWHEEL_DASK_SCHEDULER``), the job goes to the cluster
instead (:mod:`flywheel_core.cluster`): a Dask worker opens the store from the app's settings and runs the
same :func:`execute_job`; the app process only records the row and hands it over. Every job row records
where it ran (``result["ran_on"]``: host, process id and the Dask worker, if any).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flywheel_core.exceptions import DataValidationError, FlywheelError
from flywheel_core.params import MIN_NEGATIVES, MIN_POSITIVES

if TYPE_CHECKING:
    from flywheel_core.config import Settings
    from flywheel_core.learning.preconditions import Preconditions
    from flywheel_core.storage.models import Job
    from flywheel_core.storage.store import Store

__all__ = [
    "JOB_KINDS",
    "STALLED_AFTER_SECONDS",
    "JobInfo",
    "check_job",
    "execute_job",
    "job_state",
    "list_jobs",
    "run_job_on_worker",
    "start_job",
    "submit_job",
]

JOB_KINDS = ("train", "experiment")
STALLED_AFTER_SECONDS = 900.0  # a worker reports at least every turn; silence this long means it died


def job_state(job: Any, *, now: datetime | None = None) -> str:
    """The job's status for people: ``stalled`` when a queued or running job has not reported for
    :data:`STALLED_AFTER_SECONDS` (its worker was killed, e.g. by a restart of the machine)."""
    from flywheel_core.storage.models import as_utc

    if job.status not in ("queued", "running"):
        return str(job.status)
    updated = as_utc(job.updated_at)
    current = now or datetime.now(UTC)
    if updated is not None and (current - updated).total_seconds() > STALLED_AFTER_SECONDS:
        return "stalled"
    return str(job.status)


@dataclass(frozen=True)
class JobInfo:
    """A run as people follow it: what it runs on, its state (``stalled`` when its worker went silent),
    progress, the last message and, when it failed, why."""

    id: int
    kind: str
    dataset: str
    state: str  # queued | running | done | failed | stalled
    progress: float
    message: str
    error: str
    created_by: str
    created_at: datetime
    made: str = ""  # what a finished run made, for people: "versions 7–11", "experiment: capture"
    task: str = ""  # a training's task (feedback | recommend), an experiment's kind
    versions: tuple[int, ...] = ()  # the model versions a finished training made (the registry's numbers)

    @property
    def status(self) -> str:
        return self.state

    @classmethod
    def from_row(cls, job: Any, *, now: datetime | None = None) -> JobInfo:
        from flywheel_core.storage.models import as_utc

        return cls(
            id=int(job.id),
            kind=str(job.kind),
            dataset=str((job.params or {}).get("dataset", "")),
            state=job_state(job, now=now),
            progress=min(max(float(job.progress), 0.0), 1.0),
            message=str(job.message or ""),
            error=str(job.error or ""),
            created_by=str(job.created_by),
            created_at=as_utc(job.created_at) or job.created_at,
            made=_made(job),
            task=str((job.params or {}).get("task" if job.kind == "train" else "kind", "")),
            versions=_made_versions(job),
        )


def _made_versions(job: Any) -> tuple[int, ...]:
    if job.status != "done":
        return ()
    rows = (job.result or {}).get("versions", [])
    return tuple(int(v["version"]) for v in rows if isinstance(v, dict) and "version" in v)


def _made(job: Any) -> str:
    result = job.result or {}
    if job.status != "done":
        return ""
    numbers = list(_made_versions(job))
    if numbers:
        return f"version {numbers[0]}" if len(numbers) == 1 else f"versions {min(numbers)}–{max(numbers)}"
    if job.kind == "experiment":
        return f"experiment: {result.get('kind') or (job.params or {}).get('kind', '')}".rstrip(": ")
    return "nothing new"


def list_jobs(store: Store, *, workspace_id: int, actor: str, limit: int = 50) -> list[JobInfo]:
    """The workspace's most recent training and experiment runs, newest first."""
    return [JobInfo.from_row(j) for j in store.list_jobs(workspace_id=workspace_id, limit=limit, actor=actor)]


def submit_job(store: Store, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Job:
    """Check the parameters and record a queued job (nothing runs yet)."""
    from flywheel_core.experiments.runner import EXPERIMENTS

    if kind not in JOB_KINDS:
        raise DataValidationError(f"Unknown job kind '{kind}'. Choose one of: {', '.join(JOB_KINDS)}.")
    if not params.get("dataset"):
        raise DataValidationError("Pick a dataset to run on.")
    if kind == "experiment" and params.get("kind") not in EXPERIMENTS:
        raise DataValidationError(
            f"Unknown experiment '{params.get('kind')}'. Choose one of: {', '.join(EXPERIMENTS)}."
        )
    store.get_dataset(workspace_id=workspace_id, name=params["dataset"], actor=actor)  # NotFoundError early
    check_job(store, workspace_id=workspace_id, kind=kind, params=params, actor=actor).raise_if_any()
    return store.create_job(workspace_id=workspace_id, kind=kind, params=params, actor=actor)


def check_job(store: Store, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Preconditions:
    """What stops a training or experiment job from working on its dataset, found before it is queued:
    :func:`flywheel_core.learning.api.check_training` or :func:`flywheel_core.experiments.api.check_experiment`
    on the job's parameters (every problem a sentence). :func:`submit_job` refuses a job with any.
    """
    if kind == "train":
        from flywheel_core.learning.api import check_training

        return check_training(
            store,
            workspace_id=workspace_id,
            dataset_name=params["dataset"],
            actor=actor,
            task=params.get("task", "feedback"),
            model=params.get("model"),
            n_turns=int(params.get("turns", 5)),
            by=params.get("by", "time"),
        )
    from flywheel_core.experiments.api import check_experiment

    options = dict(params.get("options") or {})
    return check_experiment(
        store, workspace_id=workspace_id, dataset_name=params["dataset"], kind=params["kind"], actor=actor, **options
    )


def start_job(store: Store, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> JobInfo:
    """Record a job and launch its detached worker process; returns the job as it stands.

    With ``FLYWHEEL_JOBS_INLINE=1`` (tests, single-user scripts) the job runs in this process instead,
    through the same :func:`execute_job`. With a Dask scheduler configured it is handed to that cluster;
    a cluster that cannot take it (unreachable, no workers, workers that cannot see the database or the
    data folder) leaves the job failed with the reason, returned at once.
    """
    job = submit_job(store, workspace_id=workspace_id, kind=kind, params=params, actor=actor)
    assert job.id is not None
    if os.environ.get("FLYWHEEL_JOBS_INLINE") == "1":
        return JobInfo.from_row(execute_job(store, workspace_id=workspace_id, job_id=job.id, actor=actor))
    if store.settings.dask_scheduler:
        return _start_on_cluster(store, workspace_id=workspace_id, job_id=job.id, actor=actor)
    # the worker's warnings (a library's convergence notes) stay out of the server's log, as before
    env = {**os.environ, "FLYWHEEL_DATA_DIR": store.settings.data_location, "PYTHONWARNINGS": "ignore"}
    if store.settings.object_store:  # the local folder (staging) of an instance whose files live in S3
        env["FLYWHEEL_LOCAL_DIR"] = str(store.settings.data_dir)
    if store.settings.database_url:
        env["FLYWHEEL_DATABASE_URL"] = store.settings.database_url
    worker = subprocess.Popen(
        [sys.executable, "-m", "flywheel_core.cli", "job", "run", str(job.id), "--workspace-id", str(workspace_id)],
        start_new_session=True,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=None,  # a bug's traceback (job_failures.log_failure) reaches the server's log
    )
    # reap the worker when it exits, so a long-running app does not collect zombie processes
    threading.Thread(target=worker.wait, name=f"flywheel-job-{job.id}", daemon=True).start()
    return JobInfo.from_row(job)


def _start_on_cluster(store: Store, *, workspace_id: int, job_id: int, actor: str) -> JobInfo:
    """Hand a recorded job to the Dask cluster; on a cluster that cannot take it, the job fails with why."""
    from dataclasses import replace
    from functools import partial

    from flywheel_core.cluster import submit_detached
    from flywheel_core.exceptions import ConfigurationError

    address = store.settings.dask_scheduler
    # what a worker needs to open the store; the session-signing secret stays with the app
    settings = replace(store.settings, secret_key=None)
    store.update_job(workspace_id=workspace_id, job_id=job_id, message=f"Queued on the Dask cluster at {address}")
    try:
        submit_detached(
            address,
            run_job_on_worker,
            settings,
            workspace_id,
            job_id,
            name=f"flywheel-job-{job_id}",
            probe=partial(_worker_problem, settings, workspace_id, job_id),
        )
    except ConfigurationError as error:
        store.update_job(
            workspace_id=workspace_id, job_id=job_id, status="failed", error=str(error)[:2000], message="Failed"
        )
    return JobInfo.from_row(store.get_job(workspace_id=workspace_id, job_id=job_id, actor=actor))


def run_job_on_worker(settings: Settings, workspace_id: int, job_id: int) -> str:
    """A job's work on a Dask worker: open the store from the app's settings, run :func:`execute_job` there.

    Returns the job's final status (the cluster keeps nothing else: the row holds the result).
    """
    from flywheel_core.storage.store import Store

    store = Store(settings, migrate=False)  # the app that recorded the job has migrated the database
    try:
        return str(execute_job(store, workspace_id=workspace_id, job_id=job_id).status)
    finally:
        store.engine.dispose()


def _worker_problem(settings: Settings, workspace_id: int, job_id: int) -> str:
    """What stops this Dask worker from running the job ("" when nothing): run on every worker before submitting."""
    from flywheel_core.storage.store import Store

    object_store = getattr(settings, "object_store", "")  # data files in S3: the local folder is made on use
    if not object_store and not settings.data_dir.is_dir():
        return f"it cannot see the data folder {settings.data_dir}"
    sqlite_file = settings.database_url.removeprefix("sqlite:///")
    if sqlite_file != settings.database_url and not os.path.isfile(sqlite_file):
        return f"it cannot see the SQLite database {sqlite_file}"
    try:
        store = Store(settings, migrate=False)
        try:
            store.get_job(workspace_id=workspace_id, job_id=job_id)
        finally:
            store.engine.dispose()
    except Exception as error:  # reported to the person starting the job, with the reason
        return f"it cannot read the job from the database ({traceback.format_exception_only(error)[-1].strip()})"
    return ""


def _ran_on() -> dict[str, Any]:
    """Where this process is: host, process id and, inside a Dask task, the worker's address."""
    from flywheel_core.cluster import in_dask_worker

    worker = ""
    if in_dask_worker():
        from distributed import get_worker

        worker = str(get_worker().address)
    return {"host": socket.gethostname(), "pid": os.getpid(), "dask_worker": worker}


def execute_job(store: Store, *, workspace_id: int, job_id: int, actor: str | None = None) -> Job:
    """Do a job's work in this process, reporting progress; returns the finished job row.

    ``actor`` is whoever reads the job where roles are enforced (an inline run in the app); the
    detached worker runs as the instance and passes None.

    A FlywheelError marks the job failed with its message. Any other exception is a bug (or the machine
    failing): the job is marked failed with a sentence saying where it stopped and what to do
    (:func:`flywheel_core.job_failures.failure_message`, never the exception's type or text) and the
    traceback goes to the server log; an interrupt or exit of the process is re-raised after that.
    """
    reader = actor
    job = store.get_job(workspace_id=workspace_id, job_id=job_id, actor=reader)
    params = dict(job.params)
    actor = job.created_by

    stage = ["Starting"]  # the last progress message: where a failed run stopped

    def progress(fraction: float, message: str) -> None:
        stage[0] = message
        store.update_job(
            workspace_id=workspace_id, job_id=job_id, status="running", progress=round(fraction, 3), message=message
        )

    progress(0.01, "Starting")
    ran_on = _ran_on()
    store.update_job(workspace_id=workspace_id, job_id=job_id, result={"ran_on": ran_on})
    try:
        if job.kind == "train":
            from flywheel_core.learning.api import run_training
            from flywheel_core.learning.registry import version_row

            versions = run_training(
                store,
                workspace_id=workspace_id,
                dataset_name=params["dataset"],
                actor=actor,
                task=params.get("task", "feedback"),
                model=params.get("model"),
                n_turns=int(params.get("turns", 5)),
                by=params.get("by", "time"),
                n_jobs=params.get("n_jobs"),
                progress=progress,
                min_positives=int(params.get("min_positives", MIN_POSITIVES.default or 10)),
                min_negatives=int(params.get("min_negatives", MIN_NEGATIVES.default or 10)),
            )
            result: dict[str, Any] = {
                "versions": [version_row(v) | {"created_at": str(v.created_at)} for v in versions],
                "run_id": versions[0].run_id if versions else "",
            }
        elif job.kind == "experiment":
            from flywheel_core.experiments.api import run_experiment

            options = dict(params.get("options") or {})
            experiment = run_experiment(
                store,
                workspace_id=workspace_id,
                dataset_name=params["dataset"],
                kind=params["kind"],
                actor=actor,
                progress=progress,
                **options,
            )
            result = {"experiment_id": experiment.id, **experiment.result}
        else:
            raise DataValidationError(f"Unknown job kind '{job.kind}'.")
    except FlywheelError as error:
        store.update_job(
            workspace_id=workspace_id, job_id=job_id, status="failed", error=str(error)[:2000], message="Failed"
        )
        return store.get_job(workspace_id=workspace_id, job_id=job_id, actor=reader)
    except BaseException as error:
        from flywheel_core.job_failures import failure_message, log_failure

        log_failure(job.kind, error, job_id=job_id, workspace_id=workspace_id)
        store.update_job(
            workspace_id=workspace_id,
            job_id=job_id,
            status="failed",
            error=failure_message(job.kind, error, job_id=job_id, stage=stage[0])[:2000],
            message="Failed",
        )
        if not isinstance(error, Exception):
            raise
        return store.get_job(workspace_id=workspace_id, job_id=job_id, actor=reader)
    result["ran_on"] = ran_on
    store.update_job(
        workspace_id=workspace_id, job_id=job_id, status="done", progress=1.0, message="Done", result=result
    )
    return store.get_job(workspace_id=workspace_id, job_id=job_id, actor=reader)
