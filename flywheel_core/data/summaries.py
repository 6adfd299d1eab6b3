"""Keeping a dataset's aggregates beside its events and reading one date range's :class:`figures.Summary`.

:func:`stage` computes a batch's tables (one DuckDB pass over its file) from its staged events file, which is
local even when the data folder is an object store; the store puts the folder beside the events file with it,
before their row commits. :func:`update` runs after a batch is stored and makes the tables of any earlier batch
that lacks them. The dataset-wide tables (the users' behaviour over every batch's user, item and time columns;
actives, cohorts and new-vs-returning from every batch's (day, user) table, no events) are made by the first
read after that and kept in the last batch's folder. :func:`summary` reads them; a batch stored before
aggregates existed, or whose value rules have changed since, has its tables made on that first read, once.

A date range of whole UTC days is answered from the daily tables with the day pushed down into them; the
figures that need the events themselves (the users' behaviour, the items in the range, ratings of events
whose values are not a small scale) are one DuckDB query over the events files, whose row groups outside the
range are skipped by their timestamp statistics. Any other range is one such query for every figure.

Where the files are is ``storage.batch_files``' business (:class:`BatchFiles`: a local folder or an object
store); the tables read here are kilobytes either way, and the events are read only by the queries above.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from flywheel_core.data import aggregates
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.storage.batch_files import AggregatesFolder, BatchFiles, EventFiles, read_folders
from flywheel_core.storage.files import AGGREGATES_SUFFIX, TEMP_PREFIX

if TYPE_CHECKING:  # pandas loads only when figures are read: storing a batch's tables stays pandas-free
    import pandas as pd

    from flywheel_core.data.distributed import DaskAggregates
    from flywheel_core.data.figures import Summary

__all__ = ["BatchFiles", "stage", "summary", "update"]

BATCH_TABLES = ("daily", "user_days", "items", "ratings")
DATASET_TABLES = ("behaviour", "activity", "retention", "new_returning")
_DAY_US = aggregates.DAY_US


@dataclass
class _Batch:
    meta: dict[str, Any]
    tables: dict[str, Any]  # pa.Table, or a Path to a Parquet file not yet moved into the folder


def _meta(tables: aggregates.BatchTables, dictionary: SignalDictionary, has_value: bool) -> dict[str, Any]:
    return {
        "format": aggregates.FORMAT,
        "rules": aggregates.rules_key(dictionary.rules),
        "wide": list(tables.wide),
        "has_item": tables.items is not None,
        "has_value": has_value,
    }


def _compute_batch(batch: BatchFiles, dictionary: SignalDictionary, cluster: DaskAggregates | None = None) -> _Batch:
    """One DuckDB pass over the batch's file; its (day, user) table is written to a local file on the side
    of the folder (``AggregatesFolder.scratch``), moved in when the folder is written. With ``cluster``: the
    same tables by the Dask cluster."""
    if cluster is not None:
        from flywheel_core.data import distributed

        tables = distributed.batch_tables(cluster, list(batch.events.paths), dictionary.rules)
        return _Batch(_meta(tables, dictionary, "value" in batch.events.column_names()), tables.named())
    scratch = batch.aggregates.scratch()
    scratch.mkdir(parents=True, exist_ok=True)
    spill = scratch / f"{TEMP_PREFIX}{uuid.uuid4().hex}-user_days.pq"
    try:
        with aggregates.connect(aggregates.BATCH_MEMORY_LIMIT) as con:
            tables = aggregates.batch_tables(con, batch.events, dictionary.rules, user_days_to=spill)
    except BaseException:
        spill.unlink(missing_ok=True)
        raise
    return _Batch(_meta(tables, dictionary, "value" in batch.events.column_names()), tables.named())


def stage(events: Path, dictionary: SignalDictionary, staging: Path) -> Path:
    """The aggregates folder of the batch in the local events file ``events`` (staged, not stored yet),
    written whole in ``staging``; the store puts it beside the events file before their row commits."""
    target = staging / f"{uuid.uuid4().hex}{AGGREGATES_SUFFIX}"
    batch = BatchFiles(EventFiles.local([events]), AggregatesFolder.at(target))
    loaded = _compute_batch(batch, dictionary)
    try:
        _write(batch, loaded)
    finally:
        for table in loaded.tables.values():
            if isinstance(table, Path):
                table.unlink(missing_ok=True)
    return target


def _events(batches: Sequence[BatchFiles]) -> EventFiles:
    return EventFiles.join([b.events for b in batches])


def _behaviour(files: EventFiles, span: aggregates.Span) -> pa.Table:
    """``aggregates.behaviour_table`` of the files: local paths as they are; files in an object store opened
    for random access (pyarrow reads their footers and the row groups in ``span`` of three columns)."""
    if not files.remote:
        return aggregates.behaviour_table(files.local_paths(), span)
    opened = files.open()
    try:  # behaviour_table's pyarrow reads take an open file where they take a path
        return aggregates.behaviour_table(cast(list[Path], opened), span)
    finally:
        for file in opened:
            file.close()


def _dataset_tables(
    batches: Sequence[BatchFiles], cluster: DaskAggregates | None = None
) -> tuple[dict[str, pa.Table], float]:
    """The dataset-wide tables: actives, cohorts and new vs returning from every batch's (day, user) table
    (read from disk and let go before DuckDB runs), then behaviour over every batch's events."""

    from flywheel_core.data import analytics
    from flywheel_core.data.figures import pairs

    users, days, day0 = pairs(pa.concat_tables([_read(b, "user_days") for b in batches], promote_options="permissive"))
    activity = analytics.activity_from_pairs(users, days, day0)
    tables = {
        "activity": pa.Table.from_pandas(activity.daily, preserve_index=False),
        "retention": pa.Table.from_pandas(analytics.retention_from_pairs(users, days, day0), preserve_index=False),
        "new_returning": pa.Table.from_pandas(
            analytics.new_vs_returning_from_pairs(users, days, day0), preserve_index=False
        ),
    }
    del users, days
    if cluster is not None:  # a large dataset, with a cluster: the same table computed there
        from flywheel_core.data import distributed

        tables["behaviour"] = distributed.behaviour_table(cluster, list(_events(batches).paths))
    else:
        tables["behaviour"] = _behaviour(_events(batches), aggregates.Span())
    return tables, activity.dau_mau


