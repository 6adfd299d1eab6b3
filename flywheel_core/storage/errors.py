"""The storage boundary's one translation table: database and data-folder errors become Flywheel errors here.

In the manner of httpx's ``map_httpcore_exceptions``: :func:`map_exceptions` wraps storage work; an
exception from SQLAlchemy, its driver or the file system is looked up in :data:`STORAGE_ERRORS` by its
class (the most specific class listed wins) and raised again as the Flywheel error it names, with a message
saying what went wrong and what to do, chained to the original (``raise ... from exc``).
:func:`flywheel_core.storage.engine.session_scope` translates through the same table.

A class mapped to ``None`` is not translated: SQL the code itself got wrong is a bug and surfaces as it
is. Exceptions not in the table (including Flywheel errors raised inside the block) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import exc as sa

from flywheel_core.exceptions import (
    ConflictError,
    DataValidationError,
    FlywheelError,
    NotFoundError,
    StorageError,
)

__all__ = ["BUSY_MESSAGE", "STORAGE_ERRORS", "is_busy", "map_exceptions", "translate"]

# class of the third-party error -> (Flywheel error, message; {reason} is the driver's or the system's words)
STORAGE_ERRORS: Mapping[type[BaseException], tuple[type[FlywheelError], str] | None] = {
    sa.IntegrityError: (
        ConflictError,
        "The change clashes with data stored meanwhile ({reason}). Nothing was saved; reload and try again.",
    ),
    sa.DataError: (
        DataValidationError,
        "The database refused a value ({reason}): it is too long or out of range for its field. "
        "Nothing was saved; shorten or correct the value and try again.",
    ),
    sa.OperationalError: (StorageError, "The database failed ({reason}). Nothing was saved; try again."),
    sa.InterfaceError: (
        StorageError,
        "The connection to the database failed ({reason}). Nothing was saved; try again.",
    ),
    sa.DisconnectionError: (
        StorageError,
        "The connection to the database was lost ({reason}). Nothing was saved; try again.",
    ),
    sa.TimeoutError: (
        StorageError,
        "Every database connection is busy ({reason}). Nothing was saved; wait a moment and try again.",
    ),
    # Not translated: SQL the code got wrong (ProgrammingError, InternalError, NotSupportedError) and
    # values the code failed to convert (StatementError) are bugs.
    sa.DBAPIError: None,
    sa.StatementError: None,
    # The data folder (pyarrow's IO errors are OSErrors too).
    OSError: (
        StorageError,
        "The data folder failed ({reason}). Nothing was stored; free some disk space or check the folder's permissions.",
    ),
}

_REASON_CHARS = 300

# Driver words for "another transaction holds the lock and the wait ran out": SQLite's busy timeout, and
# PostgreSQL's lock_timeout / statement_timeout. Said as "busy", not as a failure of the database.
_BUSY_WORDS = ("database is locked", "database table is locked", "lock timeout", "canceling statement due to")
BUSY_MESSAGE = (
    "The database is busy with another change and the wait ran out ({reason}). "
    "Nothing was saved; try again in a moment."
)


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock wait that timed out (another writer held the database), not a failure."""
    if not isinstance(exc, sa.OperationalError):
        return False
    text = _reason(exc).lower()
    return any(word in text for word in _BUSY_WORDS)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror  # not the path: a server's folders are not the user's business
    else:
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc)
    return " ".join(text.split())[:_REASON_CHARS]


def translate(
    exc: BaseException,
    *,
    messages: Mapping[type[FlywheelError], str] | None = None,
    entity: str | None = None,
    name: str | None = None,
) -> FlywheelError | None:
    """The Flywheel error that ``exc`` stands for, or None when :data:`STORAGE_ERRORS` does not translate it.

    Parameters:
        exc: the exception raised by SQLAlchemy, its driver or the file system.
        messages: a message per Flywheel error class, replacing the table's (``{reason}`` may appear).
        entity, name: the subject of the failed write, carried by a ConflictError or NotFoundError.
    """
    for cls in type(exc).__mro__:
        if cls in STORAGE_ERRORS:
            entry = STORAGE_ERRORS[cls]
            break
    else:
        return None
    if entry is None:
        return None
    target, template = entry
    if is_busy(exc):
        template = BUSY_MESSAGE
    # replace, not str.format: a site's message may hold user text with braces in it
    message = (messages or {}).get(target, template).replace("{reason}", _reason(exc))
    if issubclass(target, ConflictError | NotFoundError):
        return target(message, entity=entity, name=name)
    return target(message)


@contextmanager
def map_exceptions(
    *,
    messages: Mapping[type[FlywheelError], str] | None = None,
    entity: str | None = None,
    name: str | None = None,
) -> Iterator[None]:
    """Translate the database and data-folder errors raised inside the block through :data:`STORAGE_ERRORS`.

    ``messages`` lets one call site say more than the table can, e.g.
    ``{ConflictError: "Model version 3 was stored by someone else meanwhile. Train again."}``.

    Raises:
        StorageError: the database or the data folder failed, or could not be reached (nothing was saved).
        ConflictError: the write clashed with data stored meanwhile (a unique or foreign key).
        DataValidationError: the database refused a value (too long, out of range).
    """
    try:
        yield
    except (sa.SQLAlchemyError, OSError) as exc:
        mapped = translate(exc, messages=messages, entity=entity, name=name)
        if mapped is None:
            raise
        raise mapped from exc
