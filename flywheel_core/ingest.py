"""Turn an interaction log (CSV, gzip CSV, Parquet) into a trusted, stored dataset.

The file is read with pyarrow, every row is checked before anything is written, and the clean events
are stored as one Parquet file plus one database row, all or nothing (see ``Store.store_dataset``).
The path stays in pyarrow from bytes to Parquet: no pandas, so a million events import in about a
second as a whole command-line process.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel_core.exceptions import ConflictError, DataValidationError, LimitExceededError, Problem
from flywheel_core.signals import SignalDictionary, SignalSpec, default_dictionary

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.config import Settings
    from flywheel_core.storage.store import Store

__all__ = [
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ColumnMap",
    "IngestReport",
    "Limits",
    "detect_columns",
    "ingest_file",
    "preview_file",
    "store_frame",
]

REQUIRED_ROLES = ("user", "timestamp", "event")
OPTIONAL_ROLES = ("item", "value", "session", "model_version", "score")
ROLES = REQUIRED_ROLES + OPTIONAL_ROLES
_ALIASES: dict[str, tuple[str, ...]] = {
    "user": (
        "user",
        "userid",
        "uid",
        "customer",
        "customerid",
        "visitorid",
        "visitor",
        "accountid",
        "memberid",
        "clientid",
        "vehicleid",
        "player",
        "playerid",
    ),
    "timestamp": (
        "timestamp",
        "ts",
        "time",
        "eventtime",
        "datetime",
        "date",
        "createdat",
        "tsms",
        "eventtimestamp",
        "occurredat",
        "when",
    ),
    "event": ("event", "eventtype", "type", "action", "interaction", "signal", "feedback", "eventname"),
    "item": (
        "item",
        "itemid",
        "product",
        "productid",
        "aid",
        "article",
        "articleid",
        "track",
        "trackid",
        "song",
        "songid",
        "movieid",
        "contentid",
        "doc",
        "docid",
        "sku",
        "intent",
    ),
    "value": ("value", "rating", "seconds", "duration", "dwell", "dwellseconds", "amount", "stars"),
    "session": ("session", "sessionid", "visitid"),
    "model_version": ("modelversion", "model", "version", "variant"),
    "score": ("score", "modelscore", "prediction", "confidence", "uncertainty", "probability"),
}
_FEATURE_PREFIXES = ("f_", "feature_", "feat_")
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
_ZONED = r"(Z|z|[+-]\d{2}:?\d{2})$"
_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_EXAMPLES = 3


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


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
class ColumnMap:
    """Which source column plays which role; ``features`` are extra model inputs."""

    roles: dict[str, str]
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"roles": dict(self.roles), "features": list(self.features)}


@dataclass
class IngestReport:
    dataset: str
    rows_read: int = 0
    rows_stored: int = 0
    rows_rejected: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    column_map: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""
    seconds: float = 0.0
    stored: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rows_read": self.rows_read,
            "rows_stored": self.rows_stored,
            "rows_rejected": self.rows_rejected,
            "rejected_reasons": dict(self.rejected_reasons),
            "examples": self.examples,
            "column_map": self.column_map,
            "warnings": list(self.warnings),
            "content_hash": self.content_hash,
            "seconds": round(self.seconds, 3),
            "stored": self.stored,
        }


def detect_columns(names: list[str], overrides: dict[str, str] | None = None) -> ColumnMap:
    """Guess each role's column from common names; ``overrides`` (role -> column) win.

    Raises:
        DataValidationError: an override names a column the file does not have, or an unknown role.
    """
    overrides = dict(overrides or {})
    features = [c for c in overrides.pop("feature", "").split(",") if c]
    problems = []
    for role, column in overrides.items():
        if role not in ROLES:
            problems.append(Problem(f"unknown role '{role}' (roles: {', '.join(ROLES)}, feature)"))
        elif column and column not in names:
            problems.append(
                Problem(
                    f"role '{role}' is mapped to '{column}', which is not a column of the file "
                    f"(columns: {', '.join(names[:20])})"
                )
            )
    for column in features:
        if column not in names:
            problems.append(Problem(f"feature column '{column}' is not in the file"))
    if problems:
        raise DataValidationError(
            "The column mapping does not fit the file: " + "; ".join(p.describe() for p in problems), problems
        )
    roles = {role: column for role, column in overrides.items() if column}
    taken = set(roles.values())
    normalized = {_norm(n): n for n in names}
    for role in ROLES:
        if role in roles or role in overrides:
            continue
        for alias in _ALIASES[role]:
            found = normalized.get(alias)
            if found is not None and found not in taken:
                roles[role] = found
                taken.add(found)
                break
    if "user" not in roles and "session" in roles:
        roles["user"] = roles["session"]  # session-only logs (e.g. OTTO): each session is a user
    if not features:
        features = [n for n in names if n.lower().startswith(_FEATURE_PREFIXES) and n not in taken]
    return ColumnMap(roles=roles, features=tuple(features))


# --- reading ----------------------------------------------------------------------------------------


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


def _read_table(data: pa.Buffer | Path, limits: Limits, label: str, ragged: list[str]) -> pa.Table:
    if _is_parquet(data):
        try:
            return pq.read_table(data if isinstance(data, Path) else pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:
            raise DataValidationError(f"{label} is not a readable Parquet file ({exc}).") from exc
    _check_text(data, label)
    source = str(data) if isinstance(data, Path) else pa.BufferReader(data)
    header = _header(data, label)

    def on_invalid(row: Any) -> str:
        if len(ragged) < 10_000:
            ragged.append(f"expected {row.expected_columns} fields, got {row.actual_columns}: {row.text[:120]!r}")
        return "skip"

    try:
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise _utf8_problem(data, label) from exc
        raise DataValidationError(
            f"{label} could not be parsed as CSV: {exc}. Check the quotes and separators."
        ) from exc


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
    names = next(iter(__import__("csv").reader([line])))
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


# --- checking and normalising -------------------------------------------------------------------------


class _Checker:
    """Collects per-row problems as boolean masks, with counts and example rows."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.reasons: dict[str, int] = {}
        self.examples: dict[str, list[dict[str, Any]]] = {}

    def flag(self, reason: str, mask: np.ndarray, column: pa.ChunkedArray | None) -> None:
        count = int(mask.sum())
        if not count:
            return
        self.bad |= mask
        self.reasons[reason] = self.reasons.get(reason, 0) + count
        rows = np.flatnonzero(mask)[:_EXAMPLES]
        self.examples.setdefault(reason, []).extend(
            {"row": int(r) + 1, "value": None if column is None else _scalar(column[int(r)])} for r in rows
        )


