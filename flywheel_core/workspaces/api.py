"""Service functions for workspaces and people; pages and the command line call these, not the Store.

Every function takes the store first and is keyword-only after it; workspace-scoped calls take the
``actor`` whose role the store checks (viewer to read, owner to manage members).
"""

from __future__ import annotations

from flywheel_core.config import Settings
from flywheel_core.storage.models import AuditEvent, Membership, Workspace
from flywheel_core.storage.store import Store, WorkspaceSummary

__all__ = [
    "AuditEvent",
    "Membership",
    "Store",
    "Workspace",
    "WorkspaceSummary",
    "authenticate",
    "create_workspace",
    "ensure_workspace",
    "list_audit",
    "list_members",
    "list_workspaces",
    "open_store",
    "role_of",
    "set_member",
    "summarize_workspace",
]


def open_store(settings: Settings, *, enforce_roles: bool) -> Store:
    """Open (and migrate) the instance's database and data folder."""
    return Store(settings, enforce_roles=enforce_roles)


def authenticate(store: Store, *, username: str, password: str) -> str | None:
    """The username when the password matches a built-in account, else None."""
    return store.authenticate(username=username, password=password)


def list_workspaces(store: Store, *, actor: str) -> list[Workspace]:
    """The workspaces ``actor`` may open (every one where roles are not enforced)."""
    return store.list_workspaces(username=actor)


def ensure_workspace(store: Store, *, name: str, actor: str) -> Workspace:
    """The workspace ``name``, created with ``actor`` as its owner when there is none."""
    return store.ensure_workspace(name=name, actor=actor)


def create_workspace(store: Store, *, name: str, actor: str) -> Workspace:
    return store.create_workspace(name=name, actor=actor)


def role_of(store: Store, *, workspace_id: int, actor: str) -> str | None:
    """``actor``'s role in the workspace, or None when they are not a member."""
    return store.role(workspace_id=workspace_id, username=actor)


def summarize_workspace(store: Store, *, workspace_id: int, actor: str) -> WorkspaceSummary:
    return store.summarize(workspace_id=workspace_id, actor=actor)


def list_members(store: Store, *, workspace_id: int, actor: str) -> list[Membership]:
    return store.list_members(workspace_id=workspace_id, actor=actor)


def set_member(store: Store, *, workspace_id: int, username: str, role: str, actor: str) -> Membership:
    return store.set_member(workspace_id=workspace_id, username=username, role=role, actor=actor)


def list_audit(store: Store, *, workspace_id: int, actor: str, limit: int = 200) -> list[AuditEvent]:
    return store.audit(workspace_id=workspace_id, actor=actor, limit=limit)
