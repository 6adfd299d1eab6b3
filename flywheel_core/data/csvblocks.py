"""A CSV file's text as pyarrow splits it: line and quote counts, the parse in blocks, and ragged rows.

pyarrow splits a file into blocks at line breaks (fast) or at record ends (``newlines_in_values``, some 15%
slower); a record longer than a block is refused by pyarrow, so :func:`_parse_csv` tries larger blocks. The
counts here tell the caller when a file's records span lines (more lines than records), and when a quote
may be left open (an odd number of quote characters).
"""

from __future__ import annotations

import csv
import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


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
