"""Commands for loop maps: template, check, save, export, list, lint."""

from __future__ import annotations

from pathlib import Path

import click

from flywheel_core.cli._common import ACTOR, Context, emit, json_option, workspace_option
from flywheel_core.exceptions import ConflictError


@click.group("loop")
def loop_group() -> None:
    """Map the loop: templates, diagnosis, versions, export."""


@loop_group.command("template")
@click.argument("name")
@json_option
def template_command(name: str, as_json: bool) -> None:
    """Print the loop map of a seed case (spotify, tesla, duolingo, klarna, harvey, perplexity, netflix, note-taking)."""
    from flywheel_core.loop.model import template_map

    click.echo(template_map(name).to_json_text())  # the map's JSON form is also its readable form


@loop_group.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
def check_command(file: Path, as_json: bool) -> None:
    """Diagnose the loop map in FILE (JSON, or a Markdown brief exported by Flywheel Studio)."""
    from flywheel_core.loop.diagnosis import diagnose
    from flywheel_core.loop.model import read_loop_file

    loop_map = read_loop_file(file)
    diagnosis = diagnose(loop_map)

    def text() -> str:
        lines = [f"{loop_map.name}: {diagnosis.headline}"]
        if diagnosis.weakest:
            lines.append(f"Weakest: {diagnosis.weakest_reason}")
        if diagnosis.cycle_time_hours is not None:
            lines.append(f"Cycle time: {diagnosis.cycle_time_hours:,.2f} h ({diagnosis.velocity_text})")
        lines.append(f"Moat: {diagnosis.moat}")
        lines += [f"Break {b.link}: {b.name}" for b in diagnosis.breaks]
        lines += ["Next steps:"] + [f"  {i}. {s}" for i, s in enumerate(diagnosis.next_steps, start=1)]
        return "\n".join(lines)

    emit({"name": loop_map.name, **diagnosis.to_json()}, as_json, text)


@loop_group.command("save")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--base-version", type=int, default=None, help="The version your edit started from (omit for a new map).")
@click.option("--note", default="", help="A note for the version history.")
@workspace_option
@json_option
@click.pass_obj
def save_command(
    obj: Context, file: Path, base_version: int | None, note: str, workspace: str | None, as_json: bool
) -> None:
    """Save the loop map in FILE as a new version (refused if someone saved since --base-version)."""
    from flywheel_core.loop import api as loop_api
    from flywheel_core.loop.model import read_loop_file

    loop_map = read_loop_file(file)
    ws = obj.workspace(workspace)
    try:
        saved = loop_api.save_loop(
            obj.store(), workspace_id=ws.id, loop_map=loop_map, actor=ACTOR, base_version=base_version, note=note
        )
    except ConflictError as error:
        raise ConflictError(
            f"{error} From the command line: `flywheel loop export '{loop_map.name}'` shows the latest version; "
            "pass --base-version with the version your file started from."
        ) from error
    emit(
        {"workspace": ws.name, "name": loop_map.name, "version": saved.version},
        as_json,
        f"Saved '{loop_map.name}' as version {saved.version} in workspace '{ws.name}'.",
    )


@loop_group.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="json", show_default=True)
@click.option("--version", "version", type=int, default=None, help="Version to export (default: the latest).")
@workspace_option
@click.pass_obj
def export_command(obj: Context, name: str, fmt: str, version: int | None, workspace: str | None) -> None:
    """Print a saved loop map as JSON or as a Markdown brief with its diagnosis."""
    from flywheel_core.loop import api as loop_api
    from flywheel_core.loop.diagnosis import to_markdown

    ws = obj.workspace(workspace)
    saved = loop_api.get_loop_version(obj.store(), workspace_id=ws.id, name=name, version=version, actor=ACTOR)
    loop_map = saved.require_map()
    click.echo(loop_map.to_json_text() if fmt == "json" else to_markdown(loop_map), nl=fmt == "json")


@loop_group.command("list")
@workspace_option
@json_option
@click.pass_obj
def list_command(obj: Context, workspace: str | None, as_json: bool) -> None:
    """List the workspace's loop maps with their latest verdict."""
    from flywheel_core.loop import api as loop_api

    ws = obj.workspace(workspace)
    rows = loop_api.summarize_loops(obj.store(), workspace_id=ws.id, actor=ACTOR)
    emit(
        {"workspace": ws.name, "loops": [r.to_json() for r in rows]},
        as_json,
        lambda: (
            "\n".join(f"{r.name:<44} v{r.version:<3} {r.verdict:<14} moat {r.moat}" for r in rows)
            or f"No loop maps in '{ws.name}' yet: try `flywheel loop template spotify --json > map.json`."
        ),
    )


@loop_group.command("lint")
@click.argument("name")
@click.option("--dataset", required=True, help="The dataset to hold the map's claims against.")
@workspace_option
@json_option
@click.pass_obj
def lint_command(obj: Context, name: str, dataset: str, workspace: str | None, as_json: bool) -> None:
    """Hold a saved map's claims (signals, volumes, coverage) against a dataset."""
    from flywheel_core.loop import api as loop_api

    ws = obj.workspace(workspace)
    store = obj.store()
    loop_map = loop_api.get_loop_version(store, workspace_id=ws.id, name=name, actor=ACTOR).require_map()
    report = loop_api.lint_loop_against_dataset(
        store, workspace_id=ws.id, loop_map=loop_map, dataset=dataset, actor=ACTOR
    )
    emit(
        report.to_json(),
        as_json,
        lambda: "\n".join(
            [f"{name} vs {dataset}: {len(report.problems)} problem(s)"]
            + [f"{'ok ' if f.ok else 'BAD'} {f.subject}: {f.message}" for f in report.findings]
        ),
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""
    group.add_command(loop_group)
