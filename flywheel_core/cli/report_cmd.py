"""`flywheel report`: write the workspace report (self-contained HTML or Markdown) to a file."""

from __future__ import annotations

import re
from pathlib import Path

import click

from flywheel_core.cli._common import ACTOR, Context, emit, json_option, workspace_option


def default_filename(workspace: str, fmt: str) -> str:
    """``flywheel-report-<workspace>.<html|md>``, the workspace name reduced to safe characters."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", workspace).strip("-.") or "workspace"
    return f"flywheel-report-{slug}.{fmt}"


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""

    @group.command("report")
    @workspace_option
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["html", "md"]),
        default="html",
        show_default=True,
        help="html: one self-contained file with interactive charts (opens offline); md: Markdown.",
    )
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        metavar="FILE",
        help="Where to write it (default: flywheel-report-<workspace>.<format> here).",
    )
    @json_option
    @click.pass_obj
    def report(obj: Context, workspace: str | None, fmt: str, output: Path | None, as_json: bool) -> None:
        """Write the workspace report: loop diagnosis, data profile, model versions and the verdict."""
        from flywheel_core.report.api import build_report
        from flywheel_core.report.html import render_html
        from flywheel_core.report.markdown import render_markdown

        ws = obj.workspace(workspace)
        built = build_report(obj.store(), workspace_id=ws.id, actor=ACTOR)
        text = render_html(built) if fmt == "html" else render_markdown(built)
        data = text.encode("utf-8")
        path = output if output is not None else Path(default_filename(ws.name, fmt))
        path.write_bytes(data)  # an OSError becomes a one-line message and exit 2 in main()
        payload = {
            "workspace": ws.name,
            "format": fmt,
            "path": str(path.resolve()),
            "bytes": len(data),
            "sections": built.sections,
        }
        emit(
            payload,
            as_json,
            lambda: (
                f"Wrote the {fmt.upper()} report of '{ws.name}' to {path} ({len(data):,} bytes): "
                + ", ".join(built.sections)
                + "."
            ),
        )
