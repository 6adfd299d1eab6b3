"""Importing a large CSV file in batches: each batch parsed, checked and written to the staged events file as it
comes, so an import's memory stays about constant in the file's size.

pyarrow's streaming reader (``open_csv``, the same parse and convert options as the whole-file read) yields
record batches; each is checked by :func:`flywheel_core.data.checks._normalize` and appended to the staged
Parquet file. The whole-file checks still run before anything becomes visible (the file is only staged, the
database row comes later): the row limit is checked as the rows stream; exact duplicates are found batch by
batch, the rows tied on the last timestamp of a batch carried into the next (the file is sorted by time, so
equal rows are neighbours); the quality pass runs on what the batches leave behind: the id columns as
dictionary codes (four bytes a row each), the times and values, and for every other column only whether it
holds one value (a stand-in of one shared zero buffer).

A file the batches cannot take as they come is read whole, as before (:class:`Fallback`): a value that does not
convert (the text read names each bad value and its row), a ragged row, rows out of time order, a column whose
type differs between batches, a quoted line break (the caller's line count says so). Gzip files (inflated in
memory) and Parquet files are read whole too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.data.checks import _normalize
from flywheel_core.data.columns import ColumnMap
from flywheel_core.data.csvblocks import _quiet_rows, _RowHandler
from flywheel_core.data.quality import _EXAMPLES, Duplicates, _constant, find_duplicates
from flywheel_core.data.reading import Header, Limits, _csv_options, _rounded
from flywheel_core.exceptions import LimitExceededError

__all__ = ["STREAM_MIN_BYTES", "Fallback", "StreamedEvents", "stream_csv"]

STREAM_MIN_BYTES = 256 << 20  # smaller files are read whole: as fast, and they fit in memory anyway
BLOCK_BYTES = 32 << 20  # CSV bytes per batch: some 400,000 rows of a typical log, one row group each
_IDS = ("user", "item", "event")


class Fallback(Exception):
    """The file needs the whole-file read (the reason is the message; nothing of it stays staged)."""


@dataclass
class StreamedEvents:
    """What the batches leave for the whole-file steps: counts, the quality table, duplicates, distinct ids."""

    rows_read: int
    rows: int
    quality_table: pa.Table
    duplicates: Duplicates
    first_us: int
    last_us: int

    def distinct(self) -> dict[str, pa.Array]:
        """The distinct users and items (the quality table's dictionaries: every value is used)."""
        return {
            name: self.quality_table.column(name).chunk(0).dictionary
            for name in ("user", "item")
            if name in self.quality_table.column_names
        }

    def events(self) -> list[str]:
        return sorted(str(e) for e in self.quality_table.column("event").chunk(0).dictionary.to_pylist())


@dataclass
class _Accumulated:
    """The running state of the batches."""

    rows_read: int = 0
    rows: int = 0
    schema: pa.Schema | None = None
    last_us: int | None = None
    first_us: int | None = None
    kept: dict[str, list[pa.Array]] = field(default_factory=dict)
    constants: dict[str, str | None] = field(default_factory=dict)
    carry: pa.Table | None = None
    duplicate_count: int = 0
    duplicate_examples: list[str] = field(default_factory=list)


def _batches(
    path: Path, header: Header, types: dict[str, pa.DataType] | None, ragged: list[str], block_bytes: int
) -> Iterator[pa.Table]:
    """The parsed batches, read ahead by one thread at most two batches ahead: pyarrow's own multi-threaded
    streaming reader reads ahead without bound when the consumer is slower (1.5 GB queued at 25M events)."""
    queue: Queue[pa.Table | BaseException | None] = Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for table in _parsed(path, header, types, ragged, block_bytes):
                while not stop.is_set():
                    try:
                        queue.put(table, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(None)
        except BaseException as exc:  # handed to the consumer
            queue.put(exc)

    reader = threading.Thread(target=produce, daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _parsed(
    path: Path, header: Header, types: dict[str, pa.DataType] | None, ragged: list[str], block_bytes: int
) -> Iterator[pa.Table]:
    options = pacsv.ReadOptions(block_size=block_bytes, column_names=header.names, skip_rows=1, use_threads=False)
    handler = _RowHandler(ragged, give_up=True)
    try:
        # A Python file object: given a path, pyarrow reads the file ahead into memory (1.1 GB at 25M events).
        with _quiet_rows(), path.open("rb") as handle:
            reader = pacsv.open_csv(
                pa.PythonFile(handle, mode="r"),
                read_options=options,
                parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
                convert_options=_csv_options(header.names, types),
            )
            for batch in reader:
                if ragged:
                    raise Fallback("a row has the wrong number of fields")
                yield pa.Table.from_batches([batch])
    except pa.ArrowInvalid as exc:  # a value that does not convert, a record longer than a block
        raise Fallback(str(exc)) from exc


def _micros(table: pa.Table) -> np.ndarray:
    stamps = table.column("timestamp").combine_chunks().cast(pa.int64())
    return np.frombuffer(stamps.buffers()[1], dtype=np.int64, count=len(stamps), offset=stamps.offset * 8)


def _find_duplicates(state: _Accumulated, clean: pa.Table, drop: bool) -> pa.Table:
    """The batch's exact repeats of earlier rows (its own, or of the rows carried from the batch before, which
    share its first timestamp); ``drop``: the batch without them."""
    carried = 0 if state.carry is None else state.carry.num_rows
    both = clean if not carried else pa.concat_tables([state.carry, clean]).unify_dictionaries().combine_chunks()
    found = find_duplicates(both)
    keep = None
    if found.count and found.rows is not None:
        rows = found.rows.to_numpy(zero_copy_only=False).astype(np.int64)
        own = rows[rows >= carried]  # a carried row's repeats were counted with its own batch
        if len(own):
            state.duplicate_count += len(own)
            if len(state.duplicate_examples) < _EXAMPLES:
                state.duplicate_examples += list(found.examples)[: _EXAMPLES - len(state.duplicate_examples)]
            if drop:
                keep = np.ones(clean.num_rows, dtype=bool)
                keep[own - carried] = False
    micros = _micros(both)
    tied = int(np.searchsorted(micros, micros[-1], side="left"))
    state.carry = both.slice(tied)  # the rows on the last timestamp: the next batch's may repeat them
    return clean if keep is None else clean.filter(pa.array(keep))


def _keep(state: _Accumulated, clean: pa.Table, keep_value: bool) -> None:
    """What the quality pass needs of a batch: id codes, times, values; for other columns, their one value."""
    for name in clean.column_names:
        column = clean.column(name)
        if name in _IDS or name == "timestamp" or (name == "value" and keep_value):
            state.kept.setdefault(name, []).extend(column.chunks)
            continue
        value = _constant(column) if len(column) else None
        if name not in state.constants:
            state.constants[name] = value
        elif state.constants[name] != value:
            state.constants[name] = None


def _standin(values: list[str], zeros: pa.Buffer, n: int) -> pa.ChunkedArray:
    """A dictionary column of ``n`` rows over ``values`` with every index 0: one value or several, for
    :func:`flywheel_core.data.quality._constant`, in ``n`` bytes shared by every stand-in."""
    indices = pa.Array.from_buffers(pa.int8(), n, [None, zeros])
    return pa.chunked_array([pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string()))])


def _quality_table(state: _Accumulated) -> pa.Table:
    assert state.schema is not None
    zeros = pa.py_buffer(bytes(state.rows))
    columns: dict[str, pa.ChunkedArray] = {}
    for name in state.schema.names:
        if name in state.kept:
            chunks = state.kept.pop(name)
            column = pa.chunked_array(chunks, state.schema.field(name).type)
            if pa.types.is_dictionary(column.type):  # one dictionary over all batches (only used values)
                unified = pa.table({name: column}).unify_dictionaries().column(name)
                dictionary = unified.chunk(0).dictionary if unified.num_chunks else pa.array([], pa.string())
                indices = pa.concat_arrays([c.indices for c in unified.chunks])
                del unified, column
                column = pa.chunked_array([pa.DictionaryArray.from_arrays(indices, dictionary)])
            else:
                column = pa.chunked_array([column.combine_chunks()])
            columns[name] = column
        else:
            one = state.constants.get(name)
            columns[name] = _standin([one] if one is not None else ["", " "], zeros, state.rows)
    return pa.table(columns)


def stream_csv(
    path: Path,
    target: Path,
    *,
    header: Header,
    mapping: ColumnMap,
    types: dict[str, pa.DataType] | None,
    limits: Limits,
    label: str,
    drop_duplicates: bool,
    keep_value: bool,
    block_bytes: int = BLOCK_BYTES,
    write_options: dict[str, object] | None = None,
) -> StreamedEvents:
    """Parse, check and write the CSV file ``path`` to the Parquet file ``target`` batch by batch.

    Parameters:
        keep_value: keep the ``value`` column for the quality pass (its signal rules read it).
        write_options: the events file format (``storage.files.parquet_options``).

    Raises:
        Fallback: the file needs the whole-file read (``target`` may hold part of it: the caller removes it).
        LimitExceededError: more rows than ``limits.max_rows`` (found as they stream, not after a full parse).
    """
    state = _Accumulated()
    ragged: list[str] = []
    writer: pq.ParquetWriter | None = None
    try:
        for table in _batches(path, header, types, ragged, block_bytes):
            state.rows_read += table.num_rows
            if state.rows_read > limits.max_rows:
                raise LimitExceededError(
                    f"{label} has more than {limits.max_rows:,} rows (the limit), counted as it was read; nothing "
                    "was stored. Split it, or raise FLYWHEEL_MAX_ROWS."
                )
            if types and _rounded(table, types):
                raise Fallback("a number may have been rounded")
            if table.num_rows == 0:
                continue
            clean, check = _normalize(table, mapping, limits, label)
            del table
            if check.bad.any():
                raise Fallback("invalid values: the whole read names them")
            if state.schema is None:
                state.schema = clean.schema
            elif not clean.schema.equals(state.schema):
                raise Fallback("a column's type differs between batches")
            micros = _micros(clean)
            if (len(micros) > 1 and bool((micros[1:] < micros[:-1]).any())) or (
                state.last_us is not None and micros[0] < state.last_us
            ):
                raise Fallback("rows out of time order: the whole read sorts them")
            state.first_us = int(micros[0]) if state.first_us is None else state.first_us
            state.last_us = int(micros[-1])
            clean = _find_duplicates(state, clean, drop_duplicates)
            if writer is None:
                writer = pq.ParquetWriter(str(target), clean.schema, **(write_options or {}))  # type: ignore[arg-type]
            writer.write_table(clean, row_group_size=max(clean.num_rows, 1))
            state.rows += clean.num_rows
            _keep(state, clean, keep_value)
    finally:
        if writer is not None:
            writer.close()
    if state.schema is None or state.rows == 0 or state.first_us is None or state.last_us is None:
        raise Fallback("no rows: the whole read says so")
    duplicates = Duplicates(state.duplicate_count, None, tuple(state.duplicate_examples))
    state.carry = None
    return StreamedEvents(state.rows_read, state.rows, _quality_table(state), duplicates, state.first_us, state.last_us)
