"""The data folder: content-addressed Parquet event files and skops model files, written atomically.

A file is written to a temporary name in its final folder, flushed to disk and renamed into place, so a
reader never sees half a file. The database row that points at it is committed after the rename; a
process killed in between leaves only an unreferenced file, which :func:`sweep_orphans` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel_core.exceptions import StorageError
from flywheel_core.storage.errors import map_exceptions

__all__ = [
    "AGGREGATES_SUFFIX",
    "aggregates_relpath",
    "batches_hash",
    "dataset_relpath",
    "file_sha256",
    "ids_relpath",
    "model_relpath",
    "move_into_place",
    "owner_of_aggregate",
    "parquet_options",
    "read_aggregates",
    "stage_parquet",
    "sweep_orphans",
    "write_aggregates_atomic",
    "write_atomic",
    "write_parquet_atomic",
]

TEMP_PREFIX = ".tmp-"
STAGING = "staging"  # events files written before their database row can be: moved into place on commit


def dataset_relpath(workspace_id: int, content_hash: str) -> str:
    return f"workspaces/{workspace_id}/datasets/{content_hash}.parquet"


def batches_hash(hashes: list[str]) -> str:
    """A dataset's content hash from its batches' hashes in order: batch 1's own for a one-batch dataset
    (so a dataset imported before appends existed keeps its hash), else the SHA-256 of the list."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


IDS_SUFFIX = ".ids.arrow"  # beside a batch's events file: its distinct users and items (counted on append)


def ids_relpath(events_relpath: str) -> str:
    """Where the distinct users and items of the batch stored at ``events_relpath`` are kept."""
    return events_relpath.removesuffix(".parquet") + IDS_SUFFIX


AGGREGATES_SUFFIX = ".agg"  # beside a batch's events file: a folder of its small aggregate tables
AGGREGATE_TABLE_SUFFIX = ".pq"  # Parquet, named apart from the events files (``*.parquet``)


def aggregates_relpath(events_relpath: str) -> str:
    """The folder of aggregates (``data.aggregates``) of the batch stored at ``events_relpath``."""
    return events_relpath.removesuffix(".parquet") + AGGREGATES_SUFFIX


def owner_of_aggregate(rel: str) -> str | None:
    """The events file a path inside an aggregates folder belongs to (None: not inside one)."""
    parts = rel.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith(AGGREGATES_SUFFIX) and not part.startswith(TEMP_PREFIX):
            return "/".join([*parts[:i], part.removesuffix(AGGREGATES_SUFFIX) + ".parquet"])
    return None


