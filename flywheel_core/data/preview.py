"""The mapping step's look at a file before an import: column names, first rows, the detected mapping, and
every distinct value of a column (for the signal dictionary). Reads only what it needs; stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.data.columns import ColumnMap, detect_columns
from flywheel_core.data.csvblocks import _parse_csv
from flywheel_core.data.reading import (
    Header,
    Limits,
    _check_text,
    _header,
    _is_parquet,
    _named,
    _read_source,
    _read_table,
    _sample,
    _utf8_problem,
)
from flywheel_core.exceptions import DataValidationError

__all__ = ["EventValues", "FilePreview", "event_values", "preview_file"]


def _parquet_header(data: pa.Buffer | Path) -> Header:
    return _named(pq.read_schema(data if isinstance(data, Path) else pa.BufferReader(data)).names)


@dataclass(frozen=True)
class FilePreview:
    """The mapping step's view of a file: column names, the first rows as text, the detected mapping,
    and notes on the header (columns that had no name)."""

    names: list[str]
    rows: list[dict[str, Any]]
    mapping: ColumnMap
    notes: tuple[str, ...] = ()


def preview_file(
    source: Path | bytes, *, limits: Limits | None = None, rows: int = 20, label: str = "The file"
) -> FilePreview:
    """Column names, the first ``rows`` rows as text, and the mapping detected from names and the first
    1,000 rows. Reads only the head of a CSV.

    Raises:
        DataValidationError: the file is not a readable CSV or Parquet file.
    """
    limits = limits or Limits()
    data = _read_source(source, limits, label)
    if _is_parquet(data):
        table = _read_table(data, limits, label, [])
        header = _parquet_header(data)
        sample = table.slice(0, 1000)
        mapping = detect_columns(table.column_names, sample=sample)
    else:
        _check_text(data, label)
        header = _header(data, label)
        try:
            sample = _sample(data, header.names)
        except pa.ArrowInvalid as exc:
            problem = _utf8_problem(data, label)
            raise (problem or DataValidationError(f"{label} could not be parsed as CSV: {exc}")) from exc
        mapping = detect_columns(header.names, sample=sample)
    return FilePreview(header.names, sample.slice(0, rows).to_pylist(), mapping, tuple(header.notes()))


@dataclass(frozen=True)
class EventValues:
    """Every distinct value of a column over the whole file (most frequent first) with its row count."""

    column: str
    values: tuple[str, ...]
    counts: tuple[int, ...]
    distinct: int  # all distinct values; ``values`` stops at the limit asked for

    @property
    def truncated(self) -> bool:
        return self.distinct > len(self.values)


def event_values(
    source: Path | bytes, *, column: str, limits: Limits | None = None, label: str = "The file", limit: int = 1000
) -> EventValues:
    """The distinct values of ``column`` in the whole file, for the signal dictionary of the mapping step.

    One read of that column only, dictionary-encoded by the parser: the distinct values are the
    dictionaries' (a 1M-row file: about a third of a full parse). Blank values are left out (the
    import refuses them as empty events).

    Raises:
        DataValidationError: no such column, or the file cannot be read.
    """
    limits = limits or Limits()
    data = _read_source(source, limits, label)
    if _is_parquet(data):
        table = _read_table(data, limits, label, [])
        names = table.column_names
    else:
        _check_text(data, label)
        names = _header(data, label).names
    if column not in names:
        raise DataValidationError(f"{label} has no column '{column}' (columns: {', '.join(names[:20])}).")
    if _is_parquet(data):
        values = table.column(column)
        if not pa.types.is_dictionary(values.type):
            values = pc.dictionary_encode(pc.cast(values, pa.string()))
    else:
        convert = pacsv.ConvertOptions(
            include_columns=[column],
            column_types={column: pa.dictionary(pa.int32(), pa.string())},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        )
        ragged: list[str] = []
        try:
            try:
                values = _parse_csv(data, names, convert, ragged, records=False).column(column)
            except pa.ArrowInvalid:
                ragged.append("retry")
            if ragged:  # a quoted line break may have been cut at a block's end: split by records
                values = _parse_csv(data, names, convert, [], records=True).column(column)
        except pa.ArrowInvalid as exc:
            problem = _utf8_problem(data, label)
            raise (problem or DataValidationError(f"{label} could not be parsed as CSV: {exc}")) from exc
    if values.num_chunks == 0:
        return EventValues(column, (), (), 0)
    values = pa.table({"v": values}).unify_dictionaries().column("v")
    dictionary = values.chunk(0).dictionary
    counted = pc.value_counts(pa.chunked_array([c.indices for c in values.chunks], pa.int32())).to_pylist()
    texts = [str(v) if v is not None else "" for v in pc.cast(dictionary, pa.string()).to_pylist()]
    found = sorted(
        (
            (texts[c["values"]], int(c["counts"]))
            for c in counted
            if c["values"] is not None and texts[c["values"]].strip()
        ),
        key=lambda vc: (-vc[1], vc[0]),
    )
    return EventValues(column, tuple(v for v, _ in found[:limit]), tuple(c for _, c in found[:limit]), len(found))
