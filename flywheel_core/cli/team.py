"""Commands for people: built-in accounts and workspace membership."""

from __future__ import annotations

import sys

import click

from flywheel_core.cli._common import ACTOR, Context, click_type, emit, json_option
from flywheel_core.exceptions import DataValidationError
from flywheel_core.params import ROLE


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise DataValidationError("No password on standard input.")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group("user")
def user_group() -> None:
    """Manage built-in accounts (FLYWHEEL_AUTH=accounts)."""


@user_group.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option("--sso-only", is_flag=True, help="No password: the user signs in through OIDC.")
@click.option("--name", "display_name", default="", help="Display name.")
@json_option
@click.pass_obj
def user_add(
    obj: Context, username: str, password_stdin: bool, sso_only: bool, display_name: str, as_json: bool
) -> None:
    """Create an account. Without --password-stdin or --sso-only, asks for the password twice."""
    password = None if sso_only else _read_password(password_stdin)
    from flywheel_core.workspaces import api as workspaces_api

    user = workspaces_api.add_user(obj.store(), username=username, password=password, display_name=display_name)
    emit({"username": user.username, "password": password is not None}, as_json, f"Created user '{user.username}'.")


@user_group.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (for scripts).")
@json_option
@click.pass_obj
def user_reset_password(obj: Context, username: str, password_stdin: bool, as_json: bool) -> None:
    """Give USERNAME's built-in account a new password."""
    from flywheel_core.workspaces import api as workspaces_api

    user = workspaces_api.reset_password(
        obj.store(), username=username.strip(), password=_read_password(password_stdin)
    )
    emit({"username": user.username, "password": True}, as_json, f"New password set for '{user.username}'.")


@user_group.command("offboard")
@click.argument("username")
@json_option
@click.pass_obj
def user_offboard(obj: Context, username: str, as_json: bool) -> None:
    """Remove USERNAME from every workspace and clear their password (someone leaving the team)."""
    from flywheel_core.workspaces import api as workspaces_api

    left = workspaces_api.offboard_user(obj.store(), username=username.strip(), actor=ACTOR)
    emit(
        {"username": username.strip(), "workspaces_left": len(left)},
        as_json,
        f"'{username.strip()}' left {len(left)} workspace(s) and can no longer sign in with a password.",
    )


@user_group.command("disable")
@click.argument("username")
@json_option
@click.pass_obj
def user_disable(obj: Context, username: str, as_json: bool) -> None:
    """Stop USERNAME signing in (password or OIDC) and end their sessions; memberships are kept."""
    from flywheel_core.workspaces import api as workspaces_api

    user = workspaces_api.disable_user(obj.store(), username=username.strip(), actor=ACTOR)
    emit({"username": user.username, "disabled": True}, as_json,
         f"'{user.username}' is disabled: signed out everywhere and cannot sign in until enabled.")  # fmt: skip


@user_group.command("enable")
@click.argument("username")
@json_option
@click.pass_obj
def user_enable(obj: Context, username: str, as_json: bool) -> None:
    """Let a disabled USERNAME sign in again."""
    from flywheel_core.workspaces import api as workspaces_api

    user = workspaces_api.enable_user(obj.store(), username=username.strip(), actor=ACTOR)
    emit({"username": user.username, "disabled": False}, as_json, f"'{user.username}' can sign in again.")


@user_group.command("sign-out-everywhere")
@click.argument("username")
@json_option
@click.pass_obj
def user_sign_out_everywhere(obj: Context, username: str, as_json: bool) -> None:
    """End every session of USERNAME's built-in account (every browser and tab)."""
    from flywheel_core.workspaces import api as workspaces_api

    ended = workspaces_api.sign_out_everywhere(obj.store(), username=username.strip())
    emit({"username": username.strip(), "sessions_ended": ended}, as_json,
         f"Ended {ended} session(s) of '{username.strip()}'.")  # fmt: skip


@click.command("users")
@json_option
@click.pass_obj
def users_command(obj: Context, as_json: bool) -> None:
    """List accounts."""
    from flywheel_core.storage.models import as_utc
    from flywheel_core.workspaces import api as workspaces_api

    users = [
        {
            "username": u.username,
            "display_name": u.display_name,
            "password": bool(u.password_hash),
            "disabled": u.disabled,
            "created_at": as_utc(u.created_at),
        }
        for u in workspaces_api.list_users(obj.store())
    ]
    emit(
        {"users": users},
        as_json,
        lambda: (
            "\n".join(f"{u['username']}{' (disabled)' if u['disabled'] else ''}" for u in users) or "No accounts yet."
        ),
    )


@click.group("member")
def member_group() -> None:
    """Manage who belongs to a workspace and with which role (owner, editor, viewer)."""


@member_group.command("add")
@click.argument("workspace")
@click.argument("username")
@click.option("--role", type=click_type(ROLE), default=ROLE.default, show_default=True, help=ROLE.help)
@json_option
@click.pass_obj
def member_add(obj: Context, workspace: str, username: str, role: str, as_json: bool) -> None:
    """Give USERNAME a ROLE in WORKSPACE (or change it)."""
    from flywheel_core.workspaces import api as workspaces_api

    store = obj.store()
    ws = workspaces_api.get_workspace(store, name=workspace)
    workspaces_api.set_member(store, workspace_id=ws.id, username=username.strip(), role=role, actor=ACTOR)
    emit(
        {"workspace": ws.name, "username": username.strip(), "role": role},
        as_json,
        f"{username} is now {role} of '{ws.name}'.",
    )


@member_group.command("remove")
@click.argument("workspace")
@click.argument("username")
@json_option
@click.pass_obj
def member_remove(obj: Context, workspace: str, username: str, as_json: bool) -> None:
    """Take USERNAME out of WORKSPACE (never its last owner)."""
    from flywheel_core.workspaces import api as workspaces_api

    store = obj.store()
    ws = workspaces_api.get_workspace(store, name=workspace)
    workspaces_api.remove_member(store, workspace_id=ws.id, username=username.strip(), actor=ACTOR)
    emit({"workspace": ws.name, "username": username.strip(), "removed": True}, as_json,
         f"{username.strip()} is no longer a member of '{ws.name}'.")  # fmt: skip


@click.command("members")
@click.argument("workspace")
@json_option
@click.pass_obj
def members_command(obj: Context, workspace: str, as_json: bool) -> None:
    """List the members of WORKSPACE."""
    from flywheel_core.workspaces import api as workspaces_api

    store = obj.store()
    ws = workspaces_api.get_workspace(store, name=workspace)
    members = workspaces_api.list_members(store, workspace_id=ws.id, actor=ACTOR)
    rows = [{"username": m.username, "role": m.role} for m in members]
    emit(
        {"workspace": ws.name, "members": rows},
        as_json,
        lambda: "\n".join(f"{r['username']:<40} {r['role']}" for r in rows) or "No members.",
    )


def register(group: click.Group) -> None:
    for command in (user_group, users_command, member_group, members_command):
        group.add_command(command)
