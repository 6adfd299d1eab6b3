"""Where the data files live: a local folder, or an S3 bucket prefix through pyarrow's S3 file system.

``FLYWHEEL_DATA_DIR=/srv/flywheel`` keeps events, aggregates and model files in a folder (written to a
temporary name, flushed and renamed into place: :mod:`flywheel_core.storage.files`).
``FLYWHEEL_DATA_DIR=s3://bucket/prefix`` keeps them in object storage: each file is written whole to the local
staging area first and then uploaded in one PUT, which S3 makes visible whole or not at all. Either way the
database row that points at a file is committed after the file is in place, and files no row points at are
swept after a grace period, so a process killed in between leaves nothing half-written.

A batch's files as the engines read them, its events and the folder of its aggregates, are
:mod:`flywheel_core.storage.batch_files`.

The S3 connection comes from the usual AWS variables: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``
(or an instance role), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) for an S3-compatible server such as MinIO.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flywheel_core.exceptions import StorageError
from flywheel_core.storage.batch_files import AggregatesFolder, BatchFiles, EventFiles
from flywheel_core.storage.errors import map_exceptions
from flywheel_core.storage.files import (
    IDS_SUFFIX,
    STAGING,
    TEMP_PREFIX,
    aggregates_relpath,
    move_into_place,
    owner_of_aggregate,
    parquet_options,
    sweep_orphans,
    write_atomic,
)

__all__ = ["AggregatesFolder", "BatchFiles", "DataFolder", "EventFiles"]


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