def _key(batches: Sequence[BatchFiles]) -> list[str]:
    return [Path(p).name for b in batches for p in b.events.paths]


def _write(batch: BatchFiles, loaded: _Batch) -> None:
    batch.aggregates.write(loaded.tables, loaded.meta)


def update(batches: Sequence[BatchFiles], dictionary: SignalDictionary, cluster: DaskAggregates | None = None) -> None:
    """After the last of ``batches`` was stored: its tables (one DuckDB pass over its file, no pandas: the
    import stays light), and those of any earlier batch that lacks them. The dataset-wide tables (the users'
    behaviour, actives, cohorts) are made by the first read after it, once."""
    _load(batches, dictionary, (), dataset_wide=False, cluster=cluster)


def _load(
    batches: Sequence[BatchFiles],
    dictionary: SignalDictionary,
    names: tuple[str, ...],
    *,
    dataset_wide: bool = True,
    cluster: DaskAggregates | None = None,
) -> list[_Batch]:
    """Every batch's tables ``names`` (and the dataset-wide ones in the last batch's folder), made where
    missing or stale; by the Dask ``cluster`` when given and the dataset is large enough for it."""
    from functools import cache

    @cache
    def large() -> DaskAggregates | None:
        """The cluster, in the files' file system, if the dataset is large enough for it (read from its files'
        footers, only when a table is made)."""
        if cluster is None:
            return None
        files = _events(batches)
        sized = dataclasses.replace(cluster, filesystem=files.filesystem)
        return sized if sized.wanted(list(files.paths)) else None

    loaded: list[_Batch] = []
    rules = aggregates.rules_key(dictionary.rules)
    asked = [names + (DATASET_TABLES if i == len(batches) - 1 else ()) for i in range(len(batches))]
    founds = read_folders([(b.aggregates, w) for b, w in zip(batches, asked, strict=True)])
    for batch, wanted, found in zip(batches, asked, founds, strict=True):
        if not _fresh(found, names, rules):
            fresh = _compute_batch(batch, dictionary, large())
            kept = batch.aggregates.read(DATASET_TABLES) if found is not None else None
            if kept is not None and kept[0].get("format") == aggregates.FORMAT:  # keep its dataset-wide tables
                fresh.tables.update(kept[1])
                fresh.meta.update({k: kept[0][k] for k in ("dataset_of", "dau_mau") if k in kept[0]})
            try:
                _write(batch, fresh)
            finally:
                for table in fresh.tables.values():
                    if isinstance(table, Path):
                        table.unlink(missing_ok=True)
            fresh.tables = {  # let go of the rest
                n: t for n, t in fresh.tables.items() if n in wanted and not isinstance(t, Path)
            }
            loaded.append(fresh)
        else:
            assert found is not None
            loaded.append(_Batch(*found))
    last = loaded[-1]
    stale = last.meta.get("dataset_of") != _key(batches) or not all(n in last.tables for n in DATASET_TABLES)
    if dataset_wide and stale:
        tables, dau_mau = _dataset_tables(batches, large())
        last.tables.update(tables)
        last.meta.update({"dataset_of": _key(batches), "dau_mau": dau_mau})
        batches[-1].aggregates.add(tables, last.meta)  # beside the batch's own tables, which stay as they are
    return loaded


