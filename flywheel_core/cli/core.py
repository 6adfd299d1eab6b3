"""Commands for the instance: app, demo, workspaces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from flywheel_core.cli._common import ACTOR, Context, emit, json_option
from flywheel_core.exceptions import ConfigurationError


@click.command("app")
@click.option("--port", default=8501, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.argument("streamlit_args", nargs=-1, type=click.UNPROCESSED)
def app_command(port: int, host: str, streamlit_args: tuple[str, ...]) -> None:
    """Start the Flywheel Studio web app (Streamlit)."""
    from flywheel_core.config import load_settings

    settings = load_settings()  # refuse to start on bad settings (e.g. hosted without sign-in)
    app = Path(__file__).resolve().parents[2] / "app.py"
    if not app.exists():
        raise ConfigurationError(
            f"Cannot find the app at {app}: run from a checkout installed with `pip install -e .`."
        )
    args = [
        sys.executable,
        str(app.parent / "ui" / "serve.py"),  # `streamlit run`, with the pages' modules imported before it listens
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        host,
        # One upload limit: Streamlit's is the core's, so the browser refuses what the import would.
        "--server.maxUploadSize",
        str(settings.max_upload_mb),
        *(["--client.showErrorDetails", "none"] if settings.hosted else []),
        *streamlit_args,
    ]
    os.execv(sys.executable, args)


@click.command("demo")
@click.option("--events", default=30_000, show_default=True, help="Events per demo dataset (1,000 to 5,000,000).")
@json_option
@click.pass_obj
def demo_command(obj: Context, events: int, as_json: bool) -> None:
    """Create or refresh the "Demo" workspace with demo datasets and loop maps (idempotent)."""
    from flywheel_core.demo import load_demo_workspace

    result = load_demo_workspace(obj.store(), actor=ACTOR, n_events=events)
    emit(result.to_json(), as_json, lambda: result.describe())


@click.command("workspaces")
@json_option
@click.pass_obj
def workspaces_command(obj: Context, as_json: bool) -> None:
    """List workspaces with what each holds."""
    from flywheel_core.workspaces import api as workspaces_api

    store = obj.store()
    rows = []
    for workspace in workspaces_api.list_workspaces(store, actor=ACTOR):
        summary = workspaces_api.summarize_workspace(store, workspace_id=workspace.id, actor=ACTOR)
        rows.append(
            {
                "name": workspace.name,
                "loops": summary.loops,
                "datasets": summary.datasets,
                "events": summary.events,
                "model_versions": summary.model_versions,
                "created_at": workspace.created_at,
            }
        )
    emit(
        {"workspaces": rows},
        as_json,
        lambda: (
            "\n".join(
                f"{r['name']:<24} {r['loops']:>3} loops  {r['datasets']:>3} datasets  {r['events']:>12,} events  "
                f"{r['model_versions']:>3} versions"
                for r in rows
            )
            or "No workspaces yet: try `flywheel demo`."
        ),
    )


@click.group("workspace")
def workspace_group() -> None:
    """Manage workspaces."""


@workspace_group.command("create")
@click.argument("name")
@json_option
@click.pass_obj
def workspace_create(obj: Context, name: str, as_json: bool) -> None:
    """Create a workspace named NAME."""
    from flywheel_core.workspaces import api as workspaces_api

    workspace = workspaces_api.create_workspace(obj.store(), name=name, actor=ACTOR)
    emit({"name": workspace.name, "id": workspace.id}, as_json, f"Created workspace '{workspace.name}'.")


def register(group: click.Group) -> None:
    for command in (app_command, demo_command, workspaces_command, workspace_group):
        group.add_command(command)
