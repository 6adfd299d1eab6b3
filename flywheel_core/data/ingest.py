"""Turn an interaction log (CSV, gzip CSV, Parquet) into a trusted, stored dataset.

The file is read with pyarrow, every row is checked before anything is written, and the clean events
are stored as one Parquet file plus one database row, all or nothing (see ``Store.store_dataset``).
The path stays in pyarrow from bytes to Parquet, with no pandas. Reading lives in ``ingest_read``, the
column roles in ``ingest_columns``, the row checks in ``ingest_checks``; this module runs the whole import:
``prepare_import`` (read, check, stage the events file; no database); ``data.api.store_import`` then
stores it in one unit of work.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flywheel_core.data.checks import _EXAMPLES, _normalize, plan_types
from flywheel_core.data.columns import OPTIONAL_ROLES, REQUIRED_ROLES, ColumnMap, detect_columns
from flywheel_core.data.reading import (
    Limits,
    _check_text,
    _count_lines,
    _header,
    _is_parquet,
    _read_source,
    _read_table,
    _sample,
)
from flywheel_core.data.signals import SignalDictionary, SignalSpec, default_dictionary
from flywheel_core.exceptions import DataValidationError, LimitExceededError, Problem
from flywheel_core.storage.files import stage_parquet

if TYPE_CHECKING:
    pass


__all__ = [
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ColumnMap",
    "IngestReport",
    "Limits",
    "PreparedImport",
    "detect_columns",
    "prepare_import",
    "preview_file",
]


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


# --- reading ----------------------------------------------------------------------------------------


def _encode(table: pa.Table, compact: bool = False) -> pa.Table:
    """Dictionary-encode the repeated strings (smaller files, faster reads), each in one chunk.

    ``compact`` re-encodes columns that already are dictionaries, dropping values no row uses any
    more (after invalid rows were left out), so distinct counts can be read off the dictionaries.
    Other columns keep their chunks: the Parquet writer takes them as they are.
    """
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in ("user", "item", "event", "model_version"):
            if pa.types.is_dictionary(column.type) and compact:
                column = pc.cast(column, column.type.value_type)
            if not pa.types.is_dictionary(column.type):
                column = pc.dictionary_encode(column)
            if column.num_chunks != 1:
                column = pa.chunked_array([column.combine_chunks()])
        columns[name] = column
    return pa.table(columns)


# --- the whole import --------------------------------------------------------------------------------


def _scan(source: Path | bytes, data: pa.Buffer | Path) -> tuple[str, int | None]:
    """The source's SHA-256 and, for CSV text, its physical line count, in one pass where they coincide."""
    digest = hashlib.sha256()
    if isinstance(source, Path):
        same = isinstance(data, Path)  # not a gzip file, inflated into memory
        lines, last = 0, b"\n"
        with source.open("rb") as handle:
            while block := handle.read(8 << 20):
                digest.update(block)
                if same:
                    lines += block.count(b"\n")
                    last = block[-1:]
        if same:
            return digest.hexdigest(), None if _is_parquet(data) else lines + (0 if last == b"\n" else 1)
    else:
        digest.update(source)
    return digest.hexdigest(), None if _is_parquet(data) else _count_lines(data)


def _plan(data: pa.Buffer | Path, columns: dict[str, str] | None, label: str) -> dict[str, pa.DataType] | None:
    """Column types for the fast typed read of a CSV, or None (Parquet, or a mapping that does not fit)."""
    if _is_parquet(data):
        return None
    try:
        _check_text(data, label)
        names = _header(data, label)
        mapping = detect_columns(names, columns)
        return plan_types(_sample(data, names), mapping)
    except (DataValidationError, pa.ArrowException):
        return None  # the full read and the checks report what is wrong


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
        try:
            table = _sample(data, _header(data, label), rows)
        except pa.ArrowInvalid as exc:
            raise DataValidationError(f"{label} could not be parsed as CSV: {exc}") from exc
    names = table.column_names
    return names, table.to_pylist(), detect_columns(names)


@dataclass
class PreparedImport:
    """A log read and checked, nothing written yet: :func:`store_import` stores it or raises ``refusal``."""

    report: IngestReport
    label: str
    source_name: str
    table: pa.Table | None = None
    dictionary: SignalDictionary | None = None
    refusal: DataValidationError | None = None
    staged: Path | None = None
    started: float = field(default_factory=time.perf_counter)

    def discard(self) -> None:
        """Remove the staged events file, if it was not stored."""
        if self.staged is not None:
            self.staged.unlink(missing_ok=True)


def prepare_import(
    source: Path | bytes,
    *,
    dataset: str,
    columns: dict[str, str] | None = None,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
    stage_in: Path | None = None,
) -> PreparedImport:
    """Read and check a log without touching the database (so a caller can open it meanwhile).

    Raises at once what no database answer could change (an unreadable file, limits, the mapping);
    invalid rows become the ``refusal`` that :func:`store_import` raises after its duplicate check.
    With ``stage_in`` (the data folder), the events file is written there already; a caller that
    does not go on to :func:`store_import` calls ``discard()``.
    """
    limits = limits or Limits()
    shown = source_name or (source.name if isinstance(source, Path) else "")
    label = f"'{shown or 'the upload'}'"
    name = dataset.strip()
    if not name or len(name) > 120:
        raise DataValidationError("A dataset name needs 1 to 120 characters.")
    prepared = PreparedImport(report=IngestReport(dataset=name), label=label, source_name=shown)
    report = prepared.report
    note = progress or (lambda _f, _m: None)
    note(0.05, "Checking the file")
    data = _read_source(source, limits, label)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing and counting lines run beside the parse
        scanned = pool.submit(_scan, source, data)
        note(0.15, "Reading rows")
        ragged: list[str] = []
        table = _read_table(data, limits, label, ragged, types=_plan(data, columns, label))
        report.content_hash, lines = scanned.result()
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
    scan = lines is not None and lines > 1 + table.num_rows + len(ragged)
    clean, check = _normalize(table, mapping, limits, label, scan_line_breaks=scan)
    if ragged:
        reason = "wrong number of fields (ragged row or unterminated quote)"
        check.reasons[reason] = len(ragged)
        check.examples[reason] = [{"row": None, "value": text} for text in ragged[:_EXAMPLES]]
    report.rejected_reasons = dict(check.reasons)
    report.examples = check.examples
    report.rows_rejected = int(check.bad.sum()) + len(ragged)
    if any("longer than" in reason for reason in check.reasons):
        prepared.refusal = LimitExceededError(
            _refusal(label, report, "a field is over the length limit"), _problems(report)
        )
        return prepared
    if report.rows_rejected and not skip_invalid:
        prepared.refusal = DataValidationError(_refusal(label, report, "invalid values"), _problems(report))
        return prepared
    if check.bad.any():
        clean = _encode(clean.filter(pa.array(~check.bad)), compact=True)
    if clean.num_rows == 0:
        prepared.refusal = DataValidationError(
            f"{label}: no valid rows are left to store. " + _summary(report), _problems(report)
        )
        return prepared
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
    stamps = clean.column("timestamp")
    if pc.any(pc.less(stamps.slice(1), stamps.slice(0, len(stamps) - 1))).as_py():
        clean = clean.sort_by("timestamp")
    prepared.table, prepared.dictionary = _encode(clean), dictionary
    if stage_in is not None:
        note(0.5, f"Writing {clean.num_rows:,} events")
        prepared.staged = stage_parquet(stage_in, prepared.table)
    return prepared


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
