"""What the data-quality report needs to know about a log, gathered batch by batch or from a whole table.

The warnings of :func:`flywheel_core.data.quality.assess_quality` depend on a handful of facts: the rows, how
many rows each user, item and event holds (:class:`Tally`), which columns hold one value, and the range and
shape of the timestamps (:class:`TimeFacts`). Each is a sum or a bound, so the facts of a file are the merge
of the facts of its batches: a streamed import keeps kilobytes to megabytes of them (the distinct ids), not
the rows (:mod:`flywheel_core.data.streaming`), and a whole-file import computes them from its table. Both
paths then run the same warning code on the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.values import arrow_int

__all__ = ["IDS", "QualityFacts", "Tally", "TimeFacts"]

IDS = ("user", "item", "event")
DAY_US = 86_400_000_000
EXAMPLES = 3
_MERGE_EVERY = 16  # batches' tallies kept apart before they are merged (bounds the memory of repeated ids)


def _int64s(values: np.ndarray) -> pa.Array:
    """An Arrow int64 array over a NumPy one's bytes (``pa.array(ndarray)`` would import pandas)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _dictionary_counts(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """A dictionary column's values (one dictionary over its chunks) and the rows holding each (missing
    values are not counted)."""
    if column.num_chunks != 1:
        column = pa.table({"c": column}).unify_dictionaries().column("c")
    if column.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int64)
    values = column.chunk(0).dictionary
    counts = np.zeros(len(values), dtype=np.int64)
    for chunk in column.chunks:
        codes = chunk.indices
        if codes.null_count:
            codes = pc.drop_null(codes)
        width = codes.type.bit_width // 8
        view = np.frombuffer(codes.buffers()[1], dtype=f"<i{width}", count=len(codes), offset=codes.offset * width)
        counts += np.bincount(view, minlength=len(values))
    return values, counts


@dataclass(frozen=True)
class Tally:
    """The distinct values of an id column and the rows holding each (only values that occur)."""

    values: pa.Array
    counts: np.ndarray

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> Tally:
        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        values, counts = _dictionary_counts(column)
        used = counts > 0
        if used.all():
            return cls(values, counts)
        kept = np.flatnonzero(used)
        return cls(values.take(_int64s(kept)), counts[kept])

    @classmethod
    def merged(cls, parts: Sequence[Tally]) -> Tally:
        """One tally of several (the same value in several parts is added up)."""
        if len(parts) == 1:
            return parts[0]
        values = pa.chunked_array([p.values for p in parts]).dictionary_encode()
        codes = np.concatenate(
            [c.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False) for c in values.chunks]
        )
        dictionary = values.chunk(0).dictionary if values.num_chunks else pa.array([], pa.string())
        counts = np.bincount(codes, weights=np.concatenate([p.counts for p in parts]), minlength=len(dictionary))
        return cls(dictionary, counts.astype(np.int64))

    @property
    def distinct(self) -> int:
        return len(self.values)

    def top(self) -> tuple[object, int]:
        """The most frequent value (the first in order of appearance on a tie) and its rows."""
        most = int(np.argmax(self.counts))
        return self.values[most].as_py(), int(self.counts[most])

    def per_value(self) -> dict[str, int]:
        return {str(v): int(c) for v, c in zip(self.values.to_pylist(), self.counts, strict=True)}


@dataclass(frozen=True)
class TimeFacts:
    """The timestamps' shape: rows, whether all are at midnight, the bounds, and the rows after ``late``
    or before ``early`` (microseconds since the epoch) with the first few of each, as text."""

    rows: int
    midnight: bool
    low: int
    high: int
    late_bound: int
    early_bound: int
    late: int = 0
    late_examples: tuple[str, ...] = ()
    early: int = 0
    early_examples: tuple[str, ...] = ()

    @classmethod
    def of(cls, stamps: pa.ChunkedArray, late_bound: int, early_bound: int) -> TimeFacts:
        micros = stamps.cast(pa.int64())
        n = len(micros)
        if n == 0:
            return cls(0, True, 0, 0, late_bound, early_bound)
        first = micros.slice(0, 1000)
        midnight = _midnights(first) and _midnights(micros)  # the first rows decide most files
        bounds = pc.min_max(micros)
        low, high = int(bounds["min"].as_py()), int(bounds["max"].as_py())
        found: dict[str, tuple[int, tuple[str, ...]]] = {"late": (0, ()), "early": (0, ())}
        for which, hit in (("late", high > late_bound), ("early", low < early_bound)):
            if hit:
                bound = arrow_int(late_bound if which == "late" else early_bound)
                mask = pc.greater(micros, bound) if which == "late" else pc.less(micros, bound)
                rows = pc.indices_nonzero(mask).slice(0, EXAMPLES)
                examples = tuple(_stamp(t) for t in pc.cast(stamps.take(rows), pa.string()).to_pylist())
                found[which] = (int(pc.sum(mask).as_py()), examples)
        late, early = found["late"], found["early"]
        return cls(n, midnight, low, high, late_bound, early_bound, late[0], late[1], early[0], early[1])

    def merge(self, other: TimeFacts) -> TimeFacts:
        if not self.rows:
            return other
        if not other.rows:
            return self
        return TimeFacts(
            self.rows + other.rows,
            self.midnight and other.midnight,
            min(self.low, other.low),
            max(self.high, other.high),
            self.late_bound,
            self.early_bound,
            self.late + other.late,
            (self.late_examples + other.late_examples)[:EXAMPLES],
            self.early + other.early,
            (self.early_examples + other.early_examples)[:EXAMPLES],
        )


def _midnights(values: pa.ChunkedArray) -> bool:
    return not pc.any(pc.cast(pc.modulo(values, arrow_int(DAY_US)), pa.bool_())).as_py()


def _stamp(text: str) -> str:
    return text.replace(".000000", "").replace(" ", "T")


@dataclass
class QualityFacts:
    """The facts of a log (or of the batches so far): rows, columns, id tallies, one value per column,
    timestamps. ``constants``: for every column but the ids, the one value it holds in every row as text
    (None: several), computed on each batch and kept only while the batches agree."""

    rows: int = 0
    names: list[str] = field(default_factory=list)
    constants: dict[str, str | None] = field(default_factory=dict)
    time: TimeFacts | None = None
    _tallies: dict[str, list[Tally]] = field(default_factory=dict)

    def add(
        self, names: list[str], tallies: dict[str, Tally], constants: dict[str, str | None], time: TimeFacts
    ) -> None:
        """The facts of the next batch."""
        self.names = self.names or list(names)
        self.rows += time.rows
        for name, tally in tallies.items():
            parts = self._tallies.setdefault(name, [])
            parts.append(tally)
            if len(parts) >= _MERGE_EVERY:
                parts[:] = [Tally.merged(parts)]
        for name, value in constants.items():
            if name not in self.constants:
                self.constants[name] = value
            elif self.constants[name] != value:
                self.constants[name] = None
        self.time = time if self.time is None else self.time.merge(time)

    def tally(self, name: str) -> Tally | None:
        """The rows per value of the id column ``name`` (None: not a column of the log)."""
        parts = self._tallies.get(name)
        if not parts:
            return None
        if len(parts) > 1:
            parts[:] = [Tally.merged(parts)]
        return parts[0]
