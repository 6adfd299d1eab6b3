"""Where the data files live: a local folder, or an S3 bucket prefix through pyarrow's S3 file system.

``FLYWHEEL_DATA_DIR=/srv/flywheel`` keeps events, aggregates and model files in a folder (written to a
temporary name, flushed and renamed into place: :mod:`flywheel_core.storage.files`).
``FLYWHEEL_DATA_DIR=s3://bucket/prefix`` keeps them in object storage: each file is written whole to the local
staging area first and then uploaded in one PUT, which S3 makes visible whole or not at all. Either way the
database row that points at a file is committed after the file is in place, and files no row points at are
swept after a grace period, so a process killed in between leaves nothing half-written.

A batch's aggregates (:class:`AggregatesFolder`) are a folder locally, swapped in by renames. In S3 a folder
cannot be swapped, so each version's tables are uploaded under new names and then ``meta.json``, which names
them, in one PUT: a reader reads ``meta.json`` first and then only the tables it names, so it sees one
version whole, never a mix; the tables of the version before are removed after.

The S3 connection comes from the usual AWS variables: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``
(or an instance role), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) for an S3-compatible server such as MinIO.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flywheel_core.exceptions import StorageError
from flywheel_core.storage.errors import map_exceptions
from flywheel_core.storage.files import (
    AGGREGATE_TABLE_SUFFIX,
    IDS_SUFFIX,
    STAGING,
    TEMP_PREFIX,
    aggregates_relpath,
    move_into_place,
    owner_of_aggregate,
    parquet_options,
    read_aggregates,
    sweep_orphans,
    write_aggregates_atomic,
    write_atomic,
)

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["AggregatesFolder", "BatchFiles", "DataFolder", "EventFiles"]

Aggregates = tuple[dict[str, Any], dict[str, pa.Table]]


def _s3(location: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's S3 file system for ``s3://bucket/prefix``, and the ``bucket/prefix`` root in it."""
    root = location.removeprefix("s3://").strip("/")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint_override"] = endpoint
    if region:
        options["region"] = region
    with map_exceptions(messages={StorageError: f"Cannot open {location} ({{reason}}). Check the AWS_* settings."}):
        return pafs.S3FileSystem(**options), root


@dataclass(frozen=True)
class EventFiles:
    """Events files as pyarrow and DuckDB read them: paths in one file system.

    ``filesystem`` is None for local paths (DuckDB reads those itself) or the object store's: then pyarrow reads
    the files (:meth:`arrow_dataset`, which DuckDB scans with the projections and filters pushed down), and
    no file is downloaded whole.
    """

    paths: tuple[str, ...]
    filesystem: pafs.FileSystem | None = None

    @classmethod
    def local(cls, paths: Sequence[Path]) -> EventFiles:
        return cls(tuple(str(p) for p in paths))

    @classmethod
    def join(cls, parts: Sequence[EventFiles]) -> EventFiles:
        """The files of every part (all in one file system), in order."""
        return cls(tuple(p for part in parts for p in part.paths), parts[0].filesystem if parts else None)

    @property
    def remote(self) -> bool:
        return self.filesystem is not None

    def local_paths(self) -> list[Path]:
        if self.filesystem is not None:
            raise ValueError("these events files are in an object store")
        return [Path(p) for p in self.paths]

    def column_names(self) -> list[str]:
        """The columns of the first file (every later batch is cast to batch 1's schema)."""
        with (self.filesystem or pafs.LocalFileSystem()).open_input_file(self.paths[0]) as file:
            return list(pq.read_schema(file).names)

    def arrow_dataset(self) -> ds.Dataset:
        import pyarrow.dataset as ds

        return ds.dataset(list(self.paths), filesystem=self.filesystem or pafs.LocalFileSystem(), format="parquet")

    def open(self) -> list[pa.NativeFile]:
        """Each file opened for random access (pyarrow then reads only the footer and the parts it needs)."""
        fs = self.filesystem or pafs.LocalFileSystem()
        return [fs.open_input_file(p) for p in self.paths]


