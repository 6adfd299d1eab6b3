"""Commands for interaction data: ingest, datasets, profile."""

from __future__ import annotations

import dataclasses
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
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--dataset", required=True, help="Name of the new dataset (with --append: of the existing one).")
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
@click.option(
    "--drop-duplicates",
    is_flag=True,
    help="Leave out rows that repeat an earlier row exactly (the report counts them).",
)
@click.option(
    "--user-from",
    type=click.Choice(["session"]),
    default=None,
    help="A log with no user column: each session (the session column) is a user.",
)
@click.option("--anonymous-user", is_flag=True, help="A log with no user column: one anonymous user for all rows.")
@click.option(
    "--append", is_flag=True, help="Add the events to the existing dataset as a new batch, with its stored mapping."
)
@click.option(
    "--sql",
    "sql_url",
    envvar="FLYWHEEL_SQL_URL",
    metavar="URL",
    default=None,
    help="Read the events from a database instead of FILE (postgresql://..., sqlite:///path.db; "
    "default FLYWHEEL_SQL_URL, which keeps a password out of the shell history). Needs --query.",
)
@click.option("--query", default=None, metavar="SQL", help="With --sql: the SELECT that returns one row per event.")
@workspace_option
@json_option
@click.pass_obj
def ingest_command(
    obj: Context,
    file: Path | None,
    dataset: str,
    columns: tuple[str, ...],
    signals: tuple[str, ...],
    skip_invalid: bool,
    drop_duplicates: bool,
    user_from: str | None,
    anonymous_user: bool,
    append: bool,
    sql_url: str | None,
    query: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Import an interaction log (CSV, gzip CSV or Parquet, or a SQL query's rows) as a dataset, all or nothing.

    With --append the events become a new batch of the existing dataset (a weekly import).
    """
    from flywheel_core.data.api import store_import
    from flywheel_core.data.ingest import Limits, prepare_import
    from flywheel_core.data.signals import parse_signal_option

    if append or query is not None or (sql_url is not None and file is None):
        _ingest_batch_or_query(
            obj, file, dataset, columns, signals, skip_invalid, append, sql_url, query, workspace, as_json
        )
        return
    if file is None:
        raise click.UsageError("Give the FILE to import, or --sql URL --query 'SELECT ...'.")
    if not file.exists():
        raise DataValidationError(f"No file at {file}. Check the path.")
    specs = dict(parse_signal_option(option) for option in signals)
    pairs = _pairs(columns, "--column")
    if anonymous_user and user_from:
        raise click.UsageError("Choose one of --user-from session and --anonymous-user.")
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
                    drop_duplicates=drop_duplicates,
                    user_from="anonymous" if anonymous_user else user_from,
                    limits=Limits.from_settings(settings, by_path=True),
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
        "quality": [w.to_json() for w in report.quality],
        "duplicates_dropped": report.duplicates_dropped,
        "column_map": report.column_map,
        "seconds": round(report.seconds, 3),
    }
    lines = [
        f"Stored {report.rows_stored:,} of {report.rows_read:,} events as dataset '{report.dataset}' "
        f"in {report.seconds:.2f} s."
    ]
    lines += [f"  rejected {count:,}: {reason}" for reason, count in report.rejected_reasons.items()]
    lines += [f"  note: {w}" for w in report.warnings]
    lines += [f"  warning [{w.code}]: {w.message}" for w in report.quality]
    emit(payload, as_json, "\n".join(lines))


def _ingest_batch_or_query(
    obj: Context,
    file: Path | None,
    dataset: str,
    columns: tuple[str, ...],
    signals: tuple[str, ...],
    skip_invalid: bool,
    append: bool,
    sql_url: str | None,
    query: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """`ingest --append` and `ingest --sql URL --query SQL`: a batch of a dataset, or a query's rows."""
    from flywheel_core.data import api as data_api
    from flywheel_core.data.signals import parse_signal_option

    if (file is None) == (query is None):
        raise click.UsageError("Give either FILE or --sql URL --query 'SELECT ...', not both.")
    if query is not None and not sql_url:
        raise click.UsageError("--query needs --sql URL (or FLYWHEEL_SQL_URL), the database to run it on.")
    if append and columns:
        raise click.UsageError("--column cannot be used with --append: a batch is read with the dataset's mapping.")
    if file is not None and not file.exists():
        raise DataValidationError(f"No file at {file}. Check the path.")
    specs = dict(parse_signal_option(option) for option in signals)
    ws = obj.workspace(workspace)
    store = obj.store()
    if not append:
        assert sql_url is not None and query is not None
        report = data_api.ingest_sql(
            store,
            workspace_id=ws.id,
            url=sql_url,
            query=query,
            dataset=dataset,
            actor=ACTOR,
            columns=_pairs(columns, "--column"),
            signals=specs,
            skip_invalid=skip_invalid,
        )
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
        text = [
            f"Stored {report.rows_stored:,} of {report.rows_read:,} rows of the query as dataset '{report.dataset}' in {report.seconds:.2f} s."
        ]
    else:
        if file is not None:
            result = data_api.append_file(
                store,
                workspace_id=ws.id,
                source=file,
                dataset=dataset,
                actor=ACTOR,
                signals=specs,
                skip_invalid=skip_invalid,
            )
        else:
            assert sql_url is not None and query is not None
            result = data_api.append_sql(
                store,
                workspace_id=ws.id,
                url=sql_url,
                query=query,
                dataset=dataset,
                actor=ACTOR,
                signals=specs,
                skip_invalid=skip_invalid,
            )
        report, info = result.report, result.dataset
        payload = {
            "dataset": info.name,
            "batch": result.batch,
            "rows_read": report.rows_read,
            "rows_stored": report.rows_stored,
            "rows_rejected": report.rows_rejected,
            "rejected_reasons": report.rejected_reasons,
            "overlapping_rows": result.overlapping_rows,
            "warnings": report.warnings,
            "dataset_rows": info.rows,
            "first_event": info.first_event,
            "last_event": info.last_event,
            "seconds": round(report.seconds, 3),
        }
        span = (
            f"{info.first_event:%Y-%m-%d} to {info.last_event:%Y-%m-%d}" if info.first_event and info.last_event else ""
        )
        text = [
            f"Appended {report.rows_stored:,} of {report.rows_read:,} events to dataset '{info.name}' as batch "
            f"{result.batch} in {report.seconds:.2f} s; it now holds {info.rows:,} events ({span})."
        ]
    text += [f"  rejected {count:,}: {reason}" for reason, count in report.rejected_reasons.items()]
    text += [f"  note: {w}" for w in report.warnings]
    if report.ran_on is not None:  # the query was read and stored on a Dask worker
        payload["ran_on"] = dataclasses.asdict(report.ran_on)
        text.append(f"  ran on {report.ran_on.describe()}")
    emit(payload, as_json, "\n".join(text))


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
    """Profile a dataset: volumes, signal mix, feedback coverage, stickiness (read from the summaries kept
    beside its events; a dataset stored before them has them made now, once)."""
    from flywheel_core.data import api as data_api

    ws = obj.workspace(workspace)
    profile = data_api.profile(obj.store(), workspace_id=ws.id, name=name, actor=ACTOR)
    payload = {"dataset": name, **profile.to_json()}
    emit(payload, as_json, lambda: "\n".join(f"{k:<22} {v}" for k, v in payload.items()))


def register(group: click.Group) -> None:
    for command in (ingest_command, datasets_command, profile_command):
        group.add_command(command)
