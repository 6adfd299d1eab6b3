"""Reading an interaction log's bytes: size and kind checks, gzip within the limit, CSV and Parquet parsing.

Every column of a CSV is read as text, so that the row checks (:mod:`flywheel_core.data.checks`) can name each
bad value. Header cells without a name (the index column of a pandas ``df.to_csv()``) are named by position.
"""

from __future__ import annotations

import csv
import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

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

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_upload_bytes, settings.max_rows, settings.max_field_chars)


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
    if size > limits.max_bytes:
        raise LimitExceededError(
            f"{label} is {size / 1e6:,.1f} MB, over the limit of {limits.max_bytes / 1e6:,.0f} MB. "
            "Split it, or raise FLYWHEEL_MAX_UPLOAD_MB."
        )
    if head[:2] == b"\x1f\x8b":
        raw = source.read_bytes() if isinstance(source, Path) else source
        return inflate(raw, max_bytes=limits.max_bytes, label=label)
    return source if isinstance(source, Path) else pa.py_buffer(source)


def _breaks(block: np.ndarray, cr: bool = True) -> tuple[int, int]:
    """Line breaks as the CSV parser sees them (LF, CR LF and a lone CR; a CR LF cut by a block edge counts
    twice, which can only make a caller look closer) and quote characters. ``cr=False``: the block has no CR."""
    lines = int(np.count_nonzero(block == 10))
    if cr:
        returns = block == 13
        if returns.any():
            lines += int(np.count_nonzero(returns)) - int(np.count_nonzero(returns[:-1] & (block[1:] == 10)))
    return lines, int(np.count_nonzero(block == 34))


def _count_block(block: bytes) -> tuple[int, int]:
    """:func:`_breaks` of one block read from a file (``in`` finds a CR faster than NumPy can)."""
    return _breaks(np.frombuffer(block, dtype=np.uint8), cr=b"\r" in block)


def _count_lines(data: pa.Buffer | Path) -> tuple[int, int]:
    """Physical lines (LF, CR LF or CR) and quote characters in a text file, counted in 8 MB chunks (cheap
    next to parsing)."""
    lines, quotes, last = 0, 0, 10
    if isinstance(data, Path):
        with data.open("rb") as handle:
            while block := handle.read(8 << 20):
                more, marks = _count_block(block)
                lines, quotes, last = lines + more, quotes + marks, block[-1]
    else:
        view = np.frombuffer(data, dtype=np.uint8)
        for start in range(0, len(view), 8 << 20):
            more, marks = _breaks(view[start : start + (8 << 20)])
            lines, quotes = lines + more, quotes + marks
        last = int(view[-1]) if len(view) else 10
    return lines + (0 if last in (10, 13) else 1), quotes


def _open_quote(data: pa.Buffer | Path) -> int | None:
    """The line at which a quote left open runs into the end of the file, or None if every quote closes.

    pyarrow closes such a field silently at the end of the file, so the rows it swallowed would be lost.
    Python's csv module (strict) says so; it runs only when the file has an odd number of quote characters
    (a literal quote inside an unquoted field, as in 5", is the harmless reason for that).
    """
    raw = data.open("rb") if isinstance(data, Path) else io.BytesIO(memoryview(data))
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
        reader = csv.reader(text, strict=True)
        try:
            for _ in reader:
                pass
        except csv.Error as exc:
            return reader.line_num if "unexpected end of data" in str(exc) else None
    return None


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


# --- pyarrow's invalid-row callback, and the noise it can make ------------------------------------------


class _RowHandler:
    """pyarrow's invalid-row callback: keeps up to 10,000 ragged rows (or none) and skips them.

    pyarrow decodes a ragged row's text as strict UTF-8 *before* calling the handler; when the row is
    not UTF-8 the decode raises inside pyarrow's C callback, which Python can only report as
    "Exception ignored in ..." with a traceback on stderr (the row then fails the parse). Parsing runs
    inside :func:`_quiet_rows`, which swallows exactly those reports; the caller names the bad bytes.
    """

    def __init__(self, ragged: list[str] | None = None, give_up: bool = False) -> None:
        self.ragged = ragged
        self.give_up = give_up
        self.seen = 0
        self.undecodable = False

    def __call__(self, row: Any) -> str:
        self.seen += 1
        if self.ragged is not None and len(self.ragged) < 10_000:
            self.ragged.append(f"expected {row.expected_columns} fields, got {row.actual_columns}: {row.text[:120]!r}")
        # Thousands of ragged rows from a parse split by lines: quoted line breaks, most likely (a 50 MB field
        # of short lines calls this millions of times); stop, and let the caller split by records.
        return "error" if self.give_up and self.seen > 10_000 else "skip"


_HOOK_LOCK = threading.Lock()
_hook_users = 0
_outer_hook: Callable[[Any], object] | None = None


def _swallow_undecodable_rows(unraisable: Any) -> None:
    if isinstance(unraisable.object, _RowHandler) and isinstance(unraisable.exc_value, UnicodeDecodeError):
        unraisable.object.undecodable = True
        return
    (_outer_hook or sys.__unraisablehook__)(unraisable)


@contextmanager
def _quiet_rows() -> Iterator[None]:
    """Install the filter above while pyarrow parses (counted, so concurrent parses share it)."""
    global _hook_users, _outer_hook
    with _HOOK_LOCK:
        if _hook_users == 0:
            _outer_hook = sys.unraisablehook
            sys.unraisablehook = _swallow_undecodable_rows
        _hook_users += 1
    try:
        yield
    finally:
        with _HOOK_LOCK:
            _hook_users -= 1
            if _hook_users == 0:
                if sys.unraisablehook is _swallow_undecodable_rows:
                    sys.unraisablehook = _outer_hook or sys.__unraisablehook__
                _outer_hook = None


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


def _size(data: pa.Buffer | Path) -> int:
    return data.stat().st_size if isinstance(data, Path) else data.size


def _parse_csv(
    data: pa.Buffer | Path, names: list[str], convert: pacsv.ConvertOptions, ragged: list[str], records: bool
) -> pa.Table:
    """pyarrow's multi-threaded parse in 4 MB blocks (both cores busy, few chunks), in larger blocks when a
    record does not fit in one. ``records``: split blocks by records, not lines (see :func:`_read_table`)."""
    block, size = 4 << 20, _size(data)
    while True:
        ragged.clear()
        try:
            with _quiet_rows():
                return pacsv.read_csv(
                    str(data) if isinstance(data, Path) else pa.BufferReader(data),
                    # The names are ours (blank ones named), so skip the header.
                    read_options=pacsv.ReadOptions(block_size=block, column_names=names, skip_rows=1),
                    parse_options=pacsv.ParseOptions(
                        invalid_row_handler=_RowHandler(ragged, give_up=not records), newlines_in_values=records
                    ),
                    convert_options=convert,
                )
        except pa.ArrowInvalid as exc:
            if "straddle" not in str(exc) or block > size:
                raise
            block = min(block * 16, size + 1, (1 << 31) - 1)


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
