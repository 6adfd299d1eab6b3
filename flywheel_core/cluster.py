"""The door to an existing Dask cluster (``FLYWHEEL_DASK_SCHEDULER``): connect, check the workers, hand work over.

Whole jobs are handed to the cluster with ``distributed.Client.submit`` and let go (``fire_and_forget``): the
cluster's scheduler queues and places them, a worker runs the same job function a local worker process runs,
and progress goes to the database as always. A SQL import is submitted the same way and waited for
(:func:`run_and_wait`), and the aggregates of a large dataset are ``dask.dataframe`` graphs computed there
(:func:`compute`). Nothing here queues or schedules anything itself.

Dask's errors are translated here, in one place, into :class:`ConfigurationError` messages that say which
scheduler, what went wrong and what to do; a cluster that cannot be reached answers within
:data:`CONNECT_SECONDS`, never a hang.
"""

from __future__ import annotations

import contextlib
import os
import socket
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flywheel_core.exceptions import ConfigurationError

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONNECT_SECONDS",
    "ClusterSubmission",
    "RanOn",
    "compute",
    "computing",
    "connect",
    "in_dask_worker",
    "run_and_wait",
    "submit_detached",
    "task_progress",
]

CONNECT_SECONDS = 5.0  # how long to wait for the scheduler to answer before saying it cannot be reached
UNSET = "or unset FLYWHEEL_DASK_SCHEDULER to run jobs and imports on this machine"
T = TypeVar("T")


@dataclass(frozen=True)
class ClusterSubmission:
    """A job handed to the cluster: the scheduler it went to, its task key there, and how many workers it had."""

    scheduler: str
    key: str
    n_workers: int


@dataclass(frozen=True)
class RanOn:
    """Where a piece of work ran: host, process id and, inside a Dask task, the worker's address ("" if none)."""

    host: str
    pid: int
    dask_worker: str = ""

    @classmethod
    def here(cls) -> RanOn:
        worker = ""
        if in_dask_worker():
            from distributed import get_worker

            worker = str(get_worker().address)
        return cls(host=socket.gethostname(), pid=os.getpid(), dask_worker=worker)

    def describe(self) -> str:
        where = f"Dask worker {self.dask_worker}" if self.dask_worker else "this machine"
        return f"{where} (host {self.host}, process {self.pid})"


def _last_line(error: BaseException) -> str:
    return traceback.format_exception_only(type(error), error)[-1].strip()


