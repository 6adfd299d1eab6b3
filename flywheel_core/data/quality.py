"""The data-quality report of an import: what in a valid log would mislead the loop, found on the whole file.

The row checks (:mod:`flywheel_core.data.checks`) refuse values that cannot be read; these warnings are about
valid logs that cannot carry what they seem to: exact duplicate rows, a one-item catalog, a row id mapped
as the user, a single polarity, constant columns, date-only or implausible timestamps, one user or item
holding a large share of the events, and users that are not people. Each warning has a stable ``code``.

Everything runs in Arrow compute on the checked, time-sorted events (no pandas, no Python loop over rows):
the distinct counts come from the dictionaries of the encoded id columns, and duplicates are looked for
only among rows that share a timestamp with a neighbour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.checks import arrow_float, arrow_int
from flywheel_core.data.columns import ANONYMOUS, KEY_SEPARATOR, ColumnMap
from flywheel_core.data.facts import IDS, QualityFacts, Tally, TimeFacts, _int64s, _stamp
from flywheel_core.data.signals import SignalDictionary, SignalRule

__all__ = [
    "CODES",
    "Duplicates",
    "QualityWarning",
    "assess_facts",
    "assess_quality",
    "batch_facts",
    "file_rule_hits",
    "find_duplicates",
    "rule_hits",
]

CODES = (
    "duplicate_rows",
    "one_item",
    "one_event_per_user",
    "single_polarity",
    "constant_column",
    "date_only_timestamps",
    "future_timestamps",
    "early_timestamps",
    "user_skew",
    "item_skew",
    "anonymous_user",
    "user_from_session",
)
_DAY_US = 86_400_000_000
_EARLIEST = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
_MIN_ROWS = 10  # per-user and skew warnings say nothing on fewer events
_USER_SHARE = 0.2
_ITEM_SHARE = 0.5
_EXAMPLES = 3
# Constants built from bytes: pa.scalar(False) or a Python literal passed to a compute function imports pandas.
_FALSES = pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(b"\x00")])
_FALSE = _FALSES[0]
_ONE = pa.Array.from_buffers(pa.uint64(), 1, [None, pa.py_buffer((1).to_bytes(8, "little"))])[0]
_MIX = arrow_int(1_000_003)
_ARROW_OPS: dict[str, Callable[..., Any]] = {
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
    "==": pc.equal,
}


@dataclass(frozen=True)
class QualityWarning:
    """One data-quality finding: a stable ``code``, what it means for the loop, how many, a few examples."""

    code: str
    message: str
    count: int
    examples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "count": self.count, "examples": list(self.examples)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QualityWarning:
        return cls(str(data["code"]), str(data["message"]), int(data["count"]), tuple(map(str, data["examples"])))


@dataclass(frozen=True)
class Duplicates:
    """Rows that repeat an earlier row exactly (every stored column), as row positions, and examples."""

    count: int
    rows: pa.Array | None = None  # positions of the repeats (the first copy of each row is not among them)
    examples: tuple[str, ...] = ()

    def keep_mask(self, n: int) -> pa.Array:
        """True for every row but the repeats (for dropping them)."""
        keep = np.ones(n, dtype=bool)
        if self.rows is not None:
            keep[self.rows.to_numpy(zero_copy_only=False).astype(np.int64)] = False
        return pa.array(keep)


def _codes(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """A dictionary column's indices and values, as one chunk with one dictionary."""
    if column.num_chunks != 1:
        column = pa.table({"c": column}).unify_dictionaries().column("c")
        chunks = column.chunks
        return pa.concat_arrays([c.indices for c in chunks]), chunks[0].dictionary
    return column.chunk(0).indices, column.chunk(0).dictionary