@dataclass(frozen=True)
class AggregatesFolder:
    """A batch's folder of small aggregate tables and ``meta.json`` (``files.aggregates_relpath``).

    Locally a folder written by ``files.write_aggregates_atomic``; in an object store (``filesystem`` given) a
    key prefix, each version written in the local ``staging`` folder first and uploaded (see the module's
    docstring).
    """

    path: str
    filesystem: pafs.FileSystem | None = None
    staging: Path | None = None

    @classmethod
    def at(cls, path: Path) -> AggregatesFolder:
        return cls(str(path))

    def scratch(self) -> Path:
        """A local folder on the file system the folder is written through (a table written there is moved in)."""
        if self.filesystem is None:
            return Path(self.path).parent
        assert self.staging is not None
        return self.staging

    def read(
        self,
        names: tuple[str, ...],
        filters: list[tuple[str, str, object]] | None = None,
        dictionaries: tuple[str, ...] = ("user",),
    ) -> Aggregates | None:
        """``meta.json`` and the tables ``names`` (those present); None when there is no complete folder
        (``files.read_aggregates``: ``filters`` pushed down into tables with a ``day`` column)."""
        if self.filesystem is None:
            return read_aggregates(Path(self.path), names, filters, dictionaries)
        for _ in range(3):  # a table named by meta.json may be removed by a rewrite meanwhile: read the new one
            meta = self._remote_meta()
            if meta is None:
                return None
            files = meta.pop("files", {})
            try:
                return meta, {
                    name: _read_table(self.filesystem, f"{self.path}/{files[name]}", filters, dictionaries)
                    for name in names
                    if name in files
                }
            except FileNotFoundError:
                continue
        return None

    def _remote_meta(self) -> dict[str, Any] | None:
        assert self.filesystem is not None
        unreadable = f"Could not read the summaries in {self.path} ({{reason}}). Check the AWS_* settings."
        with map_exceptions(messages={StorageError: unreadable}):
            try:
                with self.filesystem.open_input_stream(f"{self.path}/meta.json") as stream:
                    meta: dict[str, Any] = json.loads(bytes(stream.read()))
                    return meta
            except FileNotFoundError:
                return None

    def write(self, tables: Mapping[str, pa.Table | Path], meta: dict[str, object]) -> None:
        """Replace the folder with these tables (a ``Path``: a Parquet file in :meth:`scratch`, moved in).

        Raises:
            StorageError: the disk or the bucket refused it; the folder is as it was.
        """
        if self.filesystem is None:
            write_aggregates_atomic(Path(self.path), tables, meta)
            return
        assert self.staging is not None
        staged = self.staging / f"{TEMP_PREFIX}{uuid.uuid4().hex}{Path(self.path).suffix}"
        try:
            write_aggregates_atomic(staged, tables, meta)
            self.publish(staged)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def add(self, tables: Mapping[str, pa.Table], meta: dict[str, object]) -> None:
        """Put ``tables`` in the folder beside the tables it has (one of the same name replaced), with ``meta``.

        In an object store only these tables are uploaded; the others stay where they are, named again by the
        new ``meta.json``.

        Raises:
            StorageError: the disk or the bucket refused it; the folder is as it was.
        """
        if self.filesystem is None:
            folder = Path(self.path)
            names = tuple(n for p in folder.glob(f"*{AGGREGATE_TABLE_SUFFIX}") if (n := p.stem) not in tables)
            found = read_aggregates(folder, names)
            self.write({**(found[1] if found else {}), **tables}, meta)
            return
        assert self.staging is not None
        staged = self.staging / f"{TEMP_PREFIX}{uuid.uuid4().hex}{Path(self.path).suffix}"
        try:
            write_aggregates_atomic(staged, tables, meta)
            self._upload(staged, keep=True)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def publish(self, staged: Path) -> None:
        """Put a complete folder written locally (in the staging area) here; it is gone from there after.

        Raises:
            StorageError: the folder or the bucket cannot be written; the folder here is as it was.
        """
        if self.filesystem is None:
            _swap_into_place(staged, Path(self.path))
            return
        self._upload(staged, keep=False)
        shutil.rmtree(staged, ignore_errors=True)

    def _upload(self, staged: Path, *, keep: bool) -> None:
        """Upload the staged folder's tables under new names, then its ``meta.json`` naming them (and, with
        ``keep``, the tables of the version before that the staged folder does not replace); then remove the
        tables no longer named."""
        assert self.filesystem is not None
        failed = f"Could not upload the summaries {self.path} ({{reason}}). They are made when the data is next read."
        with map_exceptions(messages={StorageError: failed}):
            before = self._remote_meta()
            token = uuid.uuid4().hex[:12]
            meta = json.loads((staged / "meta.json").read_text())
            old: dict[str, str] = (before or {}).get("files", {})
            files: dict[str, str] = dict(old) if keep else {}
            for table in sorted(staged.glob(f"*{AGGREGATE_TABLE_SUFFIX}")):
                name = table.name.removesuffix(AGGREGATE_TABLE_SUFFIX)
                files[name] = f"{name}-{token}{AGGREGATE_TABLE_SUFFIX}"
                pafs.copy_files(
                    str(table),
                    f"{self.path}/{files[name]}",
                    source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=self.filesystem,
                )
            with self.filesystem.open_output_stream(f"{self.path}/meta.json") as out:  # one PUT: the new version
                out.write(json.dumps({**meta, "files": files}, sort_keys=True).encode())
            for name in old.values():
                if name not in files.values():
                    with contextlib.suppress(FileNotFoundError):
                        self.filesystem.delete_file(f"{self.path}/{name}")

    def delete(self) -> None:
        """Remove the folder; one already gone is fine."""
        if self.filesystem is None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_dir(self.path)


