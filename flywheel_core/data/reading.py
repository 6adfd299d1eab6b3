"""Reading an interaction log's bytes: size and kind checks, gzip within the limit, CSV and Parquet parsing.

Every column of a CSV is read as text, so that the row checks (:mod:`flywheel_core.data.checks`) can name each
bad value.
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.exceptions import DataValidationError, LimitExceededError, Problem

if TYPE_CHECKING:
    from flywheel_core.config import Settings

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Input limits enforced in the core (the browser's upload limit is only a first fence)."""

    max_bytes: int = 1024 * 1024 * 1024
    max_rows: int = 20_000_000
    max_field_chars: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_upload_bytes, settings.max_rows, settings.max_field_chars)


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
        return pa.py_buffer(_inflate(raw, limits, label))
    return source if isinstance(source, Path) else pa.py_buffer(source)


def _inflate(raw: bytes, limits: Limits, label: str) -> bytes:
    """Inflate gzip data chunk by chunk, refusing as soon as the output passes the limit."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), 1 << 20):
            out += inflater.decompress(view[start : start + (1 << 20)], limits.max_bytes + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= limits.max_bytes:
                out += inflater.decompress(inflater.unconsumed_tail, limits.max_bytes + 1 - len(out))
            if len(out) > limits.max_bytes:
                raise LimitExceededError(
                    f"{label} inflates past the limit of {limits.max_bytes / 1e6:,.0f} MB; nothing was stored. "
                    "Split the file, or raise FLYWHEEL_MAX_UPLOAD_MB."
                )
        out += inflater.flush()
    except (zlib.error, EOFError) as exc:
        raise DataValidationError(
            f"{label} is not a valid gzip file ({exc}). Re-compress it or upload it uncompressed."
        ) from exc
    return bytes(out)


def _count_lines(data: pa.Buffer | Path) -> int:
    """Physical lines in a text file, counted in 8 MB chunks (cheap next to parsing)."""
    lines, last = 0, b"\n"
    if isinstance(data, Path):
        with data.open("rb") as handle:
            while block := handle.read(8 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
    else:
        view = np.frombuffer(data, dtype=np.uint8)
        for start in range(0, len(view), 8 << 20):
            lines += int(np.count_nonzero(view[start : start + (8 << 20)] == 10))
        last = bytes(view[-1:])
    return lines + (0 if last == b"\n" else 1)


def _is_parquet(data: pa.Buffer | Path) -> bool:
    if isinstance(data, Path):
        with data.open("rb") as handle:
            return handle.read(4) == b"PAR1"
    return data.size >= 4 and data[:4].to_pybytes() == b"PAR1"


def _check_text(data: pa.Buffer | Path, label: str) -> None:
    sample = data.open("rb").read(65536) if isinstance(data, Path) else data[:65536].to_pybytes()
    if b"\x00" in sample:
        raise DataValidationError(
            f"{label} is not a CSV text file (it contains binary data). Export the log as CSV or Parquet."
        )


def _utf8_problem(data: pa.Buffer | Path, label: str) -> DataValidationError:
    raw = data.read_bytes() if isinstance(data, Path) else data.to_pybytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        snippet = raw[max(0, exc.start - 20) : exc.start + 5]
        return DataValidationError(
            f"{label} is not valid UTF-8 text: line {line} (byte {exc.start:,}) has the bytes "
            f"{snippet!r}. Save the file as UTF-8 and upload it again.",
            [Problem("invalid UTF-8", row=line - 1)],
        )
    return DataValidationError(f"{label} could not be read as UTF-8 text. Save it as UTF-8 and try again.")


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


def _read_table(
    data: pa.Buffer | Path,
    limits: Limits,
    label: str,
    ragged: list[str],
    types: dict[str, pa.DataType] | None = None,
) -> pa.Table:
    """Parse the whole file. ``types`` (column -> type) reads just those columns, converted by the parser.

    A typed read is a fast path: if any value does not convert, the file is read again with every
    column as text, so the row checks can name each bad value.
    """
    if _is_parquet(data):
        try:
            return pq.read_table(data if isinstance(data, Path) else pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:
            raise DataValidationError(f"{label} is not a readable Parquet file ({exc}).") from exc
    _check_text(data, label)
    header = _header(data, label)

    def on_invalid(row: Any) -> str:
        if len(ragged) < 10_000:
            ragged.append(f"expected {row.expected_columns} fields, got {row.actual_columns}: {row.text[:120]!r}")
        return "skip"

    def parse(column_types: dict[str, pa.DataType] | None) -> pa.Table:
        ragged.clear()
        return pacsv.read_csv(
            str(data) if isinstance(data, Path) else pa.BufferReader(data),
            read_options=pacsv.ReadOptions(block_size=4 << 20),  # 4 MB: both cores busy, few chunks
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
            convert_options=_csv_options(header, column_types),
        )

    if types:
        try:
            return parse(types)
        except pa.ArrowInvalid:
            pass  # a value that does not convert (or a broken file): the text read below says which
    try:
        return parse(None)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise _utf8_problem(data, label) from exc
        raise DataValidationError(
            f"{label} could not be parsed as CSV: {exc}. Check the quotes and separators."
        ) from exc


def _sample(data: pa.Buffer | Path, names: list[str], rows: int = 200) -> pa.Table:
    """The first ``rows`` rows as text (for the mapping preview and for planning column types)."""
    head = data.open("rb").read(1 << 20) if isinstance(data, Path) else data[: min(data.size, 1 << 20)].to_pybytes()
    lines = head.split(b"\n")[: rows + 1]
    if len(lines) > 1 and len(head) == 1 << 20:
        lines = lines[:-1]  # the last line may be cut at the 1 MB boundary
    return pacsv.read_csv(
        io.BytesIO(b"\n".join(lines)),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _r: "skip"),
        convert_options=_csv_options(names, None),
    )


def _header(data: pa.Buffer | Path, label: str) -> list[str]:
    first = (
        data.open("rb").readline(1 << 20)
        if isinstance(data, Path)
        else data[: min(data.size, 1 << 20)].to_pybytes().split(b"\n", 1)[0]
    )
    try:
        line = first.decode("utf-8-sig").strip("\r\n")
    except UnicodeDecodeError as exc:
        raise _utf8_problem(data, label) from exc
    if not line.strip():
        raise DataValidationError(f"{label} has no header row. The first line must name the columns.")
    names = next(iter(csv.reader([line])))
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise DataValidationError(
            f"{label}: header column {blank[0]} has no name. Name every column in the first line."
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataValidationError(
            f"{label}: the header repeats the column name '{dupes[0]}'. Column names must be unique."
        )
    return names