def _take(column: pa.ChunkedArray, rows: pa.Array) -> pa.Array:
    """``column`` at ascending positions ``rows``, chunk by chunk: Arrow's take on a chunked column first
    joins every chunk (a copy of the whole column, e.g. every session id, for a handful of rows)."""
    if column.num_chunks == 1:
        return pc.take(column.chunk(0), rows)
    starts = np.cumsum([0, *(len(c) for c in column.chunks)])
    positions = np.frombuffer(rows.buffers()[1], dtype=np.uint64, count=len(rows), offset=rows.offset * 8)
    positions = positions.astype(np.int64)
    cuts = np.searchsorted(positions, starts)
    parts = [
        pc.take(chunk, _int64s(positions[cuts[k] : cuts[k + 1]] - starts[k]))
        for k, chunk in enumerate(column.chunks)
        if cuts[k + 1] > cuts[k]
    ]
    return pa.concat_arrays(parts) if parts else column.chunk(0).slice(0, 0)


def _take_rows(table: pa.Table, rows: pa.Array, names: list[str] | None = None) -> pa.Table:
    return pa.table({name: _take(table.column(name), rows) for name in names or table.column_names})


def _keys(table: pa.Table) -> pa.Table:
    """Every column as something cheap to sort and compare: dictionary codes, integers, numbers."""
    out = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = pa.chunked_array([_codes(column)[0]])
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = pa.chunked_array([pc.dictionary_encode(column).combine_chunks().indices])
        elif pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        out[name] = column
    return pa.table(out)


def _same(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Equal, counting two missing values as equal."""
    return pc.coalesce(pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b))), _FALSE)


def _describe_rows(table: pa.Table, rows: pa.Array) -> tuple[str, ...]:
    shown = [n for n in ("user", "item", "event", "timestamp", "value") if n in table.column_names]
    picked = _take_rows(table, rows, shown)
    parts: list[list[str]] = [[] for _ in range(len(rows))]
    for name in ("user", "item", "event", "timestamp", "value"):
        if name not in picked.column_names:
            continue
        column = picked.column(name)
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        texts = pc.cast(column, pa.string()).to_pylist()
        for i, text in enumerate(texts):
            if text is not None:
                parts[i].append(f"{name} {_shown(text)!r}" if name != "timestamp" else f"at {_stamp(text)}")
    return tuple(", ".join(p) for p in parts)


def _shown(text: str) -> str:
    """A key of several columns as people write it: its parts joined by '+'."""
    return text.replace(KEY_SEPARATOR, "+")


def _neighbours(equal: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Positions equal to the previous or the next one, from ``equal`` (position i+1 equals i)."""
    equal = pa.concat_arrays(equal.chunks) if isinstance(equal, pa.ChunkedArray) else equal
    return pc.indices_nonzero(pc.or_(pa.concat_arrays([_FALSES, equal]), pa.concat_arrays([equal, _FALSES])))


def _fingerprint(table: pa.Table, rows: pa.Array) -> pa.Array:
    """One int64 per row of ``rows`` mixing its time and its ids (wrapping arithmetic): equal rows get equal
    prints; rows that share one without being equal are told apart by the exact comparison after it."""
    mixed = _take(table.column("timestamp"), rows).cast(pa.int64())
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            part = pc.cast(pc.take(_codes(column)[0], rows), pa.int64())
            mixed = pc.bit_wise_xor(pc.multiply(mixed, _MIX), part)
    return mixed.combine_chunks() if isinstance(mixed, pa.ChunkedArray) else mixed


def _repeated(prints: pa.Array) -> pa.Array:
    """The print values that occur more than once (sorted in NumPy, read from the Arrow buffer in place:
    a conversion through pyarrow would import pandas)."""
    values = np.frombuffer(prints.buffers()[1], dtype=np.int64, count=len(prints), offset=prints.offset * 8)
    ordered = np.sort(values)
    return _int64s(np.unique(ordered[1:][ordered[1:] == ordered[:-1]]))


def _exact_repeats(table: pa.Table, rows: pa.Array) -> pa.Array:
    """Which of ``rows`` (ascending positions) repeat an earlier one of them exactly, as positions."""
    keys = _keys(_take_rows(table, rows))
    names = keys.column_names
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in names])  # stable: first copy first
    ranked = keys.take(order)
    m = ranked.num_rows
    repeat = None
    for name in names:
        column = ranked.column(name)
        equal = _same(column.slice(1), column.slice(0, m - 1))
        repeat = equal if repeat is None else pc.and_(repeat, equal)
    assert repeat is not None
    hits = pc.add(pc.indices_nonzero(repeat), _ONE)
    positions = pc.take(rows, pc.take(order, hits))
    return pc.take(positions, pc.sort_indices(positions))