@dataclass(frozen=True)
class BatchFiles:
    """One batch of a dataset: its events file and the folder of its aggregates."""

    events: EventFiles
    aggregates: AggregatesFolder


def _read_table(
    fs: pafs.FileSystem, path: str, filters: list[tuple[str, str, object]] | None, dictionaries: tuple[str, ...]
) -> pa.Table:
    """A table of kilobytes in one GET; with ``filters``, its footer and then only the row groups they keep."""
    if filters:
        file: pa.NativeFile = fs.open_input_file(path)
    else:
        with fs.open_input_stream(path) as stream:
            file = pa.BufferReader(stream.read())
    with file:
        names = pq.read_schema(file).names
        return pq.read_table(
            file,
            filters=filters if filters and "day" in names else None,
            read_dictionary=[c for c in dictionaries if c in names] or None,
        )


def _swap_into_place(staged: Path, target: Path) -> None:
    """Rename a complete folder onto ``target`` (the old one, if any, set aside first and removed after)."""
    aside = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-old-{target.name}")
    failed = f"Could not move the summaries {target.name} into the data folder ({{reason}}). Check its permissions."
    with map_exceptions(messages={StorageError: failed}):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.replace(target, aside)
        os.replace(staged, target)
    shutil.rmtree(aside, ignore_errors=True)


