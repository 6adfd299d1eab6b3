"""Commands for interaction data: ingest, datasets, profile."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from flywheel_core.cli._common import ACTOR, Context, emit, json_option, workspace_option
from flywheel_core.config import load_settings
from flywheel_core.exceptions import DataValidationError


def _pairs(options: tuple[str, ...], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for option in options:
        if "=" not in option:
            raise DataValidationError(f"{flag} {option!r}: expected ROLE=COLUMN, e.g. {flag} user=customer_id.")
        role, column = option.split("=", 1)
        role = role.strip()
        pairs[role] = f"{pairs[role]},{column}" if role == "feature" and role in pairs else column
    return pairs


@click.command("ingest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dataset", required=True, help="Name of the new dataset.")
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="ROLE=COLUMN",
    help="Map a column to a role (user, timestamp, event, item, value, session, model_version, score, "
    "feature). Repeat as needed.",
)
@click.option(
    "--signal",
    "signals",
    multiple=True,
    metavar="EVENT=POLARITY[:WEIGHT][:explicit|implicit]",
    help="Say what an event means as feedback, e.g. save=positive:3:explicit.",
)
@click.option(
    "--skip-invalid", is_flag=True, help="Store the valid rows and report the rest (default: refuse the file)."
)
@workspace_option
@json_option
@click.pass_obj
def ingest_command(
    obj: Context,
    file: Path,
    dataset: str,
    columns: tuple[str, ...],
    signals: tuple[str, ...],
    skip_invalid: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Import an interaction log (CSV, gzip CSV or Parquet) as a dataset, all or nothing."""
    from flywheel_core.data.api import store_import
    from flywheel_core.data.ingest import Limits, prepare_import
    from flywheel_core.data.signals import parse_signal_option

    if not file.exists():
        raise DataValidationError(f"No file at {file}. Check the path.")
    specs = dict(parse_signal_option(option) for option in signals)
    pairs = _pairs(columns, "--column")
    settings = obj.settings or load_settings()
    # The database layer takes longer to import than a million events take to read: open the workspace
    # in a thread while the parser (which releases the interpreter lock) reads and checks the file.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # hand the lock back to the reader quickly between its compute calls
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            opening = pool.submit(obj.workspace, workspace)
            try:
                prepared = prepare_import(
                    file,
                    dataset=dataset,
                    columns=pairs,
                    signals=specs,
                    skip_invalid=skip_invalid,
                    limits=Limits.from_settings(settings),
                    stage_in=settings.data_dir,
                )
            except BaseException:
                opening.result()  # a missing workspace is reported before any problem of the file
                raise
    finally:
        sys.setswitchinterval(interval)
    try:
        ws = opening.result()
    except BaseException:
        prepared.discard()
        raise
    report = store_import(obj.store(), workspace_id=ws.id, prepared=prepared, actor=ACTOR)
    payload = {
        "dataset": report.dataset,
        "rows_read": report.rows_read,
        "rows_stored": report.rows_stored,
        "rows_rejected": report.rows_rejected,
        "rejected_reasons": report.rejected_reasons,
        "warnings": report.warnings,
        "column_map": report.column_map,
        "seconds": round(report.seconds, 3),
    }
    lines = [
        f"Stored {report.rows_stored:,} of {report.rows_read:,} events as dataset '{report.dataset}' "
        f"in {report.seconds:.2f} s."
    ]
    lines += [f"  rejected {count:,}: {reason}" for reason, count in report.rejected_reasons.items()]
    lines += [f"  note: {w}" for w in report.warnings]
    emit(payload, as_json, "\n".join(lines))


@click.command("datasets")
@workspace_option
@json_option
@click.pass_obj
def datasets_command(obj: Context, workspace: str | None, as_json: bool) -> None:
    """List the workspace's datasets."""
    from flywheel_core.data import api as data_api

    ws = obj.workspace(workspace)
    rows = [
        {
            "name": d.name,
            "events": d.rows,
            "users": d.users,
            "items": d.items,
            "first_event": d.first_event,
            "last_event": d.last_event,
            "source": d.source_name,
            "created_by": d.created_by,
            "created_at": d.created_at,
        }
        for d in data_api.list_datasets(obj.store(), workspace_id=ws.id, actor=ACTOR)
    ]
    emit(
        {"workspace": ws.name, "datasets": rows},
        as_json,
        lambda: (
            "\n".join(
                f"{r['name']:<32} {r['events']:>12,} events {r['users']:>9,} users {r['items']:>9,} items" for r in rows
            )
            or f"No datasets in '{ws.name}' yet: `flywheel ingest FILE --dataset NAME`."
        ),
    )


@click.command("profile")
@click.argument("name")
@workspace_option
@json_option
@click.pass_obj
def profile_command(obj: Context, name: str, workspace: str | None, as_json: bool) -> None:
    """Profile a dataset: volumes, signal mix, feedback coverage, stickiness."""
    from flywheel_core.data import api as data_api
    from flywheel_core.data.analytics import profile_events

    ws = obj.workspace(workspace)
    store = obj.store()
    dataset = data_api.get_dataset(store, workspace_id=ws.id, name=name, actor=ACTOR)
    events = data_api.read_analysis_events(store, workspace_id=ws.id, name=name, actor=ACTOR)
    profile = profile_events(events, dataset.signals)
    payload = {"dataset": name, **profile.to_json()}
    emit(payload, as_json, lambda: "\n".join(f"{k:<22} {v}" for k, v in payload.items()))


def register(group: click.Group) -> None:
    for command in (ingest_command, datasets_command, profile_command):
        group.add_command(command)
