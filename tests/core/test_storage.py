"""Storage: migrations, workspace scoping, versioned loop saves, atomic dataset files."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import inspect

from flywheel_core.exceptions import ConflictError, NotFoundError, PermissionDeniedError
from flywheel_core.storage.models import Dataset
from flywheel_core.storage.store import Store


def _dataset(workspace_id: int, name: str, content_hash: str) -> Dataset:
    return Dataset(workspace_id=workspace_id, name=name, content_hash=content_hash, file_path="", rows=1)


def _table() -> pa.Table:
    return pa.table({"user": ["a"], "event": ["click"]})


def test_migrations_create_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "workspace",
        "loopmap",
        "loopversion",
        "dataset",
        "modelversion",
        "experiment",
        "job",
        "membership",
        "useraccount",
        "auditevent",
        "alembic_version",
    } <= tables


def test_migrations_are_idempotent(store: Store, settings) -> None:
    again = Store(settings)  # a second start applies nothing and fails nothing
    assert [w.name for w in again.list_workspaces()] == [w.name for w in store.list_workspaces()]


def test_database_settings_for_concurrent_writers(store: Store) -> None:
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        else:  # the compare-and-swap save relies on READ COMMITTED re-checking the row after a wait
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"


def test_workspace_names_are_unique(store: Store, workspace_id: int) -> None:
    with pytest.raises(ConflictError, match="already exists"):
        store.create_workspace(name="Team A", actor="bob")


def test_loop_save_makes_versions_and_refuses_stale_base(store: Store, workspace_id: int) -> None:
    first = store.save_loop(
        workspace_id=workspace_id, name="Music", content={"name": "Music"}, actor="alice", base_version=None
    )
    second = store.save_loop(
        workspace_id=workspace_id, name="Music", content={"name": "Music", "x": 1}, actor="bob", base_version=1
    )
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(ConflictError, match="saved by someone else"):
        store.save_loop(workspace_id=workspace_id, name="Music", content={"stale": True}, actor="carol", base_version=1)
    versions = store.loop_versions(workspace_id=workspace_id, name="Music")
    assert [(v.version, v.author) for v in versions] == [(1, "alice"), (2, "bob")]
    assert store.get_loop_version(workspace_id=workspace_id, name="Music").content == {"name": "Music", "x": 1}


def test_other_workspace_reads_as_not_found(store: Store, workspace_id: int) -> None:
    other = store.create_workspace(name="Team B", actor="bob").id
    store.save_loop(workspace_id=workspace_id, name="Secret", content={}, actor="alice", base_version=None)
    store.store_dataset(
        workspace_id=workspace_id, table=_table(), dataset=_dataset(workspace_id, "logs", "h1"), actor="alice"
    )
    assert store.list_loops(workspace_id=other) == []
    assert store.list_datasets(workspace_id=other) == []
    with pytest.raises(NotFoundError):
        store.get_loop_version(workspace_id=other, name="Secret")
    with pytest.raises(NotFoundError):
        store.get_dataset(workspace_id=other, name="logs")


def test_dataset_file_and_row_are_stored_together(store: Store, workspace_id: int) -> None:
    stored = store.store_dataset(
        workspace_id=workspace_id, table=_table(), dataset=_dataset(workspace_id, "logs", "abc"), actor="alice"
    )
    assert (store.data_dir / stored.file_path).exists()
    assert store.read_events(workspace_id=workspace_id, name="logs")["event"].tolist() == ["click"]
    with pytest.raises(ConflictError, match="already imported"):
        store.store_dataset(
            workspace_id=workspace_id, table=_table(), dataset=_dataset(workspace_id, "again", "abc"), actor="alice"
        )
    store.delete_dataset(workspace_id=workspace_id, name="logs", actor="alice")
    assert not (store.data_dir / stored.file_path).exists()
    assert store.list_datasets(workspace_id=workspace_id) == []


def test_failed_dataset_commit_leaves_no_file(store: Store, workspace_id: int) -> None:
    store.store_dataset(
        workspace_id=workspace_id, table=_table(), dataset=_dataset(workspace_id, "logs", "one"), actor="alice"
    )
    with pytest.raises(ConflictError, match="already exists"):
        store.store_dataset(
            workspace_id=workspace_id, table=_table(), dataset=_dataset(workspace_id, "logs", "two"), actor="alice"
        )
    files = sorted(p.name for p in (store.data_dir / "workspaces").rglob("*") if p.is_file())
    assert files == ["one.parquet"]


def test_audit_records_who_changed_what(store: Store, workspace_id: int) -> None:
    store.save_loop(workspace_id=workspace_id, name="Music", content={}, actor="alice", base_version=None)
    entries = {(a.actor, a.entity) for a in store.audit(workspace_id=workspace_id)}
    assert ("alice", "loop_version") in entries
    assert ("alice", "workspace") in entries


def test_roles_are_checked_in_the_core(settings, workspace_id: int) -> None:
    store = Store(settings, enforce_roles=True)
    store.set_member(workspace_id=workspace_id, username="victor", role="viewer", actor="alice")
    with pytest.raises(PermissionDeniedError, match="viewer"):
        store.save_loop(workspace_id=workspace_id, name="X", content={}, actor="victor", base_version=None)
    with pytest.raises(NotFoundError):
        store.save_loop(workspace_id=workspace_id, name="X", content={}, actor="stranger", base_version=None)
    assert (
        store.save_loop(workspace_id=workspace_id, name="X", content={}, actor="alice", base_version=None).version == 1
    )


def test_head_revision_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from flywheel_core.storage.engine import _MIGRATIONS, HEAD_REVISION

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]
