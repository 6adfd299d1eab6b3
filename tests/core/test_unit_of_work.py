"""One unit of work per store call: reads are role-checked too, and reads never wait behind a writer."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from flywheel_core.data import api as data_api
from flywheel_core.exceptions import NotFoundError, PermissionDeniedError
from flywheel_core.storage.store import Store
from flywheel_core.workspaces import api as workspaces_api
from tests.conftest import PG_URL


def test_reads_are_role_checked_and_fail_closed_without_an_actor(settings, workspace_id: int) -> None:
    store = Store(settings, enforce_roles=True)
    store.set_member(workspace_id=workspace_id, username="victor", role="viewer", actor="alice")
    assert data_api.list_datasets(store, workspace_id=workspace_id, actor="victor") == []
    with pytest.raises(NotFoundError):  # not a member: the workspace does not exist for them
        data_api.list_datasets(store, workspace_id=workspace_id, actor="mallory")
    with pytest.raises(NotFoundError):
        workspaces_api.list_audit(store, workspace_id=workspace_id, actor="mallory")
    with pytest.raises(NotFoundError):
        store.summarize(workspace_id=workspace_id, actor="mallory")
    with pytest.raises(PermissionDeniedError, match="Sign in"):  # an enforced store never answers anonymously
        store.list_datasets(workspace_id=workspace_id)
    with pytest.raises(PermissionDeniedError, match="Sign in"):
        store.list_workspaces()


def test_summary_counts_everything_in_one_read(store: Store, workspace_id: int) -> None:
    store.save_loop(workspace_id=workspace_id, name="A", content={}, actor="alice", base_version=None)
    store.save_loop(workspace_id=workspace_id, name="B", content={}, actor="alice", base_version=None)
    other = store.create_workspace(name="Team B", actor="bob")
    assert other.id is not None
    store.save_loop(workspace_id=other.id, name="C", content={}, actor="bob", base_version=None)
    summary = store.summarize(workspace_id=workspace_id)
    assert (summary.workspace, summary.loops, summary.datasets, summary.events) == ("Team A", 2, 0, 0)
    with pytest.raises(NotFoundError):
        store.summarize(workspace_id=9_999)


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's write lock: PostgreSQL readers never wait for writers")
def test_a_read_does_not_wait_behind_a_write_on_sqlite(store: Store, workspace_id: int) -> None:
    from flywheel_core.storage.engine import session_scope

    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with session_scope(store.engine) as session:  # a write transaction holding the lock until released
            session.execute(text("UPDATE workspace SET name = name"))
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(10)
        # Were reads to take the write lock, this would wait for the writer, which waits for us.
        assert store.list_datasets(workspace_id=workspace_id) == []
        assert store.summarize(workspace_id=workspace_id).workspace == "Team A"
        assert writer.is_alive() and not release.is_set()  # answered while the write still held its lock
    finally:
        release.set()
        writer.join()


def test_ensure_workspace_reports_a_bad_name_instead_of_not_found(store: Store) -> None:
    from flywheel_core.exceptions import DataValidationError

    with pytest.raises(DataValidationError, match="1 to 80 characters"):
        store.ensure_workspace(name="x" * 81, actor="alice")
    assert store.ensure_workspace(name="Team Z", actor="alice").name == "Team Z"
    assert store.ensure_workspace(name="Team Z", actor="bob").name == "Team Z"  # the existing one