def find_duplicates(table: pa.Table) -> Duplicates:
    """Exact duplicate rows of the checked events, which must be sorted by ``timestamp``.

    Equal rows share their timestamp, so only rows tied with a neighbour on it are looked at; those get a
    fingerprint of their time and ids; only rows whose fingerprint repeats are compared, on every column.
    """
    n = table.num_rows
    if n < 2:
        return Duplicates(0)
    stamps = table.column("timestamp")
    tied = pc.equal(stamps.slice(1), stamps.slice(0, n - 1))
    if not pc.any(tied).as_py():
        return Duplicates(0)
    candidates = _neighbours(tied)
    prints = _fingerprint(table, candidates)
    repeated = _repeated(prints)
    if not len(repeated):
        return Duplicates(0)
    rows = pc.filter(candidates, pc.is_in(prints, value_set=repeated))  # ascending, like the candidates
    positions = _exact_repeats(table, rows)
    if not len(positions):
        return Duplicates(0)
    return Duplicates(len(positions), positions, _describe_rows(table, positions.slice(0, _EXAMPLES)))


# --- the warnings ---------------------------------------------------------------------------------------


def _one(tally: Tally) -> str | None:
    """The one value of an id column, as shown (None: several, or none)."""
    return _shown(str(tally.values[0].as_py())) if tally.distinct == 1 else None


def _constant(column: pa.ChunkedArray) -> str | None:
    """The one value a column holds in every row (as text), or None if it holds several."""
    if pa.types.is_dictionary(column.type):
        return _one(Tally.of(column))
    if column.null_count == len(column):
        return "(empty)"
    if column.null_count:
        return None
    ends = pc.equal(column.slice(0, 1), column.slice(len(column) - 1, 1))
    if not pc.all(ends).as_py():  # first and last differ: most columns are decided without a pass
        return None
    bounds = pc.min_max(column)
    low, high = bounds["min"], bounds["max"]
    if pa.types.is_timestamp(column.type):
        low, high = pc.cast(low, pa.int64()), pc.cast(high, pa.int64())
    if low.as_py() != high.as_py():
        return None
    return _stamp(pc.cast(column.slice(0, 1), pa.string())[0].as_py())


RuleHits = Callable[[list[SignalRule]], list[int]]


def rule_hits(table: pa.Table, rules: list[SignalRule]) -> list[int]:
    """The events of ``table`` each rule matches (its event, and its test on the value; a missing value
    is no hit)."""
    column = table.column("event")
    codes, names = _codes(column if pa.types.is_dictionary(column.type) else column.dictionary_encode())
    position = {str(v): i for i, v in enumerate(names.to_pylist())}
    out = []
    for rule in rules:
        if rule.event not in position:
            out.append(0)
            continue
        on_event = pc.equal(codes, pc.cast(arrow_int(position[rule.event]), codes.type))
        hit = pc.and_(on_event, _ARROW_OPS[rule.op](table.column("value"), arrow_float(rule.threshold)))
        out.append(int(pc.sum(hit).as_py() or 0))
    return out


def file_rule_hits(path: Path, rules: list[SignalRule]) -> list[int]:
    """:func:`rule_hits` of a Parquet file of events, read a million rows at a time (two columns)."""
    import pyarrow.parquet as pq

    total = [0] * len(rules)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 20, columns=["event", "value"]):
        total = [a + b for a, b in zip(total, rule_hits(pa.Table.from_batches([batch]), rules), strict=True)]
    return total


def _polarity_rows(
    per_name: dict[str, int], dictionary: SignalDictionary, has_value: bool, hits: RuleHits
) -> dict[str, int]:
    """Events per polarity (positive, negative, neutral), rules on value included where they can matter."""

    def polarity(name: str) -> str:
        spec = dictionary.events.get(name)
        return spec.polarity if spec else "neutral"

    rows = {"positive": 0, "negative": 0, "neutral": 0}
    for name, count in per_name.items():
        rows[polarity(name)] += count
    rules = [r for r in dictionary.rules if r.event in per_name and r.polarity != polarity(r.event)]
    if not has_value or not rules:
        return rows
    # A rule only matters here if a polarity is missing, or all of one polarity's rows could move out of it.
    movable = {p: sum(per_name[e] for e in {r.event for r in rules} if polarity(e) == p) for p in rows}
    if all(rows[p] and movable[p] < rows[p] for p in ("positive", "negative")):
        return rows
    for rule, moved in zip(rules, hits(rules), strict=True):
        rows[polarity(rule.event)] -= moved
        rows[rule.polarity] += moved
    return rows


