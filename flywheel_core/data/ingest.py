"""Turn an interaction log (CSV, gzip CSV, Parquet) into a trusted, stored dataset.

The file is read with pyarrow, every row is checked before anything is written, and the clean events
are stored as one Parquet file plus one database row, all or nothing (see ``Store.store_dataset``).
The path stays in pyarrow from bytes to Parquet, with no pandas. Reading lives in ``reading`` (gzip in
``gzipped``, pyarrow's blocks and line counts in ``csvblocks``), the column roles in ``columns``, the row
checks in ``checks`` (value conversions in ``values``), the data-quality warnings in ``quality``; this module
runs the whole import: ``prepare_import`` (read, check, assess, stage the events file; no database);
``data.api.store_import`` then stores it in one unit of work. ``preview_file`` and ``event_values`` (in
``preview``, exported here too) serve the mapping step before an import.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.checks import _EXAMPLES, _normalize, plan_types
from flywheel_core.data.columns import OPTIONAL_ROLES, REQUIRED_ROLES, USER_FROM, ColumnMap, detect_columns
from flywheel_core.data.csvblocks import _count_block, _count_lines, _open_quote
from flywheel_core.data.preview import EventValues, FilePreview, _parquet_header, event_values, preview_file
from flywheel_core.data.quality import QualityWarning, assess_facts, assess_quality, file_rule_hits, find_duplicates
from flywheel_core.data.reading import (
    Header,
    Limits,
    _check_text,
    _header,
    _is_parquet,
    _read_source,
    _read_table,
    _sample,
)
from flywheel_core.data.signals import SignalDictionary, SignalSpec, default_dictionary
from flywheel_core.data.streaming import BLOCK_BYTES, STREAM_MIN_BYTES, Fallback, StreamedEvents, stream_csv
from flywheel_core.exceptions import DataValidationError, LimitExceededError, Problem
from flywheel_core.storage.files import STAGING, parquet_options, stage_parquet

if TYPE_CHECKING:
    from flywheel_core.cluster import RanOn

__all__ = [
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "USER_FROM",
    "ColumnMap",
    "EventValues",
    "FilePreview",
    "IngestReport",
    "Limits",
    "PreparedImport",
    "QualityWarning",
    "detect_columns",
    "event_values",
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
    quality: tuple[QualityWarning, ...] = ()
    duplicates_dropped: int = 0
    content_hash: str = ""
    seconds: float = 0.0
    stored: bool = False
    ran_on: RanOn | None = None  # set when the import ran on a Dask worker (``ingest --sql`` with a cluster)

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
            "quality": [w.to_json() for w in self.quality],
            "duplicates_dropped": self.duplicates_dropped,
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


def _scan(source: Path | bytes, data: pa.Buffer | Path) -> tuple[str, tuple[int, int] | None]:
    """The source's SHA-256 and, for CSV text, its physical lines and quote characters, in one pass where
    they coincide."""
    digest = hashlib.sha256()
    if isinstance(source, Path):
        same = isinstance(data, Path)  # not a gzip file, inflated into memory
        lines, quotes, last = 0, 0, b"\n"
        with source.open("rb") as handle:
            while block := handle.read(8 << 20):
                digest.update(block)
                if same:
                    more, marks = _count_block(block)
                    lines, quotes, last = lines + more, quotes + marks, block[-1:]
        if same:
            counts = lines + (0 if last in (b"\n", b"\r") else 1), quotes
            return digest.hexdigest(), None if _is_parquet(data) else counts
    else:
        digest.update(source)
    return digest.hexdigest(), None if _is_parquet(data) else _count_lines(data)


def _layout(
    data: pa.Buffer | Path, label: str, columns: dict[str, str] | None, user_from: str | None
) -> tuple[Header, pa.Table | None, ColumnMap]:
    """A CSV's header, first rows (text; None if they do not parse) and the mapping they give."""
    _check_text(data, label)
    header = _header(data, label)
    try:
        sample: pa.Table | None = _sample(data, header.names)
    except pa.ArrowInvalid:
        sample = None  # the full read names what is wrong
    return header, sample, detect_columns(header.names, columns, sample=sample, user_from=user_from)


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
    streamed: StreamedEvents | None = None  # read in batches: ``table`` is None, the events are in ``staged``
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
    drop_duplicates: bool = False,
    user_from: str | None = None,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
    stage_in: Path | None = None,
    stream_from_bytes: int = STREAM_MIN_BYTES,
    block_bytes: int = BLOCK_BYTES,
) -> PreparedImport:
    """Read and check a log without touching the database (so a caller can open it meanwhile).

    Raises at once what no database answer could change (an unreadable file, limits, the mapping);
    invalid rows become the ``refusal`` that :func:`store_import` raises after its duplicate check.
    With ``stage_in`` (the data folder), the events file is written there already; a caller that
    does not go on to :func:`store_import` calls ``discard()``.

    Parameters:
        columns: role -> column overrides; an id role may join several columns (``user="a+b+c"``).
        drop_duplicates: leave out rows that repeat an earlier row exactly (the report counts them).
        user_from: ``"session"`` (each session is a user) or ``"anonymous"`` (one user for all rows),
            for a log with no user column.
        stream_from_bytes: a CSV file (by path, not gzip) of this size or more, with ``stage_in``, is read,
            checked and staged in batches of ``block_bytes`` (:mod:`flywheel_core.data.streaming`), with the
            whole-file read as its fallback.
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
    header: Header | None = None
    sample: pa.Table | None = None
    mapping: ColumnMap | None = None
    if not _is_parquet(data):  # a mapping that cannot fit the file is refused before the file is read
        header, sample, mapping = _layout(data, label, columns, user_from)
    types = plan_types(sample, mapping) if sample is not None and mapping is not None else None
    if (
        stage_in is not None
        and isinstance(data, Path)
        and header is not None
        and mapping is not None
        and data.stat().st_size >= stream_from_bytes
    ):
        note(0.15, "Reading, checking and writing rows in batches")
        if _stream(prepared, data, header, mapping, types, limits, signals, drop_duplicates, stage_in, block_bytes):
            return prepared
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing and counting lines run beside the parse
        scanned = pool.submit(_scan, source, data)
        note(0.15, "Reading rows")
        ragged: list[str] = []
        table = _read_table(data, limits, label, ragged, types=types, header=header)
        report.content_hash, counts = scanned.result()
    lines = counts[0] if counts is not None else None
    if counts is not None and counts[1] % 2 and (line := _open_quote(data)) is not None:
        raise DataValidationError(
            f"{label} has an unterminated quote: the quoted field still open at line {line:,} runs to "
            "the end of the file, so the rows after its opening quote cannot be told apart. Close the quote "
            '(a quote inside a quoted field is written twice: "") and upload the file again.',
            [Problem("unterminated quote", row=line - 1)],
        )
    if lines is not None and (ragged or lines > 1 + table.num_rows + len(ragged)):
        # More lines than records: a quoted field holds a line break, which pyarrow's fast block split
        # can cut (losing or inventing rows without an error). Read again, split by records.
        table = _read_table(data, limits, label, ragged, types=types, header=header, multiline=True)
    if mapping is None or header is None:  # Parquet: the names and first rows come with the table
        header = _parquet_header(data)
        mapping = detect_columns(table.column_names, columns, sample=table.slice(0, 1000), user_from=user_from)
    report.warnings += header.notes()
    report.rows_read = table.num_rows + len(ragged)
    if table.num_rows + len(ragged) == 0:
        raise DataValidationError(f"{label} has a header but no rows. Add events below the header.")
    if report.rows_read > limits.max_rows:
        raise LimitExceededError(
            f"{label} has {report.rows_read:,} rows, over the limit of {limits.max_rows:,}. "
            "Split it, or raise FLYWHEEL_MAX_ROWS."
        )
    report.column_map = mapping.to_json()
    note(0.35, "Checking every row")
    clean, check = _normalize(table, mapping, limits, label)
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
    stamps = clean.column("timestamp")
    if pc.any(pc.less(stamps.slice(1), stamps.slice(0, len(stamps) - 1))).as_py():
        clean = clean.sort_by("timestamp")
    note(0.45, "Assessing data quality")
    duplicates = find_duplicates(clean)
    if drop_duplicates and duplicates.count:
        clean = clean.filter(duplicates.keep_mask(clean.num_rows))  # a dropped row's twin stays: no value is lost
        report.duplicates_dropped = duplicates.count
    events = sorted(str(e) for e in pc.unique(clean.column("event")).to_pylist())
    dictionary = _dictionary(report, events, signals)
    prepared.table, prepared.dictionary = _encode(clean), dictionary
    report.quality = assess_quality(
        prepared.table, dictionary=dictionary, mapping=mapping, duplicates=duplicates, dropped=drop_duplicates
    )
    if stage_in is not None:
        note(0.5, f"Writing {clean.num_rows:,} events")
        prepared.staged = stage_parquet(stage_in, prepared.table)
    return prepared


def _dictionary(report: IngestReport, events: list[str], signals: dict[str, SignalSpec] | None) -> SignalDictionary:
    """The file's signal dictionary: the defaults for its events and ``signals`` (the report notes the gaps)."""
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
    return dictionary