def _scalar(value: pa.Scalar) -> Any:
    v = value.as_py()
    return v[:80] if isinstance(v, str) else v


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, pa.string())
    return pc.cast(column, pa.string())


def _timestamps(column: pa.ChunkedArray, check: _Checker, name: str) -> pa.ChunkedArray:
    """UTC microsecond timestamps from dates, ISO text, or Unix seconds / milliseconds."""
    utc = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return pc.cast(column, utc)
    if pa.types.is_date(column.type):
        return pc.assume_timezone(pc.cast(pc.cast(column, pa.timestamp("us")), pa.timestamp("us")), "UTC")
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
        finite = seconds[~empty]
        scale = 1e6 if np.nanmedian(np.abs(finite)) < 1e11 else 1e3 if np.nanmedian(np.abs(finite)) < 1e14 else 1.0
        micros = np.round(seconds * scale)
        out_of_range = (micros < -62_135_596_800e6) | (micros > 253_402_300_799e6)
        check.flag(f"{name}: Unix time out of range", out_of_range & ~empty, column)
        micros[empty | out_of_range] = 0
        return pa.chunked_array([pa.array(micros.astype("int64"), type=pa.int64()).cast(utc)])
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
        arr = values.to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(arr) & ~_mask(pc.is_null(values))
        check.flag(f"{name}: NaN or infinite number", bad, column)
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


