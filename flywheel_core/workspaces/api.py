"""Service functions for workspaces and people; pages and the command line call these, not the Store.

Every function takes the store first and is keyword-only after it; workspace-scoped calls take the
``actor`` whose role the store checks (viewer to read, owner to manage members).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flywheel_core.accounts import SessionStatus
from flywheel_core.config import Settings
from flywheel_core.storage.models import AuditEvent, Membership, UserAccount, Workspace, as_utc
from flywheel_core.storage.store import Store, WorkspaceSummary

__all__ = [
    "AuditEvent",
    "Member",
    "Membership",
    "SessionStatus",
    "Store",
    "UserAccount",
    "WorkspaceRef",
    "WorkspaceSummary",
    "add_user",
    "authenticate",
    "create_workspace",
    "disable_user",
    "enable_user",
    "ensure_workspace",
    "get_workspace",
    "list_audit",
    "list_members",
    "list_people",
    "list_users",
    "list_workspaces",
    "offboard_user",
    "open_store",
    "remove_member",
    "reset_password",
    "resume_session",
    "role_of",
    "set_member",
    "sign_in",
    "sign_in_refusal",
    "sign_out",
    "sign_out_everywhere",
    "summarize_workspace",
]


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace as callers hold it: its id (every scoped call takes it) and its name."""

    id: int
    name: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Workspace) -> WorkspaceRef:
        assert row.id is not None
        created = as_utc(row.created_at)
        assert created is not None
        return cls(row.id, row.name, created)


def open_store(settings: Settings, *, enforce_roles: bool) -> Store:
    """Open (and migrate) the instance's database and data folder."""
    return Store(settings, enforce_roles=enforce_roles)


def authenticate(store: Store, *, username: str, password: str, address: str | None = None) -> str | None:
    """The username when the password matches a built-in account, else None.

    Raises:
        PermissionDeniedError: too many failed sign-ins for the account or the address; says when to retry.
    """
    return store.authenticate(username=username, password=password, address=address)


def list_workspaces(store: Store, *, actor: str) -> list[WorkspaceRef]:
    """The workspaces ``actor`` may open (every one where roles are not enforced)."""
    return [WorkspaceRef.from_row(w) for w in store.list_workspaces(username=actor)]


def get_workspace(store: Store, *, name: str, actor: str | None = None) -> WorkspaceRef:
    """The workspace named ``name``; where roles are enforced, only when ``actor`` is a member."""
    return WorkspaceRef.from_row(store.get_workspace(name=name, username=actor))


def ensure_workspace(store: Store, *, name: str, actor: str) -> WorkspaceRef:
    """The workspace ``name``, created with ``actor`` as its owner when there is none."""
    return WorkspaceRef.from_row(store.ensure_workspace(name=name, actor=actor))


def create_workspace(store: Store, *, name: str, actor: str) -> WorkspaceRef:
    return WorkspaceRef.from_row(store.create_workspace(name=name, actor=actor))


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


def add_user(store: Store, *, username: str, password: str | None, display_name: str = "") -> UserAccount:
    """Create a built-in account (argon2 hash), or with ``password=None`` an SSO-only one."""
    return store.add_user(username=username, password=password, display_name=display_name)


def list_users(store: Store) -> list[UserAccount]:
    return store.list_users()


def remove_member(store: Store, *, workspace_id: int, username: str, actor: str) -> None:
    """Take ``username`` out of the workspace (owners only; never the last owner)."""
    store.remove_member(workspace_id=workspace_id, username=username, actor=actor)


def reset_password(store: Store, *, username: str, password: str) -> UserAccount:
    """Set a built-in account's new password (checked against the password rules)."""
    return store.reset_password(username=username, password=password)


def offboard_user(store: Store, *, username: str, actor: str) -> list[int]:
    """Remove a person from every workspace and clear their password."""
    return store.offboard_user(username=username, actor=actor)


# --- sign-in sessions, sign-out everywhere, disabled accounts ------------------------------------------


def sign_in(store: Store, *, username: str, password: str, address: str | None = None) -> str | None:
    """Check a built-in account's password and start a server-side session for it.

    Returns:
        The signed cookie value naming the new session, or None for an unknown user or a wrong password.

    Raises:
        PermissionDeniedError: too many failed sign-ins (says when to try again), or the account is disabled.
    """
    found = store.authenticate(username=username, password=password, address=address)
    return None if found is None else store.start_session(username=found)


def resume_session(store: Store, *, cookie: str | None) -> SessionStatus:
    """The user a session cookie signs in on this request, or why it no longer does (expired, signed out,
    disabled, unknown). Called on every rerun, so a revoked or disabled session stops at the next one."""
    return store.resume_session(cookie=cookie)


def sign_out(store: Store, *, cookie: str | None) -> None:
    """End this browser's session on the server (a copy of its cookie opens nothing afterwards)."""
    store.end_session(cookie=cookie)


def sign_out_everywhere(store: Store, *, username: str) -> int:
    """End every session of ``username`` (every browser, every tab); returns how many ended."""
    return store.revoke_sessions(username=username)


def disable_user(store: Store, *, username: str, actor: str) -> UserAccount:
    """Stop ``username`` signing in (memberships are kept) and end their sessions.

    Raises:
        PermissionDeniedError: a signed-in owner asked for someone who is also in a workspace they do not
            own, or for themself.
        NotFoundError: no account or membership has that name.
    """
    return store.set_disabled(username=username, disabled=True, actor=actor)


def enable_user(store: Store, *, username: str, actor: str) -> UserAccount:
    """Let a disabled ``username`` sign in again (same rules as :func:`disable_user`)."""
    return store.set_disabled(username=username, disabled=False, actor=actor)


def sign_in_refusal(store: Store, *, username: str) -> str | None:
    """Why an identity (an OIDC e-mail) may not use the app now, or None: checked on every rerun."""
    return SessionStatus(None, "disabled").message if store.is_disabled(username=username) else None


@dataclass(frozen=True)
class Member:
    """A workspace member as the Workspace page lists them: their role and whether they can sign in."""

    username: str
    role: str
    since: datetime
    disabled: bool


def list_people(store: Store, *, workspace_id: int, actor: str) -> list[Member]:
    """The workspace's members with their roles and whether their account is disabled."""
    members = store.list_members(workspace_id=workspace_id, actor=actor)
    disabled = store.disabled_among(usernames=[m.username for m in members])
    return [Member(m.username, m.role, as_utc(m.created_at) or m.created_at, m.username in disabled) for m in members]