class _Scan(threading.Thread):
    """The file's SHA-256, physical lines and quote characters, in a thread beside the batches (a daemon that
    stops early when the import is refused, so a row-limit refusal does not wait for a 20 GB hash)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()
        self.digest, self.lines, self.quotes = "", 0, 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            digest, last = hashlib.sha256(), b"\n"
            with self.path.open("rb") as handle:
                while not self.stop.is_set() and (block := handle.read(8 << 20)):
                    digest.update(block)
                    more, marks = _count_block(block)
                    self.lines, self.quotes, last = self.lines + more, self.quotes + marks, block[-1:]
            self.lines += 0 if last in (b"\n", b"\r") else 1
            self.digest = digest.hexdigest()
        except BaseException as exc:  # re-raised by the caller
            self.error = exc


def _stream(
    prepared: PreparedImport,
    data: Path,
    header: Header,
    mapping: ColumnMap,
    types: dict[str, pa.DataType] | None,
    limits: Limits,
    signals: dict[str, SignalSpec] | None,
    drop_duplicates: bool,
    stage_in: Path,
    block_bytes: int,
) -> bool:
    """Read, check and stage a large CSV file in batches; False when it needs the whole-file read instead
    (nothing of the attempt stays). The same report as the whole read, on the same events."""
    report = prepared.report
    target = stage_in / STAGING / f"{uuid.uuid4().hex}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    scan = _Scan(data)
    scan.start()
    try:
        streamed = stream_csv(
            data,
            target,
            header=header,
            mapping=mapping,
            types=types,
            limits=limits,
            label=prepared.label,
            drop_duplicates=drop_duplicates,
            block_bytes=block_bytes,
            write_options=parquet_options(pa.table({"timestamp": pa.array([], pa.int64())})),
        )
        scan.join()
        if scan.error is not None:
            raise scan.error
        # An odd number of quotes (an unterminated quote?) or more lines than records (a quoted line break,
        # which a split by lines can cut): the whole read looks closer.
        if scan.quotes % 2 or scan.lines > 1 + streamed.rows_read:
            raise Fallback("the line count differs from the records read")
    except Fallback:
        scan.stop.set()
        target.unlink(missing_ok=True)
        return False
    except BaseException:
        scan.stop.set()
        target.unlink(missing_ok=True)
        raise
    prepared.staged, prepared.streamed = target, streamed
    report.content_hash = scan.digest
    report.warnings += header.notes()
    report.rows_read = streamed.rows_read
    report.column_map = mapping.to_json()
    if drop_duplicates:
        report.duplicates_dropped = streamed.duplicates.count
    prepared.dictionary = _dictionary(report, streamed.events(), signals)
    # The facts of the batches; a value rule that can change a warning is counted on the staged file.
    report.quality = assess_facts(
        streamed.facts,
        dictionary=prepared.dictionary,
        mapping=mapping,
        duplicates=streamed.duplicates,
        dropped=drop_duplicates,
        hits=lambda rules: file_rule_hits(target, rules),
    )
    return True


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
