"""A batch's files as the engines read them: its events files (:class:`EventFiles`) and the folder of its
aggregates (:class:`AggregatesFolder`), in a local folder or an S3 bucket (``storage.folder.DataFolder`` makes them).

A batch's aggregates are a folder locally, swapped in by renames (``files.write_aggregates_atomic``). In S3 a
folder cannot be swapped, so each version's tables are uploaded under new names and then ``meta.json``, which
names them, in one PUT: a reader reads ``meta.json`` first and then only the tables it names, so it sees one
version whole, never a mix; the tables of the version before are removed after (a reader that loses one to
that reads the new ``meta.json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    TEMP_PREFIX,
    read_aggregates,
    write_aggregates_atomic,
)

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["AggregatesFolder", "BatchFiles", "EventFiles", "read_folders"]

Aggregates = tuple[dict[str, Any], dict[str, pa.Table]]


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
        with _unreadable(self), (self.filesystem or pafs.LocalFileSystem()).open_input_file(self.paths[0]) as file:
            return list(pq.read_schema(file).names)

    def arrow_dataset(self) -> ds.Dataset:
        """A pyarrow dataset of the files (its schema batch 1's), for DuckDB to scan.

        Raises:
            StorageError: a file is missing or the store cannot be read.
        """
        import pyarrow.dataset as ds

        with _unreadable(self):
            return ds.dataset(list(self.paths), filesystem=self.filesystem or pafs.LocalFileSystem(), format="parquet")

    def open(self) -> list[pa.NativeFile]:
        """Each file opened for random access (pyarrow then reads only the footer and the parts it needs)."""
        fs = self.filesystem or pafs.LocalFileSystem()
        with _unreadable(self):
            return [fs.open_input_file(p) for p in self.paths]


def _unreadable(files: EventFiles) -> contextlib.AbstractContextManager[None]:
    where = "the object store" if files.remote else "the data folder"
    return map_exceptions(
        messages={
            StorageError: f"An events file could not be read from {where} ({{reason}}). Restore it from a backup "
            "or import the file again; if the store is unreachable, check the AWS_* settings."
        }
    )


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
        unreadable = f"Could not read the summaries in {self.path} ({{reason}}). Check the AWS_* settings."
        for _ in range(3):  # a table named by meta.json may be removed by a rewrite meanwhile: read the new one
            meta = self._remote_meta()
            if meta is None:
                return None
            files = meta.pop("files", None)
            if files is None:  # a folder copied from a local data folder: its tables under their own names
                files = self._listed()
            keys = {name: f"{self.path}/{files[name]}" for name in names if name in files}
            with map_exceptions(messages={StorageError: unreadable}):
                try:
                    return meta, self._read_tables(keys, filters, dictionaries)
                except FileNotFoundError:
                    continue
        return None

    def _read_tables(
        self, keys: dict[str, str], filters: list[tuple[str, str, object]] | None, dictionaries: tuple[str, ...]
    ) -> dict[str, pa.Table]:
        fs = self.filesystem
        assert fs is not None
        tables = _parallel(lambda key: _read_table(fs, key, filters, dictionaries), list(keys.values()))
        return dict(zip(keys, tables, strict=True))

    def _listed(self) -> dict[str, str]:
        """The tables in the folder by name, as a local data folder names them (``daily.pq``)."""
        assert self.filesystem is not None
        found = self.filesystem.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        return {
            i.base_name.removesuffix(AGGREGATE_TABLE_SUFFIX): i.base_name
            for i in found
            if i.type == pafs.FileType.File and i.base_name.endswith(AGGREGATE_TABLE_SUFFIX)
        }

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
        failed = (
            f"Could not upload the summaries {self.path} to the object store ({{reason}}). "
            "Check the bucket's permissions and try again."
        )
        uploaded: list[str] = []
        with map_exceptions(messages={StorageError: failed}):
            before = self._remote_meta()
            token = uuid.uuid4().hex[:12]
            meta = json.loads((staged / "meta.json").read_text())
            old: dict[str, str] = {} if before is None else before.get("files") or self._listed()
            files: dict[str, str] = dict(old) if keep else {}
            try:
                for table in sorted(staged.glob(f"*{AGGREGATE_TABLE_SUFFIX}")):
                    name = table.name.removesuffix(AGGREGATE_TABLE_SUFFIX)
                    files[name] = f"{name}-{token}{AGGREGATE_TABLE_SUFFIX}"
                    uploaded.append(f"{self.path}/{files[name]}")
                    pafs.copy_files(
                        str(table),
                        uploaded[-1],
                        source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.filesystem,
                    )
                with self.filesystem.open_output_stream(f"{self.path}/meta.json") as out:  # one PUT: the new version
                    out.write(json.dumps({**meta, "files": files}, sort_keys=True).encode())
            except BaseException:
                for key in uploaded:  # no version names them: out again, the version before stays whole
                    with contextlib.suppress(OSError):
                        self.filesystem.delete_file(key)
                raise
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


def read_folders(
    requests: Sequence[tuple[AggregatesFolder, tuple[str, ...]]],
    filters: list[tuple[str, str, object]] | None = None,
) -> list[Aggregates | None]:
    """:meth:`AggregatesFolder.read` of several folders (``(folder, names)``), in the order given; in an
    object store at once, since each read mostly waits on the network."""
    if not any(folder.filesystem is not None for folder, _ in requests):
        return [folder.read(names, filters) for folder, names in requests]
    return _parallel(lambda request: request[0].read(request[1], filters), list(requests))


def _parallel(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``work`` over ``items`` in a few threads (pyarrow lets go of the GIL while it waits on the object store)."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(_READERS, len(items))) as pool:
        return list(pool.map(work, items))


_READERS = 8  # requests in flight at once to the object store, per folder and across folders


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