class DataFolder:
    """The data files of one instance, named by paths relative to the data folder (``workspaces/3/...``).

    Parameters:
        local: the local folder (staging area; the files themselves too unless ``location`` is an object store).
        location: ``""`` for the local folder, or ``s3://bucket/prefix``.
    """

    def __init__(self, local: Path, location: str = "") -> None:
        self.local = local
        self.location = location or str(local)
        self._fs: pafs.FileSystem | None = None
        self._root = ""
        if location:
            self._fs, self._root = _s3(location)

    @property
    def remote(self) -> bool:
        """Whether the files live in an object store rather than the local folder."""
        return self._fs is not None

    def __repr__(self) -> str:
        return f"DataFolder({self.location!r})"

    # --- names --------------------------------------------------------------------------------------

    def _key(self, rel: str) -> str:
        return f"{self._root}/{rel}"

    def arrow_source(self, rel: str) -> tuple[str, pafs.FileSystem]:
        """The file as pyarrow (and engines reading through pyarrow datasets) opens it: a path and its file system."""
        if self._fs is None:
            return str(self.local / rel), pafs.LocalFileSystem()
        return self._key(rel), self._fs

    def local_path(self, rel: str) -> Path | None:
        """The file's local path, or None when it lives in an object store."""
        return None if self._fs is not None else self.local / rel

    def event_files(self, rels: Sequence[str]) -> EventFiles:
        if self._fs is None:
            return EventFiles.local([self.local / rel for rel in rels])
        return EventFiles(tuple(self._key(rel) for rel in rels), self._fs)

    def aggregates(self, events_rel: str) -> AggregatesFolder:
        """The folder of aggregates of the batch whose events file is ``events_rel``."""
        rel = aggregates_relpath(events_rel)
        if self._fs is None:
            return AggregatesFolder.at(self.local / rel)
        return AggregatesFolder(self._key(rel), self._fs, self.local / STAGING)

    def batch(self, events_rel: str) -> BatchFiles:
        return BatchFiles(self.event_files([events_rel]), self.aggregates(events_rel))

    # --- writing -------------------------------------------------------------------------------------

    def write(self, rel: str, write: Callable[[Path], object]) -> None:
        """Call ``write(temp_path)`` and put the file at ``rel`` whole (a rename locally, one PUT in S3).

        Raises:
            StorageError: the disk or the bucket refused it; no partial file remains.
        """
        if self._fs is None:
            write_atomic(self.local / rel, write)
            return
        temp = self.local / STAGING / f"{TEMP_PREFIX}{uuid.uuid4().hex}-{Path(rel).name}"
        try:
            write_atomic(temp, write)
            self._upload(temp, rel)
        finally:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.write(rel, lambda temp: temp.write_bytes(data))

    def write_parquet(self, rel: str, table: pa.Table) -> None:
        """The events file format of :func:`flywheel_core.storage.files.write_parquet_atomic`."""
        self.write(rel, lambda temp: pq.write_table(table, temp, **parquet_options(table)))

    def publish(self, staged: Path, rel: str) -> None:
        """Put a file staged locally (``files.stage_parquet``) at ``rel``: renamed locally, uploaded to S3."""
        if self._fs is None:
            move_into_place(staged, self.local / rel)
            return
        self._upload(staged, rel)
        staged.unlink(missing_ok=True)

    def _upload(self, source: Path, rel: str) -> None:
        failed = f"Could not upload {Path(rel).name} to {self.location} ({{reason}}). Nothing was stored; try again."
        with map_exceptions(messages={StorageError: failed}):
            pafs.copy_files(
                str(source),
                self._key(rel),
                source_filesystem=pafs.LocalFileSystem(),
                destination_filesystem=self._fs,
            )

    # --- reading -------------------------------------------------------------------------------------

    def read_bytes(self, rel: str) -> bytes:
        if self._fs is None:
            return (self.local / rel).read_bytes()
        with self._fs.open_input_stream(self._key(rel)) as stream:
            return bytes(stream.read())

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        path, fs = self.arrow_source(rel)
        return pq.read_table(path, columns=columns, filesystem=fs)

    def read_schema(self, rel: str) -> pa.Schema:
        path, fs = self.arrow_source(rel)
        with fs.open_input_file(path) as file:
            return pq.read_schema(file)

    def exists(self, rel: str) -> bool:
        if self._fs is None:
            return (self.local / rel).exists()
        return self._fs.get_file_info(self._key(rel)).type == pafs.FileType.File

    def delete(self, rel: str) -> None:
        """Remove the file; one already gone is fine."""
        if self._fs is None:
            (self.local / rel).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self._fs.delete_file(self._key(rel))

    # --- sweeping ------------------------------------------------------------------------------------

    def sweep(self, referenced: set[str], *, min_age_seconds: float = 3600.0, under: str = "workspaces") -> list[str]:
        """Remove the files below ``under`` that no row points at, older than the grace period.

        The staging area is always local; pass ``under=STAGING`` to sweep it.
        """
        if self._fs is None or under == STAGING:
            return sweep_orphans(self.local, referenced, min_age_seconds, under)
        removed: list[str] = []
        now = time.time()
        stuck = f"Could not remove an unused file from {self.location} ({{reason}}). Check the bucket's permissions."
        with map_exceptions(messages={StorageError: stuck}):
            selector = pafs.FileSelector(self._key(under), recursive=True, allow_not_found=True)
            for info in self._fs.get_file_info(selector):
                if info.type != pafs.FileType.File:
                    continue
                rel = info.path.removeprefix(self._root + "/")
                if (
                    rel in referenced
                    or (rel.endswith(IDS_SUFFIX) and rel.removesuffix(IDS_SUFFIX) + ".parquet" in referenced)
                    or owner_of_aggregate(rel) in referenced
                ):
                    continue  # a batch's ids file and aggregates live as long as its events file
                if info.mtime is not None and now - info.mtime.timestamp() < min_age_seconds:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    self._fs.delete_file(info.path)
                    removed.append(rel)
        return removed