def _normalize(
    table: pa.Table, mapping: ColumnMap, limits: Limits, label: str, scan_line_breaks: bool = True
) -> tuple[pa.Table, _Checker]:
    n = table.num_rows
    check = _Checker(n)
    missing = [role for role in REQUIRED_ROLES if role not in mapping.roles]
    if missing:
        raise DataValidationError(
            f"{label}: no column for the required role{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}. Columns found: {', '.join(table.column_names[:20])}. "
            "Map a column to each role (e.g. --column user=customer_id).",
            [Problem(f"required role '{m}' is not mapped") for m in missing],
        )
    out: dict[str, pa.ChunkedArray] = {}
    for role in ("user", "item", "event", "session", "model_version"):
        source = mapping.roles.get(role)
        if source is None:
            continue
        text = _as_strings(table.column(source))
        if role in ("user", "event"):
            blank = pc.or_kleene(pc.equal(pc.utf8_length(text), 0), pc.utf8_is_space(text))
            check.flag(f"{source}: empty {role}", _mask(blank) | _mask(pc.is_null(text)), table.column(source))
        out[role] = text
    out["timestamp"] = _timestamps(table.column(mapping.roles["timestamp"]), check, mapping.roles["timestamp"])
    for role in ("value", "score"):
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
    for source in {*mapping.roles.values(), *mapping.features}:
        column = table.column(source)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            check.flag(
                f"{source}: field longer than {limits.max_field_chars:,} characters",
                _mask(pc.greater(pc.utf8_length(column), limits.max_field_chars)),
                None,
            )
            if scan_line_breaks:
                check.flag(
                    f"{source}: line break inside a field (an unterminated quote?)",
                    _mask(pc.or_(pc.match_substring(column, "\n"), pc.match_substring(column, "\r"))),
                    column,
                )
    return pa.table(out), check


def _feature_name(column: str) -> str:
    base = re.sub(r"[^a-zA-Z0-9_]+", "_", column).strip("_").lower() or "feature"
    return base if base.startswith("f_") else f"f_{base}"


