"""Appending a batch to a stored dataset: its mapping, columns and types, new signals, overlap, distinct ids.

Pure functions over Arrow tables and the dataset's stored JSON; ``data.api.append_file`` runs them and
``Store.append_batch`` stores the batch in one unit of work.
"""

from __future__ import annotations

import csv
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.exceptions import DataValidationError, Problem

__all__ = [
    "check_batch_columns",
    "distinct_ids",
    "like_stored",
    "merged_signals",
    "overlapping_rows",
    "source_columns",
    "stored_mapping",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stored_mapping(column_map: dict[str, Any]) -> dict[str, str]:
    """A dataset's stored column mapping as ``columns`` overrides (role -> column, ``feature`` comma-separated)."""
    mapping = {str(role): str(column) for role, column in (column_map.get("roles") or {}).items()}
    features = [str(f) for f in column_map.get("features") or []]
    if features:
        mapping["feature"] = ",".join(features)
    return mapping


def source_columns(source: Path | bytes) -> list[str] | None:
    """The source's column names from its header or Parquet footer (None: the import says what is wrong)."""
    try:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                head = handle.read(1 << 20)
        else:
            head = source[: 1 << 20]
        if head[:4] == b"PAR1":
            return list(pq.read_schema(source if isinstance(source, Path) else pa.BufferReader(source)).names)
        if head[:2] == b"\x1f\x8b":
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1 << 20)
        line = head.split(b"\n", 1)[0].decode("utf-8-sig").strip("\r")
        return next(iter(csv.reader([line])), None)
    except (OSError, UnicodeDecodeError, zlib.error, pa.ArrowException, csv.Error):
        return None


def check_batch_columns(names: list[str] | None, mapping: dict[str, str], label: str, dataset: str) -> None:
    """Refuse a batch that lacks a column of the dataset's mapping, naming each one and its role."""
    if names is None:
        return
    wanted = [(role, column) for role, column in mapping.items() if role != "feature"]
    wanted += [("feature", f) for f in mapping.get("feature", "").split(",") if f]
    missing = [(role, column) for role, column in wanted if column not in names]
    if missing:
        listed = ", ".join(f"'{column}' ({role})" for role, column in missing)
        raise DataValidationError(
            f"{label} cannot be appended to dataset '{dataset}': it has no column {listed}. A batch must have "
            f"the columns the dataset was imported with ({', '.join(f'{r}={c}' for r, c in wanted)}); rename "
            "them in the file or the query.",
            [Problem(f"mapped column '{column}' is missing", column=column) for _role, column in missing],
        )


def like_stored(table: pa.Table, schema: pa.Schema, label: str, dataset: str) -> pa.Table:
    """The batch's events cast to the dataset's stored schema, or an error naming the column that differs."""
    extra = sorted(set(table.column_names) - set(schema.names))
    lacking = sorted(set(schema.names) - set(table.column_names))
    if extra or lacking:
        parts = ([f"missing {', '.join(lacking)}"] if lacking else []) + ([f"new {', '.join(extra)}"] if extra else [])
        raise DataValidationError(
            f"{label} does not give dataset '{dataset}' the same columns ({'; '.join(parts)}). "
            "Append a batch with the dataset's mapped columns."
        )
    for field in schema:
        column = table.column(field.name)
        if column.type == field.type:
            continue
        try:
            table = table.set_column(table.schema.get_field_index(field.name), field, column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataValidationError(
                f"{label}: column '{field.name}' holds {column.type} values where dataset '{dataset}' holds "
                f"{field.type}. Fix the batch's values, or import it as a dataset of its own.",
                [Problem("type differs from the dataset's", column=field.name)],
            ) from exc
    return table.select(schema.names)


def merged_signals(
    stored: dict[str, Any], batch: SignalDictionary, overrides: dict[str, SignalSpec] | None
) -> tuple[SignalDictionary, list[str], list[str]]:
    """The dataset's signal dictionary plus the batch's new events (their default meaning) and ``overrides``.

    Returns the dictionary, the new events, and those of them with no known meaning (read as neutral).
    """
    merged = SignalDictionary.from_json(stored)
    new = [event for event in batch.events if event not in merged.events]
    for event in new:
        merged = merged.with_signal(event, batch.events[event])
    for event, spec in (overrides or {}).items():
        merged = merged.with_signal(event, spec)
    unknown = [e for e in new if merged.events[e].polarity == "neutral" and merged.events[e].weight == 0]
    return merged, new, unknown


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def overlapping_rows(table: pa.Table, first: datetime | None, last: datetime | None) -> int:
    """How many of the batch's events fall in [first, last], the time the dataset covered before."""
    if first is None or last is None:
        return 0
    stamps = table.column("timestamp").cast(pa.int64())
    inside = pc.and_(pc.greater_equal(stamps, _micros(first)), pc.less_equal(stamps, _micros(last)))
    return int(pc.sum(inside).as_py() or 0)


def event_span(table: pa.Table) -> tuple[datetime, datetime]:
    """The batch's first and last event (UTC), without a pandas import (a timestamp's ``as_py`` makes one)."""
    bounds = pc.min_max(table.column("timestamp").cast(pa.int64()))
    return (
        _EPOCH + timedelta(microseconds=bounds["min"].as_py()),
        _EPOCH + timedelta(microseconds=bounds["max"].as_py()),
    )


def distinct_ids(table: pa.Table) -> dict[str, pa.Array]:
    """The batch's distinct users (and items), read off the dictionary-encoded columns."""
    out = {}
    for name in ("user", "item"):
        if name in table.column_names:
            chunks = [c.dictionary if pa.types.is_dictionary(c.type) else c for c in table.column(name).chunks]
            out[name] = pc.unique(pa.chunked_array(chunks))
    return out