def time_facts(stamps: pa.ChunkedArray, now: datetime) -> TimeFacts:
    """:class:`TimeFacts` with this module's bounds: after tomorrow (UTC) and before 1990."""
    return TimeFacts.of(stamps, int(now.timestamp() * 1_000_000) + _DAY_US, _EARLIEST)


def batch_facts(table: pa.Table, now: datetime) -> tuple[dict[str, Tally], dict[str, str | None], TimeFacts]:
    """What :meth:`QualityFacts.add` takes of a table of checked events."""
    tallies = {name: Tally.of(table.column(name)) for name in IDS if name in table.column_names}
    constants = {name: _constant(table.column(name)) for name in table.column_names if name not in IDS}
    return tallies, constants, time_facts(table.column("timestamp"), now)


def _timestamps(facts: TimeFacts) -> list[QualityWarning]:
    out = []
    n = facts.rows
    if n >= 2 and facts.midnight:
        out.append(
            QualityWarning(
                "date_only_timestamps",
                f"Every timestamp is a date without a time of day ({n:,} events): the order of events within a "
                "day is lost, so sessions, cycle times and replay turns work at the resolution of a day.",
                n,
            )
        )
    for code, count, examples, what in (
        ("future_timestamps", facts.late, facts.late_examples, "dated in the future (after tomorrow, UTC)"),
        ("early_timestamps", facts.early, facts.early_examples, "dated before 1990"),
    ):
        if not count:
            continue
        meaning = (
            "a clock or time-zone error? They fall in the last replay turn and the holdout, and stretch every "
            "time axis."
            if code == "future_timestamps"
            else "a default or zero date (1970-01-01)? They stretch the time span and fill the first replay turns."
        )
        out.append(QualityWarning(code, f"{count:,} events are {what}: {meaning}", count, examples))
    return out


def assess_quality(
    table: pa.Table,
    *,
    dictionary: SignalDictionary,
    mapping: ColumnMap,
    duplicates: Duplicates,
    dropped: bool = False,
    now: datetime | None = None,
) -> tuple[QualityWarning, ...]:
    """The data-quality warnings of checked, time-sorted events (canonical columns, ids dictionary-encoded).

    Parameters:
        duplicates: from :func:`find_duplicates` on the same events (before any were dropped).
        dropped: whether those duplicates were dropped (the warning then says so).
        now: the clock for future timestamps (default: now, UTC).
    """
    facts = QualityFacts()
    facts.add(table.column_names, *batch_facts(table, now or datetime.now(UTC)))
    return assess_facts(
        facts,
        dictionary=dictionary,
        mapping=mapping,
        duplicates=duplicates,
        dropped=dropped,
        hits=lambda rules: rule_hits(table, rules),
    )


