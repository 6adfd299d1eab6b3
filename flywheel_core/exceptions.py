"""The errors Flywheel Studio raises for users to read.

Every error a person can cause derives from :class:`FlywheelError`; its message says what was wrong,
where, and what to do. Anything else that escapes is a bug.

    FlywheelError
    ├── ConfigurationError        settings that cannot work (bad database URL, hosted without sign-in)
    ├── DataValidationError       a file, a table or a parameter that cannot be accepted (carries problem items)
    │   └── LimitExceededError    a file, row count or field over the configured limits
    ├── InsufficientDataError     too little data for the computation asked for
    ├── NotFoundError             no such workspace, map, dataset or version *in this workspace* (entity, name)
    ├── ConflictError             a write based on stale state, or a name already taken (entity, name)
    ├── PermissionDeniedError     the signed-in user's role does not allow the action
    └── StorageError              the database or the data folder failed (disk full, connection lost)

    Problem                       one item of a DataValidationError: where (column, row) and what is wrong

Third-party errors become these at the boundary where they arise, through one table per boundary (for
the database and the data folder, :data:`flywheel_core.storage.errors.STORAGE_ERRORS`), always
``raise ... from exc``. A parameter outside its declared bounds or choices is refused by
:func:`flywheel_core.params.check` with one message template.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DataValidationError",
    "FlywheelError",
    "InsufficientDataError",
    "LimitExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "StorageError",
]


class FlywheelError(Exception):
    """Base of every user-facing error; ``str(error)`` is the message to show."""


class ConfigurationError(FlywheelError):
    """The settings cannot work as given."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    problem: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    count: int = 1

    def describe(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = f"{', '.join(where)}: " if where else ""
        example = f" (e.g. {self.value!r})" if self.value is not None else ""
        return f"{prefix}{self.problem}{example}"


class DataValidationError(FlywheelError):
    """An input that cannot be accepted; ``problems`` lists each issue found."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems or [])


class LimitExceededError(DataValidationError):
    """A file, a row count or a single field is over the configured limits."""


class InsufficientDataError(FlywheelError):
    """There is too little data for the computation asked for."""


class _SubjectError(FlywheelError):
    """An error about one stored object: ``entity`` says what kind ("dataset"), ``name`` which one.

    Both are optional and keyword-only, so ``raise NotFoundError("message")`` still works; callers that
    need to know what was missing read the attributes instead of parsing the message.
    """

    def __init__(self, message: str, *, entity: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.entity = entity
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the subject when the error crosses a process boundary (background jobs, joblib workers).
        return (partial(type(self), entity=self.entity, name=self.name), self.args)


class NotFoundError(_SubjectError):
    """No such object in this workspace (objects of other workspaces read as not found too)."""


class ConflictError(_SubjectError):
    """A write based on stale state, or a name or content already present."""


class PermissionDeniedError(FlywheelError):
    """The user's role in the workspace does not allow the action."""


class StorageError(FlywheelError):
    """The database or the data folder failed; nothing was half-written."""
