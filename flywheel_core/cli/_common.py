"""Shared pieces of the command line: the group, options, the store and output."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flywheel_core.config import Settings, load_settings

if TYPE_CHECKING:
    from flywheel_core.workspaces.api import Store, WorkspaceRef
from flywheel_core.params import Interval, Options, Param

F = TypeVar("F", bound=Callable[..., Any])


def _cli_actor() -> str:
    """Who the command line acts as in the audit: ``cli:<name>``, from FLYWHEEL_ACTOR or the OS user.

    The ``cli:`` prefix cannot occur in a sign-in identity (usernames and verified e-mails have no colon),
    so a workspace the command line creates has no web owner until one is added with `flywheel member add`;
    the name is reduced to the characters a username may hold, so the audit shows no arbitrary text.
    """
    raw = os.environ.get("FLYWHEEL_ACTOR") or os.environ.get("USER") or "local"
    return "cli:" + (re.sub(r"[^A-Za-z0-9._@+-]", "_", raw.strip())[:100] or "local")


ACTOR = _cli_actor()


@dataclass
class Context:
    settings: Settings | None = None
    _store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            from flywheel_core.workspaces.api import open_store

            if self.settings is None:
                self.settings = load_settings()
            self._store = open_store(self.settings, enforce_roles=False)  # the CLI runs as the instance
        return self._store

    def workspace(self, name: str | None) -> WorkspaceRef:
        """The named workspace, or the default one (created on first use)."""
        from flywheel_core.workspaces import api as workspaces_api

        store = self.store()
        if name:
            return workspaces_api.get_workspace(store, name=name)
        return workspaces_api.ensure_workspace(store, name=store.settings.default_workspace, actor=ACTOR)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="flywheel-studio", prog_name="flywheel")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Flywheel Studio: does your data flywheel compound, or plateau?

    Data lives in FLYWHEEL_DATA_DIR (default ./.flywheel); the database is FLYWHEEL_DATABASE_URL
    (default a SQLite file there).
    """
    ctx.obj = Context()


def click_type(param: Param[Any]) -> click.ParamType:
    """The click type of a declared parameter: its choices, or its range (click then refuses a bad value
    with a usage error, exit code 2, before the command runs)."""
    constraint = param.constraints[0]
    if isinstance(constraint, Options):
        return click.Choice(param.options)
    if isinstance(constraint, Interval):
        low_open, high_open = not constraint.low_closed, not constraint.high_closed
        if constraint.kind is int:
            low = None if constraint.low is None else int(constraint.low)
            high = None if constraint.high is None else int(constraint.high)
            return click.IntRange(low, high, min_open=low_open, max_open=high_open)
        return click.FloatRange(constraint.low, constraint.high, min_open=low_open, max_open=high_open)
    raise TypeError(f"Parameter {param.key!r} has no click type")


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(func)


def workspace_option(func: F) -> F:
    return click.option(
        "--workspace",
        "-w",
        "workspace",
        envvar="FLYWHEEL_WORKSPACE",
        default=None,
        metavar="NAME",
        help="Workspace to use (default: FLYWHEEL_WORKSPACE, else the default workspace).",
    )(func)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit(payload: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print ``payload`` as JSON, or ``text`` for people."""
    if as_json:
        click.echo(json.dumps(payload, default=_default, indent=2, allow_nan=False))
    else:
        click.echo(text() if callable(text) else text)
