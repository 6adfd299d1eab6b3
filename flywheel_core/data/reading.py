"""Reading an interaction log's bytes: size and kind checks, gzip within the limit, CSV and Parquet parsing.

Every column of a CSV is read as text, so that the row checks (:mod:`flywheel_core.data.checks`) can name each
bad value. Header cells without a name (the index column of a pandas ``df.to_csv()``) are named by position.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.data.csvblocks import _parse_csv, _quiet_rows, _RowHandler
from flywheel_core.data.gzipped import inflate
from flywheel_core.exceptions import DataValidationError, LimitExceededError, Problem

if TYPE_CHECKING:
    from flywheel_core.config import Settings

__all__ = ["Header", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Input limits enforced in the core (the browser's upload limit is only a first fence)."""

    max_bytes: int = 1024 * 1024 * 1024
    max_rows: int = 20_000_000
    max_field_chars: int = 10_000
    # A CSV file given by path (``flywheel ingest FILE``), read in batches: its own, larger limit. A gzip or
    # Parquet file is read into memory whole, so it keeps ``max_bytes`` (the inflated size, for gzip).
    max_path_bytes: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, by_path: bool = False) -> Limits:
        """The upload limits; ``by_path``: for files given by path (the CLI), with ``max_path_bytes`` set."""
        path_bytes = settings.max_file_bytes if by_path else None
        return cls(settings.max_upload_bytes, settings.max_rows, settings.max_field_chars, path_bytes)


@dataclass(frozen=True)
class Header:
    """The column names of a log; ``unnamed`` holds the 1-based positions that had no name in the file."""

    names: list[str]
    unnamed: tuple[int, ...] = ()

    def notes(self) -> list[str]:
        """One sentence per renamed column, for the import report."""
        return [
            f"Header column {position} has no name (a pandas index, written by df.to_csv()?): "
            f"read as '{self.names[position - 1]}'."
            for position in self.unnamed
        ]


def _named(cells: list[str]) -> Header:
    """Name every blank header cell ``column_<position>`` (made unique if the file already has that name)."""
    taken = {c for c in cells if c.strip()}
    names, unnamed = [], []
    for position, cell in enumerate(cells, start=1):
        if not cell.strip():
            cell = f"column_{position}"
            while cell in taken:
                cell += "_"
            taken.add(cell)
            unnamed.append(position)
        names.append(cell)
    return Header(names, tuple(unnamed))


def _read_source(source: Path | bytes, limits: Limits, label: str) -> pa.Buffer | Path:
    """Check size and kind; inflate gzip within the limit. Returns a buffer or the path to read."""
    if isinstance(source, Path):
        size = source.stat().st_size
        with source.open("rb") as handle:
            head = handle.read(4)
    else:
        size = len(source)
        head = source[:4]
    if size == 0:
        raise DataValidationError(
            f"{label} is empty (0 bytes). Choose a CSV or Parquet file with a header row and events."
        )
    by_path = isinstance(source, Path) and limits.max_path_bytes is not None and head[:2] != b"\x1f\x8b"
    by_path = by_path and head != b"PAR1"
    most, setting = (limits.max_path_bytes, "FLYWHEEL_MAX_FILE_MB") if by_path else (limits.max_bytes, "")
    assert most is not None
    if size > most:
        raise LimitExceededError(
            f"{label} is {size / 1e6:,.1f} MB, over the limit of {most / 1e6:,.0f} MB. "
            f"Split it, or raise {setting or 'FLYWHEEL_MAX_UPLOAD_MB'}."
        )
    if head[:2] == b"\x1f\x8b":
        raw = source.read_bytes() if isinstance(source, Path) else source
        return inflate(raw, max_bytes=limits.max_bytes, label=label)
    return source if isinstance(source, Path) else pa.py_buffer(source)


def _is_parquet(data: pa.Buffer | Path) -> bool:
    if isinstance(data, Path):
        with data.open("rb") as handle:
            return handle.read(4) == b"PAR1"
    return data.size >= 4 and data[:4].to_pybytes() == b"PAR1"


def _head(data: pa.Buffer | Path, size: int) -> bytes:
    if isinstance(data, Path):
        with data.open("rb") as handle:
            return handle.read(size)
    return data[: min(data.size, size)].to_pybytes()