def write_aggregates_atomic(target: Path, tables: Mapping[str, pa.Table | Path], meta: dict[str, object]) -> None:
    """Write a folder of small Parquet tables and ``meta.json`` in a temporary folder, then swap it onto
    ``target`` (a reader sees the old folder, none, or the new one: never part of one).

    Tables are written in row groups of 64k rows with statistics on ``day``, so a date range reads only the
    row groups it needs; a table given as a path (a Parquet file written on the same file system) is moved in.

    Raises:
        StorageError: the disk is full or the folder cannot be written; no partial folder remains.
    """
    import json
    import shutil

    temp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
    aside = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-old-{target.name}")
    failed = (
        f"Could not write the summaries of {target.name} to the data folder ({{reason}}). "
        "Free some disk space or check the folder's permissions; they are made again when the data is next read."
    )
    try:
        with map_exceptions(messages={StorageError: failed}):
            temp.mkdir(parents=True)
            for name, table in tables.items():
                if isinstance(table, Path):  # written already (by DuckDB, say): moved in
                    os.replace(table, temp / f"{name}{AGGREGATE_TABLE_SUFFIX}")
                    continue
                pq.write_table(
                    table,
                    temp / f"{name}{AGGREGATE_TABLE_SUFFIX}",
                    compression="lz4",
                    row_group_size=65_536,
                    write_statistics=[c for c in ("day",) if c in table.column_names] or False,
                )
            (temp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
            for path in temp.iterdir():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            if target.exists():
                os.replace(target, aside)
            try:
                os.replace(temp, target)
            except OSError:
                if not (target / "meta.json").exists():
                    raise
                shutil.rmtree(temp, ignore_errors=True)  # another process wrote the same folder meanwhile
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def read_aggregates(
    folder: Path,
    names: tuple[str, ...],
    filters: list[tuple[str, str, object]] | None = None,
    dictionaries: tuple[str, ...] = ("user",),
) -> tuple[dict[str, object], dict[str, pa.Table]] | None:
    """``meta.json`` and the tables ``names`` (those present) of an aggregates folder; None when there is no
    complete folder. ``filters`` (pyarrow's form, e.g. ``[("day", ">=", 20000)]``) are pushed down into the
    tables that have a ``day`` column; the ``dictionaries`` columns are read dictionary-encoded (a (day, user)
    table of 14M rows then takes 60 MB, not 400)."""
    import json

    try:
        meta = json.loads((folder / "meta.json").read_text())
        tables = {}
        for name in names:
            path = folder / f"{name}{AGGREGATE_TABLE_SUFFIX}"
            if not path.exists():
                continue
            schema = pq.read_schema(path)
            tables[name] = pq.read_table(
                path,
                filters=filters if filters and "day" in schema.names else None,
                read_dictionary=[c for c in dictionaries if c in schema.names] or None,
            )
        return meta, tables
    except (FileNotFoundError, NotADirectoryError):
        return None


def model_relpath(workspace_id: int, dataset_id: int) -> str:
    return f"workspaces/{workspace_id}/models/{dataset_id}-{uuid.uuid4().hex}.skops"


def file_sha256(path: Path, chunk_bytes: int = 4 * 1024 * 1024) -> str:
    """The file's SHA-256 in hex.

    Raises:
        StorageError: the file cannot be read.
    """
    digest = hashlib.sha256()
    unreadable = f"Could not read {path.name} ({{reason}}). Check that it exists and that it may be read."
    with map_exceptions(messages={StorageError: unreadable}), path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp_path)`` then move the temporary file onto ``target`` in one rename.

    Raises:
        StorageError: the disk is full or the folder cannot be written; no partial file remains.
    """
    temp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
    failed = (
        f"Could not write {target.name} to the data folder ({{reason}}). "
        "Nothing was stored; free some disk space or check the folder's permissions."
    )
    try:
        with map_exceptions(messages={StorageError: failed}):
            target.parent.mkdir(parents=True, exist_ok=True)
            write(temp)
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # the folder may be what failed: keep the first error
            temp.unlink(missing_ok=True)
        raise


def parquet_options(table: pa.Table) -> dict[str, Any]:
    """LZ4-compressed Parquet: as fast to write as Snappy here, and about twice as fast to read back.

    Statistics (min/max per page) only for ``timestamp``, the one column filtered by range: on the id
    columns they cost more time to write than the rest of the file.
    """
    statistics = [name for name in table.column_names if name == "timestamp"] or False
    return {"compression": "lz4", "write_statistics": statistics}


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """``table`` written to ``target`` whole, in the events file format (:func:`parquet_options`)."""
    write_atomic(target, lambda temp: pq.write_table(table, temp, **parquet_options(table)))


def stage_parquet(data_dir: Path, table: pa.Table) -> Path:
    """Write ``table`` to a new file in the data folder's staging area (no database needed yet).

    The file is moved into place by :func:`move_into_place` when its row is committed; one left by a
    killed process is removed by :func:`sweep_orphans` after the grace period.
    """
    target = data_dir / STAGING / f"{uuid.uuid4().hex}.parquet"
    write_parquet_atomic(table, target)
    return target


def move_into_place(staged: Path, target: Path) -> None:
    """Rename a staged file onto ``target`` (same file system: one atomic step).

    Raises:
        StorageError: the folder cannot be written; nothing was stored.
    """
    failed = (
        f"Could not move {staged.name} into the data folder ({{reason}}). Nothing was stored; "
        "check the folder's permissions and import the file again."
    )
    with map_exceptions(messages={StorageError: failed}):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)


def sweep_orphans(
    data_dir: Path, referenced: set[str], min_age_seconds: float = 3600.0, under: str = "workspaces"
) -> list[str]:
    """Remove files below ``under`` that no row points at and that are older than the grace period.

    The grace period protects files that another process is about to commit; a caller holding the
    workspace's write lock may pass 0.

    Raises:
        StorageError: a file cannot be removed (the folder's permissions).
    """
    removed: list[str] = []
    root = data_dir / under
    if not root.exists():
        return removed
    now = time.time()
    stuck = "Could not remove an unused file from the data folder ({reason}). Check the folder's permissions."
    with map_exceptions(messages={StorageError: stuck}):
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            rel = path.relative_to(data_dir).as_posix()
            if (
                rel in referenced
                or (rel.endswith(IDS_SUFFIX) and rel.removesuffix(IDS_SUFFIX) + ".parquet" in referenced)
                or owner_of_aggregate(rel) in referenced
            ):
                continue  # a batch's ids file and aggregates live as long as its events file
            try:
                if now - path.stat().st_mtime < min_age_seconds:
                    continue
                path.unlink()
                removed.append(rel)
            except FileNotFoundError:  # swept by another process meanwhile
                continue
    return removed
