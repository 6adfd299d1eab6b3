"""What a failed job tells people: its reason in words, never an exception's class name or a traceback.

A :class:`~flywheel_core.exceptions.FlywheelError` already says what was wrong and what to do, and is kept
whole. Anything else escaping a job's work is a fault of the program, or of the machine it ran on: the
person who started the run reads what happened (where the run stopped, that nothing was stored, what to
try) while the traceback goes to the server log (:func:`log_failure`). One table,
:data:`MACHINE_FAILURES`, turns the machine's own failures (memory, disk, a stopped worker) into
sentences with their remedy.
"""

from __future__ import annotations

import errno
import logging

from flywheel_core.exceptions import FlywheelError

__all__ = ["JOB_LOGGER", "MACHINE_FAILURES", "failure_message", "log_failure"]

JOB_LOGGER = logging.getLogger("flywheel_core.jobs")

_WHAT = {"train": "The training", "experiment": "The experiment"}

# (exception type, errno or None, what happened, what to do); the first match is used.
MACHINE_FAILURES: tuple[tuple[type[BaseException], int | None, str, str], ...] = (
    (
        MemoryError,
        None,
        "ran out of memory",
        "Try fewer turns, the logistic model, or a smaller dataset; or ask whoever runs this instance for more memory.",
    ),
    (
        OSError,
        errno.ENOSPC,
        "could not write: the disk holding the data folder is full",
        "Free some space (delete datasets or model versions you no longer need), then start it again.",
    ),
    (
        KeyboardInterrupt,
        None,
        "was stopped before it finished (its worker process was interrupted)",
        "Start it again.",
    ),
    (
        SystemExit,
        None,
        "was stopped before it finished (its worker process was ended)",
        "Start it again.",
    ),
)


def failure_message(kind: str, error: BaseException, *, job_id: int, stage: str = "") -> str:
    """The sentence a person reads about a job that failed with ``error`` after reaching ``stage`` (its last
    progress message, e.g. "Training turn 3 of 5").

    A FlywheelError's own message is returned whole; other errors never show their type or text.
    """
    if isinstance(error, FlywheelError):
        return str(error)
    what = _WHAT.get(kind, "The run")
    where = f" at '{stage.rstrip('.')}'" if stage and stage not in ("Starting", "Failed") else ""
    for kind_of, code, happened, remedy in MACHINE_FAILURES:
        if isinstance(error, kind_of) and (code is None or getattr(error, "errno", None) == code):
            return f"{what} {happened}{where}; nothing was stored. {remedy}"
    return (
        f"{what} stopped{where} on an unexpected error in Flywheel Studio, not a problem with your data or "
        f"choices; nothing was stored. Try again; if it fails the same way, tell whoever runs this instance: "
        f"the details are in the server log under job {job_id}."
    )


def log_failure(kind: str, error: BaseException, *, job_id: int, workspace_id: int) -> None:
    """Record a job's unexpected error with its traceback in the server log (people read
    :func:`failure_message`)."""
    JOB_LOGGER.error(
        "Job %s (%s, workspace %s) failed on an unexpected error", job_id, kind, workspace_id, exc_info=error
    )
