"""Engine factory and schema migrations; engines are made from a URL, never at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from flywheel_core.exceptions import ConfigurationError, StorageError
from flywheel_core.storage.errors import BUSY_MESSAGE, is_busy, translate

__all__ = ["make_engine", "session_scope", "upgrade_database"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision id (a test checks it against Alembic's head). When the database is
# already there, start-up skips loading Alembic, which costs ~0.3 s per process.
HEAD_REVISION = "0003"
_WRITE = "flywheel_write"  # execution option: does this transaction write?


def _at_head(engine: Engine) -> bool:
    try:
        # a read: on SQLite it begins deferred, so a long writer elsewhere does not hold up start-up
        with engine.connect().execution_options(**{_WRITE: False}) as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    except SQLAlchemyError:
        return False
    return [r[0] for r in rows] == [HEAD_REVISION]


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, a busy timeout and immediate write transactions.

    Raises:
        ConfigurationError: the URL cannot be parsed or its driver is not installed.
    """
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
            )
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise ConfigurationError(f"Cannot use database URL {url!r}: {exc}") from exc
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling issues deferred BEGINs, which upgrade to writes without
    # honouring busy_timeout; take transaction control and begin IMMEDIATE instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writes take the database's write lock up front (and wait for it under busy_timeout); reads
        # begin deferred, so under WAL they never wait behind a writer.
        write = connection.get_execution_options().get(_WRITE, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error.

    Database errors raised inside the block or by the commit are translated by
    :func:`flywheel_core.storage.errors.translate` (StorageError, ConflictError, DataValidationError).

    ``write=False`` marks a read-only unit: on SQLite it begins deferred instead of IMMEDIATE, so it
    reads the last committed state without waiting for a writer (WAL). It must not write.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        session.connection(execution_options={_WRITE: write})
        yield session
        session.commit()
    except BaseException as exc:
        session.rollback()
        mapped = translate(exc)  # the storage boundary's one table (storage/errors.py)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        session.close()


def upgrade_database(engine: Engine) -> None:
    """Apply every pending Alembic migration (safe to call at every start)."""
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several app processes may start at once: one migrates, the others wait.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7412001)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        if is_busy(exc):
            raise StorageError(BUSY_MESSAGE.replace("{reason}", str(exc.orig))) from exc
        raise StorageError(f"Cannot reach the database to migrate it: {exc.orig}") from exc
    except SQLAlchemyError as exc:  # pragma: no cover - a migration bug
        raise StorageError(f"Migrating the database failed: {exc}") from exc