def _fresh(found: tuple[dict[str, Any], dict[str, pa.Table]] | None, names: tuple[str, ...], rules: Any) -> bool:
    """Whether a batch's stored tables are of this format and these value rules, with ``names`` all there."""
    if found is None or found[0].get("format") != aggregates.FORMAT or found[0].get("rules") != rules:
        return False
    needed = [n for n in names if n != "items" or found[0].get("has_item")]
    return all(n in found[1] for n in needed)


def _read(batch: BatchFiles, name: str) -> pa.Table:
    found = batch.aggregates.read((name,))
    assert found is not None and name in found[1]
    return found[1][name]


def _frames(loaded: list[_Batch], name: str) -> pd.DataFrame | None:
    """Table ``name`` of every batch that has it, as one frame (None: none has it)."""
    parts = [b.tables[name] for b in loaded if name in b.tables]
    if not parts:
        return None
    return pa.concat_tables(parts, promote_options="permissive").to_pandas()


def _day_aligned(value: int | None) -> bool:
    return value is None or value % _DAY_US == 0


def summary(
    batches: Sequence[BatchFiles],
    dictionary: SignalDictionary,
    span: aggregates.Span | None = None,
    cluster: DaskAggregates | None = None,
) -> Summary | None:
    """The aggregates of the events in ``span`` (default: all; None when there are none); the tables of a
    large dataset that are missing are made by the Dask ``cluster`` when given."""
    span = span or aggregates.Span()
    loaded = _load(batches, dictionary, ("daily", "items", "ratings"), cluster=cluster)
    daily = _frames(loaded, "daily")
    assert daily is not None
    if len(daily) == 0:
        return None
    first, last = int(daily["first_us"].min()), int(daily["last_us"].max())
    whole = (span.start_us is None or span.start_us <= first) and (span.end_us is None or span.end_us > last)
    has_value = any(b.meta.get("has_value") for b in loaded)
    if whole:
        return _whole(loaded, daily, has_value)
    files = _events(batches)
    if _day_aligned(span.start_us) and _day_aligned(span.end_us):
        return _days(loaded, batches, dictionary, span, has_value)
    return _scan(files, dictionary, span, has_value)


