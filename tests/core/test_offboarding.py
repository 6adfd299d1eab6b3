"""Offboarding: remove a member (never the last owner), reset a password, take someone out everywhere."""

from __future__ import annotations

import pytest

from flywheel_core.exceptions import ConflictError, NotFoundError, PermissionDeniedError
from flywheel_core.storage.store import Store
from flywheel_core.workspaces import api as workspaces_api


def test_an_owner_removes_a_member_but_never_the_last_owner(settings, workspace_id: int) -> None:
    store = Store(settings, enforce_roles=True)
    store.set_member(workspace_id=workspace_id, username="bob", role="editor", actor="alice")
    with pytest.raises(PermissionDeniedError, match="needs 'owner'"):
        workspaces_api.remove_member(store, workspace_id=workspace_id, username="alice", actor="bob")
    workspaces_api.remove_member(store, workspace_id=workspace_id, username="bob", actor="alice")
    assert [m.username for m in store.list_members(workspace_id=workspace_id, actor="alice")] == ["alice"]
    with pytest.raises(NotFoundError):  # bob no longer sees the workspace
        store.list_datasets(workspace_id=workspace_id, actor="bob")
    with pytest.raises(ConflictError, match="only owner"):
        workspaces_api.remove_member(store, workspace_id=workspace_id, username="alice", actor="alice")
    assert ("alice", "delete", "membership") in {
        (a.actor, a.action, a.entity) for a in store.audit(workspace_id=workspace_id, actor="alice")
    }


def test_reset_password_and_offboard(store: Store, workspace_id: int) -> None:
    store.add_user(username="carol@x.org", password="first password")
    store.set_member(workspace_id=workspace_id, username="carol@x.org", role="viewer", actor="alice")
    workspaces_api.reset_password(store, username="carol@x.org", password="second password")
    assert store.authenticate(username="carol@x.org", password="second password") == "carol@x.org"
    assert store.authenticate(username="carol@x.org", password="first password") is None
    assert workspaces_api.offboard_user(store, username="carol@x.org", actor="alice") == [workspace_id]
    assert store.authenticate(username="carol@x.org", password="second password") is None
    assert "carol@x.org" not in {m.username for m in store.list_members(workspace_id=workspace_id)}
    with pytest.raises(NotFoundError):
        workspaces_api.offboard_user(store, username="nobody@x.org", actor="alice")
