"""Checking and normalising every row of a parsed log: column types, empty ids, times, numbers, lengths,
line breaks and NUL bytes in every mapped field.

Problems are collected per row as boolean masks with counts and example rows; nothing is refused here but
a column that cannot be read at all (a list or struct column), the caller decides (refuse the file, or keep
the valid rows). The value conversions live in :mod:`flywheel_core.data.values`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.columns import ANONYMOUS, KEY_SEPARATOR, REQUIRED_ROLES, ColumnMap
from flywheel_core.data.reading import Limits
from flywheel_core.data.values import (
    _EXAMPLES,
    _as_strings,
    _big_integers,
    _Checker,
    _mask,
    _numbers,
    _timestamps,
    arrow_float,
    arrow_int,
    arrow_texts,
    repeated_text,
)
from flywheel_core.exceptions import DataValidationError, Problem

__all__ = ["_EXAMPLES", "arrow_float", "arrow_int", "arrow_texts", "plan_types", "repeated_text"]
# What the typed read is trusted with: values the parser converts exactly as the text checks would.
_ISO_ZONED_STRICT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_NUMBER_STRICT = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


# --- checking and normalising -------------------------------------------------------------------------


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


_KINDS = {"id": "an id", "timestamp": "a time", "number": "a number", "feature": "a feature"}
_WHAT_TO_DO = {
    "id": "Export it as text or whole numbers (one value per row), or map another column.",
    "timestamp": "Export it as a timestamp, ISO 8601 text or Unix seconds, or map another column.",
    "number": "Export it as numbers (one per row), or map another column.",
    "feature": "Export it as text or numbers (one value per row), or leave it out of the features.",
}


def _readable(column: pa.ChunkedArray, kind: str, name: str, label: str) -> pa.ChunkedArray:
    """The column if its type can hold ``kind`` values (binary read as UTF-8 text), else a clear refusal."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    dtype = column.type
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        try:
            return pc.cast(
                pc.cast(column, pa.binary()) if pa.types.is_fixed_size_binary(dtype) else column, pa.string()
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataValidationError(
                f"{label}: column '{name}' holds binary data ({dtype}) that is not UTF-8 text, so it cannot be "
                f"read as {_KINDS[kind]}. {_WHAT_TO_DO[kind]}",
                [Problem(f"binary column ({dtype}) is not UTF-8 text", column=name)],
            ) from exc
    plain = pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_null(dtype)
    allowed = {
        "id": plain or pa.types.is_integer(dtype) or pa.types.is_boolean(dtype) or pa.types.is_decimal(dtype),
        "timestamp": plain
        or pa.types.is_timestamp(dtype)
        or pa.types.is_date(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype),
        "number": plain
        or pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_boolean(dtype),
        "feature": not pa.types.is_nested(dtype),
    }[kind] or (kind == "id" and pa.types.is_floating(dtype))
    if not allowed:
        nested = pa.types.is_nested(dtype)
        shape = "nested values (lists, structs or maps) " if nested else ""
        raise DataValidationError(
            f"{label}: column '{name}' holds {shape}of type {dtype}, which cannot be read as {_KINDS[kind]}. "
            + (
                "Flatten it to one value per row before exporting, or map another column."
                if nested
                else _WHAT_TO_DO[kind]
            ),
            [Problem(f"column of type {dtype} cannot be {_KINDS[kind]}", column=name)],
        )
    return column


def _typed(table: pa.Table, mapping: ColumnMap, label: str) -> pa.Table:
    """The mapped columns checked for types they can be read as (a Parquet file may hold anything)."""
    kinds = {
        source: "id"
        for role in ("user", "item", "event", "session", "model_version")
        for source in mapping.sources(role)
    }
    kinds[mapping.roles["timestamp"]] = "timestamp"
    for role in ("value", "score", "propensity"):
        if role in mapping.roles:
            kinds[mapping.roles[role]] = "number"
    for feature in mapping.features:
        kinds.setdefault(feature, "feature")
    for source, kind in kinds.items():
        if source in table.column_names:
            column = table.column(source)
            checked = _readable(column, kind, source, label)
            if checked is not column:
                table = table.set_column(table.column_names.index(source), source, checked)
    return table


def _control_characters(column: pa.ChunkedArray) -> bool:
    """Whether any value may hold a CR, LF or NUL: a look at the raw bytes (a millisecond per million values)."""
    for chunk in column.chunks:
        values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
        data = values.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if (raw == 10).any() or (raw == 13).any() or (raw == 0).any():
            return True
    return False


def _normalize(table: pa.Table, mapping: ColumnMap, limits: Limits, label: str) -> tuple[pa.Table, _Checker]:
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
    table = _typed(table, mapping, label)
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
        if pa.types.is_integer(column.type) and pc.any(_big_integers(column, column)).as_py():
            out[name] = pc.cast(column, pa.string())  # integers a float cannot hold exactly: a category, kept exact
            continue
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
            out[name] = _numbers(column, check, feature)
            continue
        text = pc.utf8_trim_whitespace(_as_strings(column))
        empty = pc.equal(pc.utf8_length(text), 0)
        try:  # a column of numbers (blanks allowed) is numeric; anything else is a category
            values = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), text), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[name] = text
            continue
        if pc.any(_big_integers(text, values)).as_py():
            out[name] = text  # as above: whole numbers beyond 2^53 stay exact as text
        else:
            arr = values.to_numpy(zero_copy_only=False)
            check.flag(f"{feature}: NaN or infinite number", ~np.isfinite(arr) & ~_mask(empty), column)
            out[name] = values
    # Length, line-break and NUL checks run on the text as read, in every mapped column of the whole file;
    # an encoded id column is checked per distinct value.
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
        if _control_characters(column):
            check.flag(
                f"{source}: line break inside a field (an unterminated quote?)",
                _per_value(column, lambda v: pc.or_(pc.match_substring(v, "\n"), pc.match_substring(v, "\r"))),
                column,
            )
            check.flag(
                f"{source}: NUL byte (0x00) inside a field (binary data?)",
                _per_value(column, lambda v: pc.match_substring(v, "\x00")),
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