def _encode(table: pa.Table) -> pa.Table:
    """Dictionary-encode the repeated strings: smaller files, faster reads."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and name in (
            "user",
            "item",
            "event",
            "model_version",
        ):
            column = pc.dictionary_encode(column)
        columns[name] = column
    return pa.table(columns).combine_chunks()


# --- the whole import --------------------------------------------------------------------------------


def _hash(source: Path | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(source, Path):
        with source.open("rb") as handle:
            while block := handle.read(8 << 20):
                digest.update(block)
    else:
        digest.update(source)
    return digest.hexdigest()


def preview_file(
    source: Path | bytes, *, limits: Limits | None = None, rows: int = 20, label: str = "The file"
) -> tuple[list[str], list[dict[str, Any]], ColumnMap]:
    """Column names, the first ``rows`` rows as text, and the detected mapping (for the mapping step)."""
    limits = limits or Limits()
    data = _read_source(source, limits, label)
    if _is_parquet(data):
        table = pq.read_table(data if isinstance(data, Path) else pa.BufferReader(data)).slice(0, rows)
    else:
        _check_text(data, label)
        names = _header(data, label)
        head = data.open("rb").read(1 << 20) if isinstance(data, Path) else data[: min(data.size, 1 << 20)].to_pybytes()
        lines = head.split(b"\n")[: rows + 1]
        try:
            table = pacsv.read_csv(
                io.BytesIO(b"\n".join(lines)),
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _r: "skip"),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
            )
        except pa.ArrowInvalid as exc:
            raise DataValidationError(f"{label} could not be parsed as CSV: {exc}") from exc
    names = table.column_names
    return names, table.to_pylist(), detect_columns(names)


def ingest_file(
    store: Store,
    *,
    workspace_id: int,
    source: Path | bytes,
    dataset: str,
    actor: str,
    columns: dict[str, str] | None = None,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Read, check and store an interaction log as dataset ``dataset``.

    Parameters:
        columns: role -> source column overrides (``feature`` takes a comma-separated list).
        signals: event -> meaning overrides on top of the defaults for common names.
        skip_invalid: store the valid rows and report the rest (default: any invalid row refuses
            the whole file and nothing is stored).

    Returns:
        The report; ``stored`` says whether anything was written.

    Raises:
        DataValidationError: the file cannot be read or has invalid rows (``problems`` lists them).
        LimitExceededError: the file, a row count or a field is over the limits.
        ConflictError: the name is taken, or the same content was imported already.
    """
    from flywheel_core.storage.models import Dataset

    started = time.perf_counter()
    limits = limits or Limits.from_settings(store.settings)
    label = f"'{source_name or (source.name if isinstance(source, Path) else 'the upload')}'"
    name = dataset.strip()
    if not name or len(name) > 120:
        raise DataValidationError("A dataset name needs 1 to 120 characters.")
    report = IngestReport(dataset=name)
    note = progress or (lambda _f, _m: None)
    note(0.05, "Checking the file")
    report.content_hash = _hash(source)
    same = store.find_dataset_by_hash(workspace_id=workspace_id, content_hash=report.content_hash)
    if same is not None:
        raise ConflictError(
            f"{label} was already imported in this workspace as dataset '{same.name}'. Nothing new was stored."
        )
    data = _read_source(source, limits, label)
    note(0.15, "Reading rows")
    ragged: list[str] = []
    table = _read_table(data, limits, label, ragged)
    report.rows_read = table.num_rows + len(ragged)
    if table.num_rows + len(ragged) == 0:
        raise DataValidationError(f"{label} has a header but no rows. Add events below the header.")
    if report.rows_read > limits.max_rows:
        raise LimitExceededError(
            f"{label} has {report.rows_read:,} rows, over the limit of {limits.max_rows:,}. "
            "Split it, or raise FLYWHEEL_MAX_ROWS."
        )
    mapping = detect_columns(table.column_names, columns)
    report.column_map = mapping.to_json()
    note(0.35, "Checking every row")
    # A field can only hold a line break if the file has more lines than header + rows: skip the scan otherwise.
    scan = not _is_parquet(data) and _count_lines(data) > 1 + table.num_rows + len(ragged)
    clean, check = _normalize(table, mapping, limits, label, scan_line_breaks=scan)
    if ragged:
        reason = "wrong number of fields (ragged row or unterminated quote)"
        check.reasons[reason] = len(ragged)
        check.examples[reason] = [{"row": None, "value": text} for text in ragged[:_EXAMPLES]]
    report.rejected_reasons = dict(check.reasons)
    report.examples = check.examples
    report.rows_rejected = int(check.bad.sum()) + len(ragged)
    if any("longer than" in reason for reason in check.reasons):
        raise LimitExceededError(_refusal(label, report, "a field is over the length limit"), _problems(report))
    if report.rows_rejected and not skip_invalid:
        raise DataValidationError(_refusal(label, report, "invalid values"), _problems(report))
    if check.bad.any():
        clean = clean.filter(pa.array(~check.bad))
    if clean.num_rows == 0:
        raise DataValidationError(f"{label}: no valid rows are left to store. " + _summary(report), _problems(report))
    events = sorted(str(e) for e in pc.unique(clean.column("event")).to_pylist())
    dictionary = default_dictionary(events)
    for event, spec in (signals or {}).items():
        if event not in events:
            report.warnings.append(f"Signal '{event}' does not occur in the file's events ({', '.join(events[:12])}).")
        dictionary = dictionary.with_signal(event, spec)
    unmapped = [e for e in events if dictionary.events[e].polarity == "neutral" and dictionary.events[e].weight == 0]
    if unmapped:
        report.warnings.append(
            f"No meaning known for event{'s' if len(unmapped) > 1 else ''} "
            f"{', '.join(unmapped[:10])}: read as neutral until you map them."
        )
    report.signals = dictionary.to_json()
    note(0.6, f"Storing {clean.num_rows:,} events")
    _store(
        store,
        workspace_id=workspace_id,
        table=clean,
        report=report,
        dataset_cls=Dataset,
        source_name=source_name or (source.name if isinstance(source, Path) else ""),
        actor=actor,
        dictionary=dictionary,
    )
    report.seconds = time.perf_counter() - started
    note(1.0, "Stored")
    return report