@contextlib.contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the scheduler at ``address``, closed on exit.

    Raises:
        ConfigurationError: Dask is not installed, or the scheduler does not answer within CONNECT_SECONDS.
    """
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ConfigurationError(
            f"FLYWHEEL_DASK_SCHEDULER is set but Dask is not installed. Install flywheel-studio[dask], {UNSET}."
        ) from exc
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigurationError(
            f"The Dask scheduler at {address} (FLYWHEEL_DASK_SCHEDULER) cannot be reached: {_last_line(exc)}. "
            f"Start the cluster or correct the address, {UNSET}."
        ) from exc
    try:
        yield client
    finally:
        client.close()


def _checked(client: Client, address: str, probe: Callable[[], str] | None, work: str) -> int:
    """The number of workers, after checking there are some and that ``probe`` finds nothing stopping any."""
    workers = list(client.scheduler_info().get("workers", {}))
    if not workers:
        raise ConfigurationError(
            f"The Dask cluster at {address} (FLYWHEEL_DASK_SCHEDULER) has no workers: start some "
            f"(`dask worker {address}`), {UNSET}."
        )
    if probe is not None:
        try:
            answers: dict[str, str] = client.run(probe)
        except Exception as exc:  # what a worker raised: Flywheel missing there, a failing import, ...
            raise ConfigurationError(
                f"The Dask workers at {address} cannot run Flywheel Studio's {work}: {_last_line(exc)}. "
                f"Install the same flywheel-studio in the workers' environment, {UNSET}."
            ) from exc
        problems = {worker: problem for worker, problem in answers.items() if problem}
        if problems:
            worker, problem = sorted(problems.items())[0]
            others = f" (and {len(problems) - 1} more workers)" if len(problems) > 1 else ""
            raise ConfigurationError(
                f"Dask worker {worker}{others} cannot run Flywheel Studio's {work}: {problem}. Every worker needs "
                f"the app's database and data folder (PostgreSQL and a shared folder), {UNSET}."
            )
    return len(workers)


def submit_detached(
    address: str, function: Callable[..., Any], *args: Any, name: str, probe: Callable[[], str] | None = None
) -> ClusterSubmission:
    """Run ``function(*args)`` on the cluster and let go: it runs to its end even after this process has gone.

    ``probe`` (optional) is first run on every worker; it returns ``""`` when that worker can do the work,
    else what stops it (a missing data folder, a database it cannot open), and nothing is submitted.

    Raises:
        ConfigurationError: the scheduler cannot be reached, has no workers, or a worker cannot run the job
        (Flywheel Studio not installed there, or the probe's problem).
    """
    from distributed import fire_and_forget

    with connect(address) as client:
        n_workers = _checked(client, address, probe, "jobs")
        key = f"{name}-{uuid.uuid4().hex[:12]}"  # unique: two instances on one cluster may both have a job 1
        fire_and_forget(client.submit(function, *args, key=key, pure=False))
    return ClusterSubmission(scheduler=address, key=key, n_workers=n_workers)


def _lost(address: str, work: str, error: BaseException) -> ConfigurationError:
    return ConfigurationError(
        f"The Dask cluster at {address} lost the {work} before it finished ({_last_line(error)}): a worker died "
        f"or the scheduler went away. Try again once the cluster is healthy, {UNSET}."
    )


def _cluster_failures() -> tuple[type[BaseException], ...]:
    """Dask's own failures of a task (not the task's errors, which are re-raised as they are)."""
    from asyncio import CancelledError

    from distributed.comm import CommClosedError
    from distributed.scheduler import KilledWorker

    return (KilledWorker, CancelledError, CommClosedError)


Progress = Callable[[float, str], None]
POLL_SECONDS = 0.25  # how often the waiting caller hands a task's progress on


def run_and_wait(
    address: str,
    function: Callable[..., T],
    *args: Any,
    name: str,
    work: str,
    probe: Callable[[], str] | None = None,
    progress: Progress | None = None,
) -> T:
    """``function(*args)`` run in a Dask worker, its result (or its error) returned here once it has ended.

    ``args`` travel with the task only: its key is ``name`` and a random suffix, never an argument. If its
    worker dies, Dask's scheduler may start the task again on another (up to its ``allowed-failures``):
    work submitted here must be all or nothing (an import is: a repeat of stored content is refused).
    What the task reports through :func:`task_progress` reaches ``progress``, called in this thread: the
    worker logs it as events of the task's key, which the scheduler keeps (in order, before the task's end)
    and this reads every :data:`POLL_SECONDS` while it waits.

    Raises:
        ConfigurationError: the scheduler cannot be reached, has no workers, a worker cannot do ``work``
        (``probe``), or the cluster lost the task. Whatever ``function`` raises is raised here as it is.
    """
    with connect(address) as client:
        _checked(client, address, probe, work)
        key = f"{name}-{uuid.uuid4().hex[:12]}"
        handed = 0

        def hand_on() -> None:
            nonlocal handed
            if progress is None:
                return
            events = client.get_events(key)
            for _, (fraction, message) in list(events)[handed:]:
                progress(fraction, message)
            handed = len(events)

        future = client.submit(function, *args, key=key, pure=False)
        try:
            while True:
                try:
                    result: T = future.result(timeout=POLL_SECONDS if progress is not None else None)
                    break
                except TimeoutError:
                    hand_on()
        except _cluster_failures() as exc:
            raise _lost(address, work, exc) from exc
        hand_on()  # what was reported last (the scheduler had it before the task's end)
        return result


def task_progress() -> Progress | None:
    """Inside a task of :func:`run_and_wait`: a progress function whose reports reach the waiting caller
    (None outside a Dask task)."""
    if not in_dask_worker():
        return None
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()

    def report(fraction: float, message: str) -> None:
        worker.log_event(str(key), (float(fraction), str(message)))

    return report


@contextlib.contextmanager
def computing(
    address: str, *, work: str, probe: Callable[[], str] | None = None
) -> Iterator[Callable[[Sequence[Any]], list[Any]]]:
    """A function computing Dask ``collections`` (dataframes, delayed values) on the cluster and bringing their
    results here, over one connection, after checking the workers once.

    Raises:
        ConfigurationError: as :func:`run_and_wait` (on entry, or from the function when the cluster loses work).
    """
    with connect(address) as client:
        _checked(client, address, probe, work)

        def run(collections: Sequence[Any]) -> list[Any]:
            futures = client.compute(list(collections))
            try:
                return list(client.gather(futures))
            except _cluster_failures() as exc:
                raise _lost(address, work, exc) from exc

        yield run


def compute(
    address: str, collections: Sequence[Any], *, work: str, probe: Callable[[], str] | None = None
) -> list[Any]:
    """The results of Dask ``collections`` computed on the cluster, brought here (:func:`computing`, once)."""
    with computing(address, work=work, probe=probe) as run:
        return run(collections)


def in_dask_worker() -> bool:
    """Whether this code runs inside a task on a Dask worker (never imports Dask when it is not loaded)."""
    import sys

    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True
