"""Service functions for interaction data: import a log, list, read and delete datasets.

Pages and the command line call these. The import runs in two steps: ``ingest.prepare_import``
(read, check and stage the events file; no database) then :func:`store_import` (one unit of work).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.checks import ROLES
from flywheel_core.data.ingest import IngestReport, PreparedImport, prepare_import, preview_file
from flywheel_core.data.reading import Limits
from flywheel_core.data.signals import SignalSpec
from flywheel_core.exceptions import ConflictError
from flywheel_core.storage.models import Dataset, as_utc
from flywheel_core.storage.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Dataset",
    "IngestReport",
    "Limits",
    "as_utc",
    "delete_dataset",
    "get_dataset",
    "import_limits",
    "ingest_file",
    "list_datasets",
    "preview_file",
    "read_events",
    "store_frame",
    "store_import",
]


def list_datasets(store: Store, *, workspace_id: int, actor: str) -> list[Dataset]:
    """The workspace's datasets, by name."""
    return store.list_datasets(workspace_id=workspace_id, actor=actor)


def get_dataset(store: Store, *, workspace_id: int, name: str, actor: str) -> Dataset:
    return store.get_dataset(workspace_id=workspace_id, name=name, actor=actor)


def read_events(
    store: Store, *, workspace_id: int, name: str, actor: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """The dataset's events (canonical roles plus features), only ``columns`` when given."""
    return store.read_events(workspace_id=workspace_id, name=name, columns=columns, actor=actor)


def delete_dataset(store: Store, *, workspace_id: int, name: str, actor: str) -> None:
    """Delete the dataset, its events file and its model versions' files (needs editor)."""
    store.delete_dataset(workspace_id=workspace_id, name=name, actor=actor)


def import_limits(store: Store) -> Limits:
    """The instance's upload limits (file size, rows, field length)."""
    return Limits.from_settings(store.settings)


def ingest_file(
    store: Store,
    *,
    workspace_id: int,
    source: Path | bytes,
    dataset: str,
    actor: str,
    columns: dict[str, str] | None = None,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Read, check and store an interaction log as dataset ``dataset``: :func:`prepare_import`, then
    :func:`store_import`.

    Parameters:
        columns: role -> source column overrides (``feature`` takes a comma-separated list).
        signals: event -> meaning overrides on top of the defaults for common names.
        skip_invalid: store the valid rows and report the rest (default: any invalid row refuses
            the whole file and nothing is stored).

    Returns:
        The report; ``stored`` says whether anything was written.

    Raises:
        DataValidationError: the file cannot be read or has invalid rows (``problems`` lists them).
        LimitExceededError: the file, a row count or a field is over the limits.
        ConflictError: the name is taken, or the same content was imported already.
    """
    prepared = prepare_import(
        source,
        dataset=dataset,
        columns=columns,
        signals=signals,
        skip_invalid=skip_invalid,
        source_name=source_name,
        limits=limits or Limits.from_settings(store.settings),
        progress=progress,
        stage_in=store.data_dir,
    )
    return store_import(store, workspace_id=workspace_id, prepared=prepared, actor=actor, progress=progress)


def store_import(
    store: Store,
    *,
    workspace_id: int,
    prepared: PreparedImport,
    actor: str,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Store a prepared log as one Parquet file and one row, all or nothing (see ``Store.store_dataset``).

    Raises:
        ConflictError: the same content was imported in this workspace already, or the name is taken.
        DataValidationError / LimitExceededError: the log's rows were refused (``prepared.refusal``).
    """
    report = prepared.report
    note = progress or (lambda _f, _m: None)
    try:
        same = store.find_dataset_by_hash(workspace_id=workspace_id, content_hash=report.content_hash)
        if same is not None:
            raise ConflictError(
                f"{prepared.label} was already imported in this workspace as dataset '{same.name}'. "
                "Nothing new was stored."
            )
        if prepared.refusal is not None:
            raise prepared.refusal
        note(0.7, f"Storing {report.rows_read - report.rows_rejected:,} events")
        _store(store, workspace_id=workspace_id, prepared=prepared, actor=actor)
    finally:
        prepared.discard()
    report.seconds = time.perf_counter() - prepared.started
    note(1.0, "Stored")
    return report


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _store(store: Store, *, workspace_id: int, prepared: PreparedImport, actor: str) -> None:
    table, report = prepared.table, prepared.report
    assert table is not None and prepared.dictionary is not None
    # Distinct counts come free from the dictionary encoding (one chunk, only used values).
    users = len(table.column("user").chunk(0).dictionary) if table.num_rows else 0
    items = len(table.column("item").chunk(0).dictionary) if "item" in table.column_names and table.num_rows else 0
    bounds = pc.min_max(table.column("timestamp").cast(pa.int64()))  # a timestamp's as_py() imports pandas
    report.rows_stored = table.num_rows
    report.stored = True
    record = Dataset(
        workspace_id=workspace_id,
        name=report.dataset,
        source_name=prepared.source_name[:300],
        content_hash=report.content_hash,
        file_path="",
        rows=table.num_rows,
        users=users,
        items=items,
        first_event=_EPOCH + timedelta(microseconds=bounds["min"].as_py()),
        last_event=_EPOCH + timedelta(microseconds=bounds["max"].as_py()),
        column_map=report.column_map,
        signal_dictionary=prepared.dictionary.to_json(),
        report={k: v for k, v in report.to_json().items() if k != "column_map"},
        created_by=actor,
    )
    store.store_dataset(workspace_id=workspace_id, table=prepared.staged or table, dataset=record, actor=actor)


def store_frame(
    store: Store,
    *,
    workspace_id: int,
    frame: pd.DataFrame,
    dataset: str,
    actor: str,
    signals: dict[str, SignalSpec] | None = None,
    source_name: str = "",
) -> IngestReport:
    """Store an in-memory event frame (canonical column names) through the same checks as a file."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    columns = {role: role for role in ROLES if role in frame.columns}
    features = [c for c in frame.columns if c.startswith("f_")]
    if features:
        columns["feature"] = ",".join(features)
    return ingest_file(
        store,
        workspace_id=workspace_id,
        source=buffer.getvalue(),
        dataset=dataset,
        actor=actor,
        columns=columns,
        signals=signals,
        source_name=source_name or f"{dataset}.parquet",
    )
