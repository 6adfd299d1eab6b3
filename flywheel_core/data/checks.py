"""Checking and normalising every row of a parsed log: empty ids, dates and Unix times, numbers, lengths.

Problems are collected per row as boolean masks with counts and example rows; nothing is refused here, the
caller decides (refuse the file, or keep the valid rows).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.columns import ANONYMOUS, KEY_SEPARATOR, REQUIRED_ROLES, ColumnMap
from flywheel_core.data.reading import Limits
from flywheel_core.exceptions import DataValidationError, Problem

_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
_ZONED = r"(Z|z|[+-]\d{2}:?\d{2})$"
_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_EXAMPLES = 3
# What the typed read is trusted with: values the parser converts exactly as the text checks would.
_ISO_ZONED_STRICT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_NUMBER_STRICT = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


# --- checking and normalising -------------------------------------------------------------------------


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
    v = value.as_py()
    return v[:80] if isinstance(v, str) else v


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _is_text(column: pa.ChunkedArray) -> bool:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _per_value(column: pa.ChunkedArray, test: Callable[[pa.Array], pa.Array]) -> pa.ChunkedArray:
    """``test`` per row; on a dictionary column it runs once per distinct value (ids repeat a lot)."""
    if pa.types.is_dictionary(column.type):
        return pa.chunked_array([pc.take(test(chunk.dictionary), chunk.indices) for chunk in column.chunks], pa.bool_())
    return test(column)


def _blank(values: pa.Array) -> pa.Array:
    """Empty or only white space (a length cast to bool: no Python scalar, so no pandas import)."""
    return pc.or_kleene(pc.invert(pc.cast(pc.utf8_length(values), pa.bool_())), pc.utf8_is_space(values))


def _encoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One dictionary-encoded chunk (ids: checked per distinct value, stored small, read fast)."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(_as_strings(column))
    return pa.chunked_array([column.combine_chunks()]) if column.num_chunks != 1 else column


def _timestamps(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    """UTC microsecond timestamps from dates, ISO text, or Unix seconds / milliseconds."""
    utc = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return pc.cast(column, utc)
    if pa.types.is_date(column.type):
        return pc.assume_timezone(pc.cast(pc.cast(column, pa.timestamp("us")), pa.timestamp("us")), "UTC")
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        seconds = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        missing = ~np.isfinite(seconds)  # a null, NaN or infinity is no time
        check.flag(f"{name}: not a date or time", missing, column)
        return _unix(seconds, missing, check, name, column)
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
                    return pc.cast(text, utc)
                return pc.assume_timezone(pc.cast(text, pa.timestamp("us")), "UTC")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    numeric = _mask(pc.match_substring_regex(text, _NUMBER))
    if numeric[~empty].all() and (~empty).any():
        seconds = pc.cast(pc.if_else(pa.array(empty), "0", text), pa.float64()).to_numpy()
        return _unix(seconds, empty, check, name, column)
    iso = _mask(pc.match_substring_regex(text, _ISO))
    check.flag(f"{name}: not a date or time", ~iso & ~empty, column)
    ok = pa.array(iso)
    placeholder = "1970-01-01T00:00:00Z"
    cleaned = pc.if_else(ok, pc.replace_substring_regex(text, "z$", "Z"), placeholder)
    zoned = _mask(pc.match_substring_regex(cleaned, _ZONED))
    try:
        as_zoned = pc.cast(pc.if_else(pa.array(zoned), cleaned, placeholder), utc)
        naive = pc.cast(pc.if_else(pa.array(zoned), "1970-01-01T00:00:00", cleaned), pa.timestamp("us"))
    except pa.ArrowInvalid:
        return _timestamps_slow(text, iso, check, name, column)
    return pc.if_else(pa.array(zoned), as_zoned, pc.assume_timezone(naive, "UTC"))


def _unix(
    seconds: np.ndarray, missing: np.ndarray, check: _Checker, name: str, column: pa.ChunkedArray
) -> pa.ChunkedArray:
    """Unix seconds, milliseconds or microseconds (told apart by their median size) as UTC timestamps."""
    known = np.abs(seconds[~missing])
    middle = float(np.median(known)) if known.size else 0.0
    scale = 1e6 if middle < 1e11 else 1e3 if middle < 1e14 else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        micros = np.round(seconds * scale)
        out_of_range = ~missing & ((micros < -62_135_596_800e6) | (micros > 253_402_300_799e6))
    check.flag(f"{name}: Unix time out of range", out_of_range, column)
    micros[missing | out_of_range] = 0
    return pa.chunked_array([pa.array(micros.astype("int64"), type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))])


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


def _numbers(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    """float64 from text; empty means missing; non-numbers, NaN and infinities are rejected."""
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        values = pc.cast(column, pa.float64())
        check.flag(f"{name}: NaN or infinite number", pc.invert(pc.is_finite(values)), column)  # null: not flagged
        return values
    text = pc.utf8_trim_whitespace(_as_strings(column))
    empty = _mask(pc.equal(pc.utf8_length(text), 0)) | _mask(pc.is_null(text))
    try:  # fast path: one cast of the whole column
        values = pc.cast(pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        arr = values.to_numpy(zero_copy_only=False)
        check.flag(f"{name}: NaN or infinite number", ~np.isfinite(arr) & ~empty, column)
        return values
    numeric = _mask(pc.match_substring_regex(text, _NUMBER))
    lowered = pc.utf8_lower(text)
    special = _mask(pc.is_in(lowered, pa.array(["nan", "inf", "+inf", "-inf", "infinity", "-infinity", "+infinity"])))
    check.flag(f"{name}: NaN or infinite number", special, column)
    check.flag(f"{name}: not a number", ~numeric & ~empty & ~special, column)
    usable = pa.array(numeric)
    values = pc.cast(pc.if_else(usable, text, "0"), pa.float64())
    return pc.if_else(usable, values, pa.scalar(None, pa.float64()))


def _key(table: pa.Table, parts: tuple[str, ...], check: _Checker, role: str) -> pa.ChunkedArray:
    """One key from several columns: their text joined by the unit separator (a part holding it is refused)."""
    texts = [_as_strings(table.column(part)) for part in parts]
    for part, text in zip(parts, texts, strict=True):
        check.flag(
            f"{part}: holds the unit separator (0x1F), which joins the {role} key's columns",
            pc.match_substring(text, KEY_SEPARATOR),
            text,
        )
    joined = pc.binary_join_element_wise(*texts, arrow_texts([KEY_SEPARATOR])[0])
    return joined if isinstance(joined, pa.ChunkedArray) else pa.chunked_array([joined])


def _normalize(
    table: pa.Table, mapping: ColumnMap, limits: Limits, label: str, scan_line_breaks: bool = True
) -> tuple[pa.Table, _Checker]:
    n = table.num_rows
    check = _Checker(n)
    missing = [role for role in REQUIRED_ROLES if not mapping.has(role)]
    if missing:
        raise DataValidationError(
            f"{label}: no column for the required role{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}. Columns found: {', '.join(table.column_names[:20])}. "
            "Map a column to each role (e.g. --column user=customer_id); a user can also be built from several "
            "columns (--column user=a+b), taken from the session (--user-from session) or be one anonymous "
            "user (--anonymous-user).",
            [Problem(f"required role '{m}' is not mapped") for m in missing],
        )
    out: dict[str, pa.ChunkedArray] = {}
    if mapping.user_from == ANONYMOUS:
        out["user"] = repeated_text(ANONYMOUS, n)
    for role in ("user", "item", "event", "session", "model_version"):
        sources = mapping.sources(role)
        if not sources:
            continue
        column = _key(table, sources, check, role) if len(sources) > 1 else table.column(sources[0])
        text = _encoded(column) if role != "session" else _as_strings(column)
        if role in ("user", "event"):
            name = mapping.roles[role]
            check.flag(f"{name}: empty {role}", pc.or_kleene(_per_value(text, _blank), pc.is_null(text)), column)
        out[role] = text
    out["timestamp"] = _timestamps(table.column(mapping.roles["timestamp"]), check, mapping.roles["timestamp"])
    for role in ("value", "score", "propensity"):
        if role in mapping.roles:
            out[role] = _numbers(table.column(mapping.roles[role]), check, mapping.roles[role])
    for feature in mapping.features:
        column = table.column(feature)
        name = _feature_name(feature)
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            out[name] = _numbers(column, check, feature)
            continue
        text = pc.utf8_trim_whitespace(_as_strings(column))
        empty = pc.equal(pc.utf8_length(text), 0)
        try:  # a column of numbers (blanks allowed) is numeric; anything else is a category
            values = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), text), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[name] = text
        else:
            arr = values.to_numpy(zero_copy_only=False)
            check.flag(f"{feature}: NaN or infinite number", ~np.isfinite(arr) & ~_mask(empty), column)
            out[name] = values
    # Length and line-break checks run on the text as read; an encoded id column is checked per distinct value.
    encoded = {
        mapping.roles[r]: out[r]
        for r in ("user", "item", "event", "model_version")
        if r in mapping.roles and len(mapping.sources(r)) == 1
    }
    for source in mapping.columns():
        column = encoded.get(source, table.column(source))
        if not _is_text(column):
            continue
        if _max_bytes(column) > limits.max_field_chars:  # a character takes at least a byte: skip short columns
            check.flag(
                f"{source}: field longer than {limits.max_field_chars:,} characters",
                _per_value(column, lambda v: pc.greater(pc.utf8_length(v), limits.max_field_chars)),
                None,
            )
        if scan_line_breaks:
            check.flag(
                f"{source}: line break inside a field (an unterminated quote?)",
                _per_value(column, lambda v: pc.or_(pc.match_substring(v, "\n"), pc.match_substring(v, "\r"))),
                column,
            )
    return pa.table(out), check


def plan_types(sample: pa.Table, mapping: ColumnMap) -> dict[str, pa.DataType]:
    """Types for a fast typed read of the mapped columns, guessed from the first rows (all text).

    Only values these checks would accept unchanged are guessed as numbers or times; ids always stay
    text. If a later value does not fit, the reader falls back to text and the checks name it.
    """
    if sample.num_rows == 0 or not all(mapping.has(role) for role in REQUIRED_ROLES):
        return {}
    types: dict[str, pa.DataType] = dict.fromkeys(mapping.columns(), pa.string())

    def values(name: str) -> pa.Array:
        return sample.column(name).combine_chunks()

    def all_match(name: str, pattern: str) -> bool:
        return bool(pc.all(pc.match_substring_regex(values(name), pattern)).as_py())

    stamp = mapping.roles["timestamp"]
    if all_match(stamp, _ISO_ZONED_STRICT):
        types[stamp] = pa.timestamp("us", tz="UTC")
    elif all_match(stamp, _NUMBER_STRICT):
        types[stamp] = pa.float64()
    for name in [*(mapping.roles.get(r) for r in ("value", "score", "propensity")), *mapping.features]:
        if name is not None and name != stamp and all_match(name, _NUMBER_STRICT):
            types[name] = pa.float64()
    return types


def _max_bytes(column: pa.ChunkedArray) -> int:
    values = [c.dictionary for c in column.chunks] if pa.types.is_dictionary(column.type) else column.chunks
    return max((pc.max(pc.binary_length(v)).as_py() or 0 for v in values), default=0)


def _feature_name(column: str) -> str:
    base = re.sub(r"[^a-zA-Z0-9_]+", "_", column).strip("_").lower() or "feature"
    return base if base.startswith("f_") else f"f_{base}"