def _store(
    store: Store,
    *,
    workspace_id: int,
    table: pa.Table,
    report: IngestReport,
    dataset_cls: Any,
    source_name: str,
    actor: str,
    dictionary: SignalDictionary,
) -> None:
    stamps = table.column("timestamp").combine_chunks().cast(pa.int64()).to_numpy()
    if not bool(np.all(stamps[1:] >= stamps[:-1])):
        table = table.sort_by("timestamp")
    table = _encode(table)
    # Distinct counts come free from the dictionary encoding (one chunk, only used values).
    users = len(table.column("user").chunk(0).dictionary) if table.num_rows else 0
    items = len(table.column("item").chunk(0).dictionary) if "item" in table.column_names and table.num_rows else 0
    ts = table.column("timestamp")
    bounds = pc.min_max(ts)
    record = dataset_cls(
        workspace_id=workspace_id,
        name=report.dataset,
        source_name=source_name[:300],
        content_hash=report.content_hash,
        file_path="",
        rows=table.num_rows,
        users=users,
        items=items,
        first_event=bounds["min"].as_py(),
        last_event=bounds["max"].as_py(),
        column_map=report.column_map,
        signal_dictionary=dictionary.to_json(),
        report={k: v for k, v in report.to_json().items() if k not in ("column_map",)},
        created_by=actor,
    )
    report.rows_stored = table.num_rows
    report.stored = True
    record.report = {k: v for k, v in report.to_json().items() if k != "column_map"}
    store.store_dataset(workspace_id=workspace_id, table=table, dataset=record, actor=actor)


def _summary(report: IngestReport) -> str:
    parts = []
    for reason, count in sorted(report.rejected_reasons.items(), key=lambda kv: -kv[1]):
        example = (report.examples.get(reason) or [{}])[0]
        where = f"first: row {example['row']}" if example.get("row") else "first"
        parts.append(f"{count:,} × {reason} ({where}: {example.get('value')!r})")
    return "; ".join(parts)


def _refusal(label: str, report: IngestReport, what: str) -> str:
    return (
        f"{label} was not stored: {report.rows_rejected:,} of {report.rows_read:,} rows are rejected ({what}). "
        f"{_summary(report)}. Fix the file, map other columns, or choose to skip invalid rows."
    )


def _problems(report: IngestReport) -> list[Problem]:
    return [
        Problem(reason, row=(report.examples.get(reason) or [{}])[0].get("row"), count=count)
        for reason, count in report.rejected_reasons.items()
    ]


def store_frame(
    store: Store,
    *,
    workspace_id: int,
    frame: pd.DataFrame,
    dataset: str,
    actor: str,
    signals: dict[str, SignalSpec] | None = None,
    source_name: str = "",
) -> IngestReport:
    """Store an in-memory event frame (canonical column names) through the same checks as a file."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    columns = {role: role for role in ROLES if role in frame.columns}
    features = [c for c in frame.columns if c.startswith("f_")]
    if features:
        columns["feature"] = ",".join(features)
    return ingest_file(
        store,
        workspace_id=workspace_id,
        source=buffer.getvalue(),
        dataset=dataset,
        actor=actor,
        columns=columns,
        signals=signals,
        source_name=source_name or f"{dataset}.parquet",
    )