def _whole(loaded: list[_Batch], daily: pd.DataFrame, has_value: bool) -> Summary:
    """The whole dataset: the stored tables as they are."""
    from flywheel_core.data import analytics
    from flywheel_core.data.figures import Summary

    last = loaded[-1]
    activity = analytics.ActivityResult(daily=last.tables["activity"].to_pandas(), dau_mau=float(last.meta["dau_mau"]))
    ratings = _frames(loaded, "ratings")
    assert ratings is not None
    return Summary(
        daily=daily,
        items=_frames(loaded, "items") if all(b.meta.get("has_item") for b in loaded) else None,
        ratings=ratings,
        wide=frozenset(w for b in loaded for w in b.meta.get("wide", [])),
        has_value=has_value,
        behaviour=last.tables["behaviour"].to_pandas(),
        activity=activity,
        retention=last.tables["retention"].to_pandas(),
        new_returning=last.tables["new_returning"].to_pandas(),
    )


def _days(
    loaded: list[_Batch],
    batches: Sequence[BatchFiles],
    dictionary: SignalDictionary,
    span: aggregates.Span,
    has_value: bool,
) -> Summary | None:
    """Whole UTC days: the daily tables read with the day pushed down; behaviour and items by one scan."""
    import pandas as pd

    from flywheel_core.data import analytics
    from flywheel_core.data.figures import Summary, pairs

    files = _events(batches)
    filters: list[tuple[str, str, object]] = []
    if span.start_us is not None:
        filters.append(("day", ">=", span.start_us // _DAY_US))
    if span.end_us is not None:
        filters.append(("day", "<", span.end_us // _DAY_US))
    ranged = read_folders([(b.aggregates, ("daily", "user_days", "ratings")) for b in batches], filters)
    parts = [_Batch(*r) for r in ranged if r is not None]
    daily = _frames(parts, "daily")
    if daily is None or len(daily) == 0:
        return None
    user_days = pa.concat_tables([b.tables["user_days"] for b in parts], promote_options="permissive")
    ratings = _frames(parts, "ratings")
    assert ratings is not None
    wide = {w for b in loaded for w in b.meta.get("wide", [])}
    explicit_wide = sorted(w for w in wide if w in dictionary.events and dictionary.events[w].kind == "explicit")
    behaviour = _behaviour(files, span).to_pandas()
    with aggregates.connect() as con:
        items = None
        if all(b.meta.get("has_item") for b in loaded):
            aggregates.source(con, files, dictionary.rules, span)
            items = aggregates.items_table(con).to_pandas()
        if explicit_wide:  # narrow within the range, perhaps: look at their values in it
            aggregates.source(con, files, dictionary.rules, span)
            extra, still_wide = aggregates.ratings_table(con, only=explicit_wide)
            ratings = pd.concat([ratings, extra.to_pandas()], ignore_index=True)
            wide = (wide - set(explicit_wide)) | set(still_wide)
    users, days, day0 = pairs(user_days)
    return Summary(
        daily=daily,
        items=items,
        ratings=ratings,
        wide=frozenset(wide),
        has_value=has_value,
        behaviour=behaviour,
        activity=analytics.activity_from_pairs(users, days, day0),
        retention=analytics.retention_from_pairs(users, days, day0),
        new_returning=analytics.new_vs_returning_from_pairs(users, days, day0),
    )


def _scan(files: EventFiles, dictionary: SignalDictionary, span: aggregates.Span, has_value: bool) -> Summary | None:
    """A range that is not whole days: every table from one pass over the events in it."""

    from flywheel_core.data import analytics
    from flywheel_core.data.figures import Summary, pairs

    with aggregates.connect() as con:
        tables = aggregates.batch_tables(con, files, dictionary.rules, span)
        if tables.daily.num_rows == 0:
            return None
    behaviour = _behaviour(files, span).to_pandas()
    users, days, day0 = pairs(tables.user_days)
    return Summary(
        daily=tables.daily.to_pandas(),
        items=None if tables.items is None else tables.items.to_pandas(),
        ratings=tables.ratings.to_pandas(),
        wide=frozenset(tables.wide),
        has_value=has_value,
        behaviour=behaviour,
        activity=analytics.activity_from_pairs(users, days, day0),
        retention=analytics.retention_from_pairs(users, days, day0),
        new_returning=analytics.new_vs_returning_from_pairs(users, days, day0),
    )
