"""Importing a large CSV file in batches: each batch parsed, checked and written to the staged events file as it
comes, so an import's memory stays about constant in the file's size.

The file is cut at line breaks into blocks of :data:`BLOCK_BYTES`, each parsed by pyarrow (the same parse and
convert options as the whole-file read), checked by :func:`flywheel_core.data.checks._normalize` and appended
to the staged Parquet file as one row group. The whole-file checks still run before anything becomes visible
(the file is only staged, the database row comes later): the row limit is checked as the rows stream; exact
duplicates are found batch by batch, the rows tied on the last timestamp of a batch carried into the next (the
file is sorted by time, so equal rows are neighbours); the quality pass runs on the facts the batches leave
(:class:`flywheel_core.data.facts.QualityFacts`: rows per user, item and event, one value per column, the
timestamps' bounds), not on the rows, and a value rule that can change a warning is counted on the staged file.

A file the batches cannot take as they come is read whole, as before (:class:`Fallback`): a value that does not
convert (the text read names each bad value and its row), a ragged row, rows out of time order, a column whose
type differs between batches, a quoted line break (the caller's line count says so, or a block edge inside
quotes). Gzip files (inflated in memory) and Parquet files are read whole too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Full, Queue

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.data.checks import _normalize
from flywheel_core.data.columns import ColumnMap
from flywheel_core.data.csvblocks import _quiet_rows, _RowHandler
from flywheel_core.data.facts import QualityFacts
from flywheel_core.data.quality import _EXAMPLES, Duplicates, batch_facts, find_duplicates
from flywheel_core.data.reading import Header, Limits, _csv_options, _rounded
from flywheel_core.exceptions import LimitExceededError

__all__ = ["STREAM_MIN_BYTES", "Fallback", "StreamedEvents", "stream_csv"]

STREAM_MIN_BYTES = 256 << 20  # smaller files are read whole: as fast, and they fit in memory anyway
BLOCK_BYTES = 32 << 20  # CSV bytes per batch: some 400,000 rows of a typical log, one row group each


class Fallback(Exception):
    """The file needs the whole-file read (the reason is the message; nothing of it stays staged)."""


@dataclass
class StreamedEvents:
    """What the batches leave for the whole-file steps: counts, the quality facts, duplicates, distinct ids."""

    rows_read: int
    rows: int
    facts: QualityFacts
    duplicates: Duplicates
    first_us: int
    last_us: int

    def distinct(self) -> dict[str, pa.Array]:
        """The distinct users and items."""
        found = {name: self.facts.tally(name) for name in ("user", "item")}
        return {name: tally.values for name, tally in found.items() if tally is not None}

    def events(self) -> list[str]:
        tally = self.facts.tally("event")
        return sorted(str(e) for e in tally.values.to_pylist()) if tally is not None else []


@dataclass
class _Accumulated:
    """The running state of the batches."""

    now: datetime
    rows_read: int = 0
    rows: int = 0
    schema: pa.Schema | None = None
    last_us: int | None = None
    first_us: int | None = None
    facts: QualityFacts = field(default_factory=QualityFacts)
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
    """The file in blocks of whole lines, each parsed on its own (pyarrow's parallel reader within a block).

    pyarrow's streaming reader keeps far more than a block in memory (some 1.3 GB over a 2 GB file, outside its
    memory pool); cutting the file at line breaks ourselves bounds it to the blocks in flight. A cut inside a
    quoted field would split a record: a block with an odd number of quote characters is not parsed (the whole
    read takes the file), and the caller's line count catches any other record that spans lines.
    """
    convert = _csv_options(header.names, types)
    parse = pacsv.ParseOptions(invalid_row_handler=_RowHandler(ragged, give_up=True))
    first, rest = True, b""
    try:
        with _quiet_rows(), path.open("rb") as handle:
            while True:
                block = handle.read(block_bytes)
                data = rest + block if rest else block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if not data:
                    return
                if cut == 0:
                    raise Fallback("a line longer than a block")
                chunk, rest = memoryview(data)[:cut], data[cut:]
                if data.count(b'"', 0, cut) % 2:
                    raise Fallback("a quoted field across a block edge")
                options = pacsv.ReadOptions(column_names=header.names, skip_rows=1 if first else 0)
                table = pacsv.read_csv(
                    pa.py_buffer(chunk), read_options=options, parse_options=parse, convert_options=convert
                )
                first = False
                if ragged:
                    raise Fallback("a row has the wrong number of fields")
                yield table
                if not block:
                    return
    except pa.ArrowInvalid as exc:  # a value that does not convert
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
    block_bytes: int = BLOCK_BYTES,
    write_options: dict[str, object] | None = None,
) -> StreamedEvents:
    """Parse, check and write the CSV file ``path`` to the Parquet file ``target`` batch by batch.

    Parameters:
        write_options: the events file format (``storage.files.parquet_options``).

    Raises:
        Fallback: the file needs the whole-file read (``target`` may hold part of it: the caller removes it).
        LimitExceededError: more rows than ``limits.max_rows`` (found as they stream, not after a full parse).
    """
    state = _Accumulated(now=datetime.now(UTC))
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
            state.facts.add(clean.column_names, *batch_facts(clean, state.now))
    finally:
        if writer is not None:
            writer.close()
    if state.schema is None or state.rows == 0 or state.first_us is None or state.last_us is None:
        raise Fallback("no rows: the whole read says so")
    duplicates = Duplicates(state.duplicate_count, None, tuple(state.duplicate_examples))
    state.carry = None
    return StreamedEvents(state.rows_read, state.rows, state.facts, duplicates, state.first_us, state.last_us)