def assess_facts(
    facts: QualityFacts,
    *,
    dictionary: SignalDictionary,
    mapping: ColumnMap,
    duplicates: Duplicates,
    hits: RuleHits,
    dropped: bool = False,
) -> tuple[QualityWarning, ...]:
    """:func:`assess_quality` of a log's facts (a whole table's, or the merge of its batches'); ``hits``
    counts the events each value rule matches, asked only when a rule can change a warning."""
    n = facts.rows
    users, items, events = facts.tally("user"), facts.tally("item"), facts.tally("event")
    assert users is not None and events is not None and facts.time is not None
    out: list[QualityWarning] = []
    if duplicates.count:
        total = n + duplicates.count if dropped else n
        share = duplicates.count / total
        out.append(
            QualityWarning(
                "duplicate_rows",
                f"{duplicates.count:,} rows ({share:.0%}) were exact duplicates of another row and were dropped."
                if dropped
                else f"{duplicates.count:,} rows ({share:.0%}) are exact duplicates of another row: they inflate event "
                "counts, popularity and feedback rates. Drop them (--drop-duplicates, or 'Drop exact duplicate rows' "
                "on the page) unless each copy is a real repeat.",
                duplicates.count,
                duplicates.examples,
            )
        )
    anonymous = mapping.user_from == ANONYMOUS
    if anonymous:
        out.append(
            QualityWarning(
                "anonymous_user",
                "One anonymous user for all rows: per-user analytics (active users, retention, events per user) are "
                "not meaningful, and no model can personalise; item and event analytics still hold.",
                n,
            )
        )
    elif mapping.user_from == "session":
        out.append(
            QualityWarning(
                "user_from_session",
                f"Users are sessions (column '{mapping.roles['session']}'): each session counts as a user, so "
                "retention and repeat behaviour across sessions cannot be seen.",
                users.distinct,
            )
        )
    if not anonymous and n >= _MIN_ROWS and users.distinct == n:
        out.append(
            QualityWarning(
                "one_event_per_user",
                f"Every user has exactly one event ({users.distinct:,} users for {n:,} rows): is '{mapping.roles['user']}' a row "
                "or event id? Per-user history, retention and personalisation need repeat users: map the real user "
                "column, or build one from several columns (user=a+b+c).",
                users.distinct,
            )
        )
    if items is not None and items.distinct == 1 and n >= 2:
        only = _one(items) or ""
        out.append(
            QualityWarning(
                "one_item",
                f"The catalog has one item ({only!r}): there is nothing to rank or recommend, and item analytics "
                f"are empty. Map another item column ('{mapping.roles['item']}' is mapped), or leave item unmapped.",
                1,
                (only,),
            )
        )
    polarity = _polarity_rows(events.per_value(), dictionary, "value" in facts.names, hits)
    if not polarity["positive"] or not polarity["negative"]:
        present = [p for p in ("positive", "negative") if polarity[p]]
        which = (
            f"every event with a meaning reads as {present[0]}" if present else "no event reads as positive or negative"
        )
        out.append(
            QualityWarning(
                "single_polarity",
                f"A single polarity ({which}): a feedback model cannot be trained on it. Map a negative signal "
                "(a skip, a dislike, the 0 of a 0/1 column) or a positive one in the signal dictionary, or use the "
                "recommend task.",
                polarity[present[0]] if present else n,
                tuple(f"{p}: {polarity[p]:,} events" for p in ("positive", "negative", "neutral")),
            )
        )
    if n >= 2:
        constant = []
        tallies = {"user": users, "event": events}
        for name in facts.names:
            if (name == "user" and anonymous) or name == "item":
                continue
            value = _one(tallies[name]) if name in tallies else facts.constants.get(name)
            if value is not None:
                source = mapping.roles.get(name, name)
                constant.append(f"{source} = {value!r}")
        if constant:
            out.append(
                QualityWarning(
                    "constant_column",
                    f"{len(constant)} mapped column{'s hold' if len(constant) > 1 else ' holds'} one value in every row "
                    f"({'; '.join(constant[:_EXAMPLES])}): no information for the analytics, and none for a model.",
                    len(constant),
                    tuple(constant[:_EXAMPLES]),
                )
            )
    out += _timestamps(facts.time)
    for role, floor, share_limit in (("user", _MIN_ROWS, _USER_SHARE), ("item", _MIN_ROWS, _ITEM_SHARE)):
        tally = facts.tally(role)
        if tally is None or (role == "user" and anonymous) or n < _MIN_ROWS:
            continue
        if tally.distinct < floor:
            continue
        top, count = tally.top()
        name = _shown(str(top))
        share = count / n
        if share >= share_limit:
            meaning = (
                "a bot, a test account or a shared id? It dominates training and every per-user figure."
                if role == "user"
                else "a default or placeholder item? It dominates popularity baselines and hides the long tail."
            )
            out.append(
                QualityWarning(
                    f"{role}_skew",
                    f"One {role} ({name!r}) holds {share:.0%} of the events ({count:,} of {n:,}): {meaning}",
                    count,
                    (name,),
                )
            )
    return tuple(out)