def _looks_utf16(sample: bytes) -> bool:
    """A UTF-16 byte-order mark, or NUL bytes in every other position (ASCII text saved as UTF-16)."""
    if sample[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    even, odd = sample[0::2], sample[1::2]
    return len(sample) >= 8 and max(even.count(0) / len(even), odd.count(0) / max(len(odd), 1)) > 0.4


def _check_text(data: pa.Buffer | Path, label: str) -> None:
    sample = _head(data, 65536)
    if sample[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise DataValidationError(
            f"{label} is UTF-32 text, not UTF-8: save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again."
        )
    if _looks_utf16(sample):
        raise DataValidationError(
            f"{label} looks like UTF-16 text, not UTF-8: save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again."
        )
    if b"\x00" in sample:
        raise DataValidationError(
            f"{label} is not a CSV text file (it contains binary data). Export the log as CSV or Parquet."
        )


def _blocks(data: pa.Buffer | Path, size: int = 8 << 20) -> Iterator[bytes]:
    if isinstance(data, Path):
        with data.open("rb") as handle:
            while block := handle.read(size):
                yield block
    else:
        for start in range(0, data.size, size):
            yield data[start : start + size].to_pybytes()


def _first_invalid_utf8(data: pa.Buffer | Path) -> int | None:
    """The byte offset of the first sequence that is not UTF-8, decoding 8 MB at a time; None if all is valid."""
    offset, carry = 0, b""
    for block in _blocks(data):
        chunk = carry + block
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return offset + exc.start
            carry, offset = chunk[exc.start :], offset + exc.start  # a character cut at the block's end
            continue
        carry, offset = b"", offset + len(chunk)
    return offset if carry else None


def _utf8_problem(data: pa.Buffer | Path, label: str) -> DataValidationError | None:
    """The error naming the line and byte of the first invalid UTF-8 sequence, or None if the text is UTF-8."""
    start = _first_invalid_utf8(data)
    if start is None:
        return None
    line, seen = 1, 0
    for block in _blocks(data):
        if seen + len(block) >= start:
            line += block.count(b"\n", 0, start - seen)
            break
        line += block.count(b"\n")
        seen += len(block)
    window = _head(data, start + 8)
    snippet = window[max(0, start - 20) :]
    return DataValidationError(
        f"{label} is not valid UTF-8 text: line {line} (byte {start:,}) has the bytes {snippet!r} "
        f"(the first bad one: 0x{window[start]:02X}; Windows-1252 or Latin-1 text looks like this). "
        "Save the file as UTF-8 and upload it again.",
        [Problem("invalid UTF-8", row=line - 1, value=repr(snippet))],
    )


# --- parsing ------------------------------------------------------------------------------------------


def _csv_options(names: list[str], types: dict[str, pa.DataType] | None) -> pacsv.ConvertOptions:
    """Ids and everything unplanned stay text: no empty-means-null, no "NA" guessing."""
    planned = types or {}
    return pacsv.ConvertOptions(
        column_types={name: planned.get(name, pa.string()) for name in (planned if types else names)},
        include_columns=list(planned) if types else None,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[],
    )


def _read_parquet(data: pa.Buffer | Path, label: str) -> pa.Table:
    try:
        table = pq.read_table(data if isinstance(data, Path) else pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataValidationError(f"{label} is not a readable Parquet file ({exc}).") from exc
    header = _named(table.column_names)
    return table.rename_columns(header.names) if header.unnamed else table


_EXACT = 2**53  # integers above this are not all exact as float64


def _rounded(table: pa.Table, types: dict[str, pa.DataType]) -> bool:
    """Whether a number the typed read made a float may have been an integer too large to be exact."""
    for name, kind in types.items():
        if pa.types.is_floating(kind) and table.column(name).num_chunks:
            bounds = pc.min_max(table.column(name)).as_py()
            if any(b is not None and abs(b) >= _EXACT for b in bounds.values()):
                return True
    return False


def _read_table(
    data: pa.Buffer | Path,
    limits: Limits,
    label: str,
    ragged: list[str],
    types: dict[str, pa.DataType] | None = None,
    header: Header | None = None,
    multiline: bool = False,
) -> pa.Table:
    """Parse the whole file. ``types`` (column -> type) reads just those columns, converted by the parser.

    A typed read is a fast path: if any value does not convert (or a number may have been rounded), the
    file is read again with every column as text, so the row checks can name each bad value.

    ``multiline`` splits the file into blocks by records rather than lines (pyarrow's ``newlines_in_values``):
    needed when a quoted field holds a line break, some 15% slower otherwise, so the caller asks for it when
    the line count says so; a parse that fails without it is tried once more with it. A record longer than
    a block (a 50 MB field) is read with larger blocks.
    """
    if _is_parquet(data):
        return _read_parquet(data, label)
    _check_text(data, label)
    header = header or _header(data, label)

    def parse(column_types: dict[str, pa.DataType] | None, records: bool) -> pa.Table:
        return _parse_csv(data, header.names, _csv_options(header.names, column_types), ragged, records)

    if types:
        try:
            table = parse(types, multiline)
        except pa.ArrowInvalid:
            pass  # a value that does not convert (or a broken file): the text read below says which
        else:
            if not _rounded(table, types):
                return table
    try:
        return parse(None, multiline)
    except pa.ArrowInvalid as exc:
        if not multiline:
            try:
                return parse(None, True)  # a quoted line break where a block ended
            except pa.ArrowInvalid:
                pass
        problem = _utf8_problem(data, label)  # read again only on this error path
        if problem is not None:
            raise problem from exc
        raise DataValidationError(
            f"{label} could not be parsed as CSV: {exc}. Check the quotes and separators."
        ) from exc


def _sample(data: pa.Buffer | Path, names: list[str], rows: int = 1000) -> pa.Table:
    """The first ``rows`` rows as text (for the mapping preview, detection and planning column types)."""
    head = _head(data, 1 << 20)
    lines = head.split(b"\n")[: rows + 1]
    if len(lines) > 1 and len(head) == 1 << 20:
        lines = lines[:-1]  # the last line may be cut at the 1 MB boundary
    with _quiet_rows():
        return pacsv.read_csv(
            io.BytesIO(b"\n".join(lines)),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=_RowHandler()),
            convert_options=_csv_options(names, None),
        )


def _header(data: pa.Buffer | Path, label: str) -> Header:
    first = _head(data, 1 << 20).split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8-sig").strip("\r\n")
    except UnicodeDecodeError as exc:
        problem = _utf8_problem(data, label)
        raise (problem or DataValidationError(f"{label}: the header is not UTF-8 text.")) from exc
    if not line.strip():
        raise DataValidationError(f"{label} has no header row. The first line must name the columns.")
    header = _named(next(iter(csv.reader([line]))))
    names = header.names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataValidationError(
            f"{label}: the header repeats the column name '{dupes[0]}'. Column names must be unique."
        )
    return header
