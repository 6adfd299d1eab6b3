"""Converting a log's values row by row: timestamps (dates, ISO text, Unix times) and numbers.

Each value that cannot be converted is flagged in its row (a :class:`_Checker` collects the flags with
counts and example rows) and left as a placeholder; :mod:`flywheel_core.data.checks` decides what to refuse.
The ``arrow_*`` helpers build scalars and arrays from bytes, so that a clean import never imports pandas.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_float", "arrow_int", "arrow_texts", "repeated_text"]

_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
_ZONED = r"(Z|z|[+-]\d{2}:?\d{2})$"
_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_INTEGER = r"^\s*[+-]?\d+\s*$"
_EXAMPLES = 3


class _Checker:
    """Collects per-row problems as boolean masks, with counts and example rows.

    A mask may be a NumPy array or an Arrow boolean array (null counts as not flagged). Arrow masks
    are counted in Arrow and only turned into NumPy when they flag something: converting to NumPy makes
    pyarrow import pandas, which a clean file never needs (a large share of a command's start-up).
    """

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.reasons: dict[str, int] = {}
        self.examples: dict[str, list[dict[str, Any]]] = {}

    def flag(self, reason: str, mask: np.ndarray | pa.Array | pa.ChunkedArray, column: pa.ChunkedArray | None) -> None:
        if not isinstance(mask, np.ndarray):
            if not pc.sum(mask).as_py():
                return
            mask = _mask(mask)
        count = int(mask.sum())
        if not count:
            return
        self.bad |= mask
        self.reasons[reason] = self.reasons.get(reason, 0) + count
        rows = np.flatnonzero(mask)[:_EXAMPLES]
        self.examples.setdefault(reason, []).extend(
            {"row": int(r) + 1, "value": None if column is None else _scalar(column[int(r)])} for r in rows
        )


def arrow_int(value: int) -> pa.Scalar:
    """An int64 Arrow scalar built from its bytes: ``pa.scalar(5)`` (and a Python value passed to a compute
    function) makes pyarrow import pandas, which a clean import never needs."""
    return pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(struct.pack("<q", value))])[0]


def arrow_float(value: float) -> pa.Scalar:
    """A float64 Arrow scalar built from its bytes (see :func:`arrow_int`)."""
    return pa.Array.from_buffers(pa.float64(), 1, [None, pa.py_buffer(struct.pack("<d", value))])[0]


def arrow_texts(values: list[str]) -> pa.Array:
    """A string array built from its bytes (see :func:`arrow_int`)."""
    data = [v.encode() for v in values]
    offsets = np.cumsum([0, *map(len, data)], dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(data), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(data))]
    )


def repeated_text(value: str, n: int) -> pa.ChunkedArray:
    """``value`` in each of ``n`` rows, dictionary-encoded (one value, all-zero indices)."""
    indices = pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(bytes(4 * n))])
    return pa.chunked_array([pa.DictionaryArray.from_arrays(indices, arrow_texts([value]))])


def _scalar(value: pa.Scalar) -> Any:
    """An example value for the report: text cut to 80 characters; times as ISO text (any year, no datetime)."""
    if pa.types.is_temporal(value.type):
        return pc.cast(value, pa.string()).as_py()
    v = value.as_py()
    return v[:80] if isinstance(v, str) else v


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


_FIRST_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z, the first instant a date can hold
_LAST_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_UTC = pa.timestamp("us", tz="UTC")


def _timestamps(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    """UTC microsecond timestamps from dates, ISO text, or Unix seconds / milliseconds / micro- or nanoseconds.

    A missing value, or a time before year 1 or after year 9999, is flagged in its row (and left as 1970).
    """
    stamps = _to_utc(column, check, name)
    micros = pc.cast(stamps, pa.int64())
    outside = pc.or_(pc.less(micros, arrow_int(_FIRST_US)), pc.greater(micros, arrow_int(_LAST_US)))
    if pc.any(outside).as_py():
        check.flag(f"{name}: before year 1 or after year 9999", outside, column)
        micros = pc.if_else(outside, arrow_int(0), micros)
        stamps = pc.cast(micros, _UTC)
    if stamps.null_count:  # flagged by the converters as empty or not a time; a placeholder keeps the column whole
        stamps = pc.fill_null(stamps, pc.cast(arrow_int(0), _UTC))
    return stamps if isinstance(stamps, pa.ChunkedArray) else pa.chunked_array([stamps])


def _to_utc(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        check.flag(f"{name}: empty timestamp", pc.is_null(column), column)
        if pa.types.is_date(column.type):
            column = pc.cast(column, pa.timestamp("s" if pa.types.is_date32(column.type) else "ms"))
        unit = column.type.unit
        raw = pc.cast(column, pa.int64())
        per_us = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(unit)
        if per_us is not None:  # a wider unit can hold what microseconds cannot: range first, then cast
            lo, hi = -(2**63) // per_us + 1, (2**63 - 1) // per_us
            wide = pc.or_(pc.less(raw, arrow_int(lo)), pc.greater(raw, arrow_int(hi)))
            if pc.any(wide).as_py():
                check.flag(f"{name}: before year 1 or after year 9999", wide, column)
                raw = pc.if_else(wide, arrow_int(0), raw)
            micros = pc.multiply(raw, arrow_int(per_us))
        else:  # nanoseconds: kept to the microsecond (rounded down), as every stored time is
            truncated = pc.divide(raw, arrow_int(1000))  # toward zero: one less below zero when there is a rest
            below = pc.and_(pc.less(raw, arrow_int(0)), pc.not_equal(pc.multiply(truncated, arrow_int(1000)), raw))
            micros = pc.if_else(below, pc.subtract(truncated, arrow_int(1)), truncated)
        return pc.cast(micros, _UTC)
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        missing = _mask(pc.invert(pc.is_finite(pc.cast(column, pa.float64(), safe=False))))  # null, NaN, infinity
        check.flag(f"{name}: not a date or time", missing, column)
        return _unix(column, missing, check, name, column)
    text = pc.utf8_trim_whitespace(_as_strings(column))
    empty = _mask(pc.equal(pc.utf8_length(text), 0)) | _mask(pc.is_null(text))
    check.flag(f"{name}: empty timestamp", empty, column)
    if not empty.any():  # fast paths: the whole column in one cast, no per-value regex
        for kind in ("numeric", "zoned", "naive"):
            try:
                if kind == "numeric":
                    pc.cast(text.slice(0, 1000), pa.float64())
                    break
                if kind == "zoned":
                    return pc.cast(text, _UTC)
                return pc.assume_timezone(pc.cast(text, pa.timestamp("us")), "UTC")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    numeric = _mask(pc.match_substring_regex(text, _NUMBER))
    iso = _mask(pc.match_substring_regex(text, _ISO))
    if numeric.sum() > iso.sum():  # a column of Unix times: each value that is not a number is refused alone
        check.flag(f"{name}: not a date or time", ~numeric & ~empty, column)
        usable = pa.array(numeric)
        integers = _mask(pc.match_substring_regex(text, _INTEGER))
        values: pa.ChunkedArray | None = None
        if integers[numeric].all():  # whole numbers are read exactly (nanoseconds pass 2^53)
            with contextlib.suppress(pa.ArrowInvalid):  # beyond int64: read as a float below, out of range
                values = pc.cast(pc.if_else(usable, pc.utf8_ltrim(text, "+"), "0"), pa.int64())
        if values is None:
            values = pc.cast(pc.if_else(usable, text, "0"), pa.float64())
        return _unix(values, ~numeric, check, name, column)
    check.flag(f"{name}: not a date or time", ~iso & ~empty, column)
    ok = pa.array(iso)
    placeholder = "1970-01-01T00:00:00Z"
    cleaned = pc.if_else(ok, pc.replace_substring_regex(text, "z$", "Z"), placeholder)
    zoned = _mask(pc.match_substring_regex(cleaned, _ZONED))
    try:
        as_zoned = pc.cast(pc.if_else(pa.array(zoned), cleaned, placeholder), _UTC)
        naive = pc.cast(pc.if_else(pa.array(zoned), "1970-01-01T00:00:00", cleaned), pa.timestamp("us"))
    except pa.ArrowInvalid:
        return _timestamps_slow(text, iso, check, name, column)
    return pc.if_else(pa.array(zoned), as_zoned, pc.assume_timezone(naive, "UTC"))


def _unix(
    values: pa.ChunkedArray | pa.Array, missing: np.ndarray, check: _Checker, name: str, column: pa.ChunkedArray
) -> pa.ChunkedArray:
    """Unix seconds, milliseconds, microseconds or nanoseconds (told apart by their median size) as UTC
    timestamps. Whole numbers are scaled in integers, so none is rounded through a float."""
    exact = pa.types.is_integer(values.type)
    numbers = np.asarray(pc.fill_null(pc.cast(values, pa.float64(), safe=False), 0.0).to_numpy(zero_copy_only=False))
    known = np.abs(numbers[~missing])
    middle = float(np.median(known)) if known.size else 0.0
    scale = 1e6 if middle < 1e11 else 1e3 if middle < 1e14 else 1e-3 if 1e17 <= middle < 2**63 else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        approx = numbers * scale  # for the range check: a float is close enough to tell year 1 from year 10000
        out_of_range = ~missing & ((approx < _FIRST_US - 1) | (approx > _LAST_US + 1))
    check.flag(f"{name}: Unix time out of range", out_of_range, column)
    unused = missing | out_of_range
    if exact:
        whole = np.asarray(pc.fill_null(pc.cast(values, pa.int64(), safe=False), 0).to_numpy(zero_copy_only=False))
        whole = np.where(unused, 0, whole)
        micros = whole * int(scale) if scale >= 1 else np.floor_divide(whole, 1000)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            micros = np.round(np.where(unused, 0.0, approx)).astype("int64")
    return pa.chunked_array([pa.array(micros.astype("int64"), type=pa.int64()).cast(_UTC)])


def _timestamps_slow(
    text: pa.ChunkedArray, iso: np.ndarray, check: _Checker, name: str, column: pa.ChunkedArray
) -> pa.ChunkedArray:
    """Per-value parsing, only when an ISO-looking value is not a real date (e.g. 2026-13-45)."""
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(text.to_pylist()), utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy() & iso
    check.flag(f"{name}: not a date or time", bad, column)
    micros = parsed.fillna(pd.Timestamp(0, tz="UTC")).dt.as_unit("us").astype("int64")
    return pa.chunked_array([pa.array(micros.to_numpy()).cast(pa.timestamp("us", tz="UTC"))])


_BIG = "whole number of 2^53 (9,007,199,254,740,992) or more, which a number column cannot hold exactly"


def _big_integers(column: pa.ChunkedArray | pa.Array, values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Rows whose value is a whole number a float64 cannot hold exactly: integers (or integer text) of 2^53 or more."""
    exact = arrow_float(float(2**53))
    if pa.types.is_integer(column.type):  # 32 bits and fewer cannot get there (nor can a float column)
        return pc.greater_equal(pc.abs(pc.cast(column, pa.float64(), safe=False)), exact)
    large = pc.greater_equal(pc.abs(values), exact)
    if not pc.any(large).as_py():
        return large
    return pc.and_(large, pc.match_substring_regex(_as_strings(column), _INTEGER))


def _numbers(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    """float64 from numbers or text; empty means missing; non-numbers, NaN, infinities and integers too large
    to be exact (beyond 2^53) are rejected."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type) or pa.types.is_decimal(column.type):
        values = pc.cast(column, pa.float64(), safe=False)
        check.flag(f"{name}: NaN or infinite number", pc.invert(pc.is_finite(values)), column)  # null: not flagged
        if pa.types.is_integer(column.type) and column.type.bit_width > 32:
            check.flag(f"{name}: {_BIG}", _big_integers(column, values), column)
        return values
    if pa.types.is_boolean(column.type):
        return pc.cast(column, pa.float64())
    text = pc.utf8_trim_whitespace(_as_strings(column))
    empty = _mask(pc.equal(pc.utf8_length(text), 0)) | _mask(pc.is_null(text))
    try:  # fast path: one cast of the whole column
        values = pc.cast(pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        arr = values.to_numpy(zero_copy_only=False)
        check.flag(f"{name}: NaN or infinite number", ~np.isfinite(arr) & ~empty, column)
        check.flag(f"{name}: {_BIG}", _big_integers(text, values), column)
        return values
    numeric = _mask(pc.match_substring_regex(text, _NUMBER))
    lowered = pc.utf8_lower(text)
    special = _mask(pc.is_in(lowered, pa.array(["nan", "inf", "+inf", "-inf", "infinity", "-infinity", "+infinity"])))
    check.flag(f"{name}: NaN or infinite number", special, column)
    check.flag(f"{name}: not a number", ~numeric & ~empty & ~special, column)
    usable = pa.array(numeric)
    values = pc.cast(pc.if_else(usable, text, "0"), pa.float64())
    check.flag(f"{name}: {_BIG}", _big_integers(text, values), column)
    return pc.if_else(usable, values, pa.scalar(None, pa.float64()))
