"""A writer holding SQLite's lock: reads and start-up go on, and a write that waits too long says "busy"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel_core.config import Settings
from flywheel_core.exceptions import StorageError
from flywheel_core.storage import engine as engine_module
from flywheel_core.storage.store import Store
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's file lock; PostgreSQL waits per row")


@pytest.fixture
def held_lock(store: Store, workspace_id: int) -> Iterator[sqlite3.Connection]:
    """Another program holding SQLite's write lock (BEGIN IMMEDIATE, never committed) on the same file."""
    path = store.engine.url.database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.rollback()
    other.close()


def test_a_write_that_waits_out_the_lock_says_busy_and_try_again(
    settings: Settings, workspace_id: int, held_lock: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)  # the real wait is 30 s
    quick = Store(settings)
    try:
        with pytest.raises(StorageError) as caught:
            quick.create_workspace(name="Team B", actor="alice")
        message = str(caught.value)
        assert "busy" in message and "try again" in message
        assert "failed" not in message and "migrate" not in message
        # reads still answer while the lock is held
        assert [w.name for w in quick.list_workspaces(username="alice")] == ["Team A"]
    finally:
        quick.engine.dispose()
    held_lock.rollback()
    assert "Team B" not in [w.name for w in Store(settings).list_workspaces(username="alice")]


def test_start_up_does_not_wait_for_a_writer_when_the_schema_is_current(
    settings: Settings, store: Store, held_lock: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    again = Store(settings)  # opening a store checks the schema: a read, so it must not need the write lock
    try:
        assert [w.name for w in again.list_workspaces(username="alice")] == ["Team A"]
    finally:
        again.engine.dispose()


def test_a_migration_that_waits_out_the_lock_says_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE unrelated (x)")
    other.execute("BEGIN IMMEDIATE")
    try:
        engine = engine_module.make_engine(f"sqlite:///{path}")
        with pytest.raises(StorageError) as caught:
            engine_module.upgrade_database(engine)
        assert "busy" in str(caught.value) and "try again" in str(caught.value)
        assert "Cannot reach" not in str(caught.value)
        engine.dispose()
    finally:
        other.rollback()
        other.close()
