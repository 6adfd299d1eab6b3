"""Service functions for interaction data: import a log, list, read and delete datasets.

Pages and the command line call these. The import runs in two steps: ``ingest.prepare_import``
(read, check and stage the events file; no database) then :func:`store_import` (one unit of work).
:func:`append_file` adds a batch to a dataset with its stored mapping; :func:`ingest_sql` and
:func:`append_sql` read the events from a database query (:mod:`flywheel_core.data.sql`) instead.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from flywheel_core.data.columns import ROLES
from flywheel_core.data.distributed import DaskAggregates
from flywheel_core.data.ingest import IngestReport, PreparedImport, prepare_import, preview_file
from flywheel_core.data.reading import Limits
from flywheel_core.data.signals import SignalDictionary, SignalRule, SignalSpec
from flywheel_core.exceptions import ConflictError, DataValidationError, InsufficientDataError, LimitExceededError
from flywheel_core.storage.files import stage_parquet
from flywheel_core.storage.models import Dataset, DatasetBatch, as_utc
from flywheel_core.storage.store import Store

if TYPE_CHECKING:  # pandas and the analytics load only when a profile is asked for (not on an import)
    import pandas as pd
    from pandas import DataFrame

    from flywheel_core.config import Settings
    from flywheel_core.data import analytics, figures

__all__ = [
    "AppendReport",
    "DatasetInfo",
    "ExploreResult",
    "IngestReport",
    "Limits",
    "append_file",
    "append_sql",
    "delete_dataset",
    "explore_dataset",
    "explore_events",
    "get_dataset",
    "import_limits",
    "ingest_file",
    "ingest_sql",
    "list_datasets",
    "preview_file",
    "profile",
    "read_analysis_events",
    "read_events",
    "remap_dataset",
    "store_frame",
    "store_import",
]


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset as pages see it: counts, span (UTC), provenance and its signal dictionary."""

    id: int
    name: str
    rows: int
    users: int
    items: int
    first_event: datetime | None
    last_event: datetime | None
    source_name: str
    content_hash: str
    created_by: str
    created_at: datetime
    signals: SignalDictionary

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetInfo:
        assert row.id is not None
        created = as_utc(row.created_at)
        assert created is not None
        return cls(
            id=row.id,
            name=row.name,
            rows=row.rows,
            users=row.users,
            items=row.items,
            first_event=as_utc(row.first_event),
            last_event=as_utc(row.last_event),
            source_name=row.source_name,
            content_hash=row.content_hash,
            created_by=row.created_by,
            created_at=created,
            signals=SignalDictionary.from_json(row.signal_dictionary),
        )


def list_datasets(store: Store, *, workspace_id: int, actor: str) -> list[DatasetInfo]:
    """The workspace's datasets, by name."""
    return [DatasetInfo.from_row(d) for d in store.list_datasets(workspace_id=workspace_id, actor=actor)]


def get_dataset(store: Store, *, workspace_id: int, name: str, actor: str) -> DatasetInfo:
    return DatasetInfo.from_row(store.get_dataset(workspace_id=workspace_id, name=name, actor=actor))


def read_events(
    store: Store, *, workspace_id: int, name: str, actor: str, columns: list[str] | None = None
) -> DataFrame:
    """The dataset's events (canonical roles plus features), only ``columns`` when given."""
    return store.read_events(workspace_id=workspace_id, name=name, columns=columns, actor=actor)


def read_analysis_events(store: Store, *, workspace_id: int, name: str, actor: str) -> DataFrame:
    """The columns every analytic needs (user, item, timestamp, event, value, session), nothing more."""
    from flywheel_core.data.analytics import ANALYSIS_COLUMNS

    return read_events(store, workspace_id=workspace_id, name=name, actor=actor, columns=list(ANALYSIS_COLUMNS))


def remap_dataset(
    store: Store,
    *,
    workspace_id: int,
    name: str,
    actor: str,
    signals: dict[str, SignalSpec] | None = None,
    rules: list[SignalRule] | None = None,
) -> DatasetInfo:
    """Change what a stored dataset's events mean (their kind, polarity and weight, and the value rules)
    without importing it again: this makes the next version of its signal dictionary. The stored events
    are not rewritten; versions trained before keep the dictionary version they used (their registry
    row says which).

    ``signals`` change or add events' meanings; ``rules``, when given, replace the value rules.

    Raises:
        DataValidationError: a rule names an event the dataset does not have.
    """
    row = store.get_dataset(workspace_id=workspace_id, name=name, actor=actor)
    current = SignalDictionary.from_json(row.signal_dictionary)
    events = {**current.events, **(signals or {})}
    new_rules = tuple(current.rules if rules is None else rules)
    unknown = sorted({r.event for r in new_rules} - set(events))
    if unknown:
        raise DataValidationError(
            f"A value rule names {', '.join(repr(u) for u in unknown)}, which this dataset's events do not "
            f"include ({', '.join(sorted(events)[:10])}). Check the event name."
        )
    updated = SignalDictionary(events=events, rules=new_rules, version=current.version + 1)
    stored = store.set_signal_dictionary(
        workspace_id=workspace_id, name=name, signal_dictionary=updated.to_json(), actor=actor
    )
    return DatasetInfo.from_row(stored)


def delete_dataset(store: Store, *, workspace_id: int, name: str, actor: str) -> None:
    """Delete the dataset, its events file and its model versions' files (needs editor)."""
    store.delete_dataset(workspace_id=workspace_id, name=name, actor=actor)


@dataclass(frozen=True)
class ExploreResult:
    """Every analytic of the Explore view for one date range, aggregated (small enough to cache).

    ``long_tail`` and ``ratings`` are None when the data cannot support them; ``*_note`` says why.
    """

    profile: analytics.DataProfile
    freq: str  # "day" or "week": the bucket of the over-time charts
    over_time: DataFrame
    activity: analytics.ActivityResult
    retention: DataFrame
    new_returning: DataFrame
    outliers: DataFrame
    long_tail: analytics.LongTailResult | None
    long_tail_note: str
    ratings: analytics.RatingBiasResult | None
    ratings_note: str


def explore_events(
    events: DataFrame, signals: SignalDictionary, *, start: datetime | None = None, end: datetime | None = None
) -> ExploreResult | None:
    """Profile ``events`` between ``start`` (inclusive) and ``end`` (exclusive); None when no event is in range."""
    from flywheel_core.data import analytics

    events = analytics.filter_dates(events, start, end)
    if len(events) == 0:
        return None
    span_days = (events["timestamp"].max() - events["timestamp"].min()).days
    freq = "D" if span_days <= 120 else "W"
    try:
        tail, tail_note = analytics.item_long_tail(events, signals), ""
    except InsufficientDataError as error:
        tail, tail_note = None, str(error)
    try:
        ratings, ratings_note = analytics.rating_bias(events, signals), ""
    except InsufficientDataError as error:
        ratings, ratings_note = None, str(error)
    return ExploreResult(
        profile=analytics.profile_events(events, signals),
        freq="day" if freq == "D" else "week",
        over_time=analytics.events_over_time(events, signals, freq),
        activity=analytics.active_users(events),
        retention=analytics.retention_cohorts(events),
        new_returning=analytics.new_vs_returning(events),
        outliers=analytics.user_outliers(events),
        long_tail=tail,
        long_tail_note=tail_note,
        ratings=ratings,
        ratings_note=ratings_note,
    )


def explore_dataset(
    store: Store,
    *,
    workspace_id: int,
    name: str,
    actor: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ExploreResult | None:
    """:func:`explore_events` of a stored dataset from its aggregates (kept beside its events, made on the
    first read of a dataset stored before them): kilobytes for the whole range, the daily tables for a range of
    whole UTC days (one pass over the events files' row groups in the range for behaviour and items); None
    when no event is in range. Naive bounds are UTC."""
    row = store.get_dataset(workspace_id=workspace_id, name=name, actor=actor)
    dictionary = SignalDictionary.from_json(row.signal_dictionary)
    found = _summary(store, row, dictionary, start, end)
    if found is False:  # the aggregates could not be made (the data folder refused them): from the events
        events = read_analysis_events(store, workspace_id=workspace_id, name=name, actor=actor)
        return explore_events(events, dictionary, start=start, end=end)
    if found is None:
        return None
    return _explore_result(found, dictionary)


def profile(store: Store, *, workspace_id: int, name: str, actor: str) -> analytics.DataProfile:
    """The dataset at a glance (``analytics.profile_events``), from its aggregates.

    Raises:
        InsufficientDataError: the dataset has no events.
    """
    from flywheel_core.data import analytics, figures

    row = store.get_dataset(workspace_id=workspace_id, name=name, actor=actor)
    dictionary = SignalDictionary.from_json(row.signal_dictionary)
    found = _summary(store, row, dictionary, None, None)
    if found is False:
        events = read_analysis_events(store, workspace_id=workspace_id, name=name, actor=actor)
        return analytics.profile_events(events, dictionary)
    if found is None:
        raise InsufficientDataError("There are no events in this selection. Widen the date range or import data.")
    return figures.profile(found, dictionary)


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _summary(
    store: Store, row: Dataset, dictionary: SignalDictionary, start: datetime | None, end: datetime | None
) -> figures.Summary | Literal[False] | None:
    """The aggregates of ``row`` in the range, read from the data folder (local or the object store) and made
    there where missing (None: no events in the range; False: they could not be written there)."""
    from flywheel_core.data import aggregates, summaries
    from flywheel_core.exceptions import StorageError

    span = aggregates.Span(_micros(start), _micros(end))
    try:
        return summaries.summary(
            store.aggregate_batches(row), dictionary, span, cluster=DaskAggregates.from_settings(store.settings)
        )
    except StorageError:  # a full disk, a read-only bucket: the figures from the events instead
        return False


def _explore_result(found: figures.Summary, dictionary: SignalDictionary) -> ExploreResult:
    from flywheel_core.data import figures

    profile_ = figures.profile(found, dictionary)
    span_days = (profile_.last_event - profile_.first_event).days
    freq = "D" if span_days <= 120 else "W"
    try:
        tail, tail_note = figures.long_tail(found, dictionary), ""
    except InsufficientDataError as error:
        tail, tail_note = None, str(error)
    try:
        ratings, ratings_note = figures.rating_bias(found, dictionary), ""
    except InsufficientDataError as error:
        ratings, ratings_note = None, str(error)
    return ExploreResult(
        profile=profile_,
        freq="day" if freq == "D" else "week",
        over_time=figures.over_time(found, dictionary, freq),
        activity=found.activity,
        retention=found.retention,
        new_returning=found.new_returning,
        outliers=figures.outliers(found),
        long_tail=tail,
        long_tail_note=tail_note,
        ratings=ratings,
        ratings_note=ratings_note,
    )


_NO_SUMMARIES = (
    "The events were stored, but their summaries could not be written ({error}); they are made when "
    "the dataset is first explored."
)


def _stage_aggregates(
    store: Store, events: Path | pa.Table, dictionary: SignalDictionary, report: IngestReport
) -> Path | None:
    """The batch's aggregates, computed from its staged (local) events file into the staging area, for the
    store to put beside the events before their row commits; None when there is no staged file or they could
    not be made (the import stands: they are made after it, or on the first read, and the report says so)."""
    import duckdb

    from flywheel_core.data import summaries
    from flywheel_core.exceptions import StorageError
    from flywheel_core.storage.files import STAGING

    if not isinstance(events, Path):
        return None
    try:
        return summaries.stage(events, dictionary, store.data_dir / STAGING)
    except (StorageError, LimitExceededError, duckdb.Error, OSError) as error:
        report.warnings.append(_NO_SUMMARIES.format(error=error))
        return None


def _update_aggregates(store: Store, row: Dataset, dictionary: SignalDictionary, report: IngestReport) -> None:
    """After a batch is stored: the aggregates of any batch without them (the batch's own were stored with
    it: :func:`_stage_aggregates`); the import stands if this fails: they are then made on the first read,
    and the report says so."""
    import duckdb

    from flywheel_core.data import summaries
    from flywheel_core.exceptions import ConfigurationError, StorageError

    try:
        summaries.update(store.aggregate_batches(row), dictionary, cluster=DaskAggregates.from_settings(store.settings))
    except (StorageError, ConfigurationError, LimitExceededError, duckdb.Error, OSError) as error:  # the cluster
        if not any("summaries could not be written" in w for w in report.warnings):
            report.warnings.append(_NO_SUMMARIES.format(error=error))


def import_limits(store: Store) -> Limits:
    """The instance's upload limits (file size, rows, field length)."""
    return Limits.from_settings(store.settings)


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
    drop_duplicates: bool = False,
    user_from: str | None = None,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Read, check and store an interaction log as dataset ``dataset``: :func:`prepare_import`, then
    :func:`store_import`.

    Parameters:
        columns: role -> source column overrides (``feature`` takes a comma-separated list; an id role
            may join several columns, ``user="age+country+device"``).
        signals: event -> meaning overrides on top of the defaults for common names.
        skip_invalid: store the valid rows and report the rest (default: any invalid row refuses
            the whole file and nothing is stored).
        drop_duplicates: leave out exact duplicate rows (``report.duplicates_dropped`` counts them).
        user_from: for a log without a user column: ``"session"`` or ``"anonymous"``.

    Returns:
        The report; ``stored`` says whether anything was written; ``quality`` holds the data-quality
        warnings (also stored with the dataset).

    Raises:
        DataValidationError: the file cannot be read or has invalid rows (``problems`` lists them).
        LimitExceededError: the file, a row count or a field is over the limits.
        ConflictError: the name is taken, or the same content was imported already.
    """
    prepared = prepare_import(
        source,
        dataset=dataset,
        columns=columns,
        signals=signals,
        skip_invalid=skip_invalid,
        drop_duplicates=drop_duplicates,
        user_from=user_from,
        source_name=source_name,
        limits=limits or Limits.from_settings(store.settings),
        progress=progress,
        stage_in=store.data_dir,
    )
    return store_import(store, workspace_id=workspace_id, prepared=prepared, actor=actor, progress=progress)


def store_import(
    store: Store,
    *,
    workspace_id: int,
    prepared: PreparedImport,
    actor: str,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Store a prepared log as one Parquet file and one row, all or nothing (see ``Store.store_dataset``).

    Raises:
        ConflictError: the same content was imported in this workspace already, or the name is taken.
        DataValidationError / LimitExceededError: the log's rows were refused (``prepared.refusal``).
    """
    report = prepared.report
    note = progress or (lambda _f, _m: None)
    try:
        same = store.find_dataset_by_hash(workspace_id=workspace_id, content_hash=report.content_hash)
        if same is not None:
            raise ConflictError(
                f"{prepared.label} was already imported in this workspace as dataset '{same.name}'. "
                "Nothing new was stored."
            )
        if prepared.refusal is not None:
            raise prepared.refusal
        note(0.7, f"Storing {report.rows_read - report.rows_rejected - report.duplicates_dropped:,} events")
        _store(store, workspace_id=workspace_id, prepared=prepared, actor=actor)
    finally:
        prepared.discard()
    report.seconds = time.perf_counter() - prepared.started
    note(1.0, "Stored")
    return report


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _store(store: Store, *, workspace_id: int, prepared: PreparedImport, actor: str) -> None:
    table, report, streamed = prepared.table, prepared.report, prepared.streamed
    assert prepared.dictionary is not None
    if streamed is not None:  # read in batches: the counts and ids the batches left, the events staged
        rows, first_us, last_us = streamed.rows, streamed.first_us, streamed.last_us
        distinct = streamed.distinct()
    else:
        assert table is not None
        rows = table.num_rows
        bounds = pc.min_max(table.column("timestamp").cast(pa.int64()))  # a timestamp's as_py() imports pandas
        first_us, last_us = (bounds["min"].as_py(), bounds["max"].as_py()) if rows else (0, 0)
        # Distinct counts come free from the dictionary encoding (one chunk, only used values).
        distinct = {c: table.column(c).chunk(0).dictionary for c in ("user", "item") if c in table.column_names}
    users = len(distinct["user"]) if rows else 0
    items = len(distinct["item"]) if "item" in distinct and rows else 0
    report.rows_stored = rows
    report.stored = True
    record = Dataset(
        workspace_id=workspace_id,
        name=report.dataset,
        source_name=prepared.source_name[:300],
        content_hash=report.content_hash,
        file_path="",
        rows=rows,
        users=users,
        items=items,
        first_event=_EPOCH + timedelta(microseconds=first_us),
        last_event=_EPOCH + timedelta(microseconds=last_us),
        column_map=report.column_map,
        signal_dictionary=prepared.dictionary.to_json(),
        report={k: v for k, v in report.to_json().items() if k != "column_map"},
        created_by=actor,
    )
    staged = prepared.staged or table
    assert staged is not None
    summaries = _stage_aggregates(store, staged, prepared.dictionary, report) if rows else None
    try:
        store.store_dataset(
            workspace_id=workspace_id,
            table=staged,
            dataset=record,
            actor=actor,
            distinct=distinct if rows else None,
            aggregates=summaries,
        )
    finally:
        if summaries is not None:
            shutil.rmtree(summaries, ignore_errors=True)
    # The events in memory (a whole-file read) are let go before DuckDB reads them back from the file.
    del table, staged, distinct
    prepared.table = None
    _update_aggregates(store, record, prepared.dictionary, report)


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


# --- appends and SQL sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class AppendReport:
    """A batch appended to a dataset: the batch's import report, its number, and the dataset after it.

    ``overlapping_rows`` counts the batch's events inside the time range the dataset held before. They are
    stored (late events happen), and ``report.warnings`` says so: a re-exported week shows up here.
    """

    report: IngestReport
    batch: int
    overlapping_rows: int
    dataset: DatasetInfo


def append_file(
    store: Store,
    *,
    workspace_id: int,
    source: Path | bytes,
    dataset: str,
    actor: str,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    source_name: str | None = None,
    limits: Limits | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> AppendReport:
    """Add a log (CSV, gzip CSV, Parquet) to dataset ``dataset`` as a new batch, read with the dataset's
    stored column mapping and checked like a first import; all or nothing.

    The batch is its own Parquet file: no earlier batch is rewritten. New events get the default meaning
    of their name (or ``signals``) in the dataset's signal dictionary.

    Raises:
        NotFoundError: no such dataset. DataValidationError: the batch lacks a mapped column, a column's
            type differs from the dataset's, or rows are invalid. LimitExceededError: over the limits.
        ConflictError: the same content was imported already (to this dataset or another).
    """
    from concurrent.futures import ThreadPoolExecutor

    from flywheel_core.data import batches

    row = store.get_dataset(workspace_id=workspace_id, name=dataset, actor=actor)
    columns = batches.stored_mapping(row.column_map)
    shown = source_name or (source.name if isinstance(source, Path) else "")
    batches.check_batch_columns(batches.source_columns(source), columns, f"'{shown or 'the upload'}'", row.name)
    earlier = store.dataset_files(row)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the earlier batches' ids are read while the batch is parsed
        reading = pool.submit(store.batch_ids, earlier)
        prepared = prepare_import(
            source,
            dataset=row.name,
            columns=columns,
            signals=signals,
            skip_invalid=skip_invalid,
            source_name=source_name,
            limits=limits or Limits.from_settings(store.settings),
            progress=progress,
        )
        ids = reading.result()
    return _append(
        store,
        workspace_id=workspace_id,
        row=row,
        prepared=prepared,
        signals=signals,
        actor=actor,
        earlier=(earlier, ids),
    )


def ingest_sql(
    store: Store,
    *,
    workspace_id: int,
    url: str,
    query: str,
    dataset: str,
    actor: str,
    columns: dict[str, str] | None = None,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Import the rows of ``query`` on the database at ``url`` as dataset ``dataset``: read into Arrow
    (:func:`flywheel_core.data.sql.read_query`), then the same mapping, checks and limits as a file.

    Raises:
        ConfigurationError: no driver for the URL (install the ``sql`` extra) or no connection.
        DataValidationError: the query fails or returns no rows; the rows do not pass the checks.
        LimitExceededError, ConflictError: as :func:`ingest_file`.

    With a Dask cluster configured (``FLYWHEEL_DASK_SCHEDULER``) the read, checks and store run in a worker
    (:mod:`flywheel_core.data.sql_cluster`; ``report.ran_on`` says where) and this waits for the report,
    calling ``progress`` (in this thread) as the worker reports. A cluster that cannot take it raises
    ConfigurationError, saying why.
    """
    from flywheel_core.data import sql_cluster
    from flywheel_core.data.sql import read_query

    if sql_cluster.on_cluster(store.settings):
        arguments = dict(
            query=query, dataset=dataset, actor=actor, columns=columns, signals=signals, skip_invalid=skip_invalid
        )
        report: IngestReport = sql_cluster.run_on_cluster(
            store.settings,
            _sql_import_on_worker,
            append=False,
            workspace_id=workspace_id,
            url=url,
            arguments=arguments,
            progress=progress,
        )
        return report
    limits = Limits.from_settings(store.settings)
    extract = read_query(url, query, limits=limits)
    return ingest_file(
        store,
        workspace_id=workspace_id,
        source=extract.data,
        dataset=dataset,
        actor=actor,
        columns=columns,
        signals=signals,
        skip_invalid=skip_invalid,
        source_name=extract.label,
        limits=limits,
        progress=progress,
    )


def append_sql(
    store: Store,
    *,
    workspace_id: int,
    url: str,
    query: str,
    dataset: str,
    actor: str,
    signals: dict[str, SignalSpec] | None = None,
    skip_invalid: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> AppendReport:
    """Append the rows of ``query`` to dataset ``dataset`` as a new batch (:func:`append_file` on them);
    on a Dask worker when a cluster is configured, as :func:`ingest_sql`."""
    from flywheel_core.data import sql_cluster
    from flywheel_core.data.sql import read_query

    store.get_dataset(workspace_id=workspace_id, name=dataset, actor=actor)  # before running the query
    if sql_cluster.on_cluster(store.settings):
        arguments = dict(query=query, dataset=dataset, actor=actor, signals=signals, skip_invalid=skip_invalid)
        result: AppendReport = sql_cluster.run_on_cluster(
            store.settings,
            _sql_import_on_worker,
            append=True,
            workspace_id=workspace_id,
            url=url,
            arguments=arguments,
            progress=progress,
        )
        return result
    limits = Limits.from_settings(store.settings)
    extract = read_query(url, query, limits=limits)
    return append_file(
        store,
        workspace_id=workspace_id,
        source=extract.data,
        dataset=dataset,
        actor=actor,
        signals=signals,
        skip_invalid=skip_invalid,
        source_name=extract.label,
        limits=limits,
        progress=progress,
    )


def _sql_import_on_worker(
    settings: Settings, append: bool, workspace_id: int, url: str, arguments: dict[str, Any]
) -> IngestReport | AppendReport:
    """An SQL import's work on a Dask worker (:func:`flywheel_core.data.sql_cluster.run_on_cluster`): open the
    store from the app's settings and run :func:`ingest_sql` or :func:`append_sql` there, reporting progress to
    the waiting caller. The report's ``ran_on`` says where it ran (host, process id, Dask worker)."""
    from flywheel_core.cluster import RanOn, task_progress

    store = Store(settings, migrate=False)  # the app that asked has migrated the database
    progress = task_progress()
    try:
        if append:
            appended = append_sql(store, workspace_id=workspace_id, url=url, progress=progress, **arguments)
            appended.report.ran_on = RanOn.here()
            return appended
        report = ingest_sql(store, workspace_id=workspace_id, url=url, progress=progress, **arguments)
        report.ran_on = RanOn.here()
        return report
    finally:
        store.engine.dispose()


def _append(
    store: Store,
    *,
    workspace_id: int,
    row: Dataset,
    prepared: PreparedImport,
    signals: dict[str, SignalSpec] | None,
    actor: str,
    earlier: tuple[list[str], dict[str, pa.Array]] | None = None,
) -> AppendReport:
    from flywheel_core.data import batches

    report = prepared.report
    same = store.find_dataset_by_hash(workspace_id=workspace_id, content_hash=report.content_hash, actor=actor)
    if same is not None:
        where = "to this dataset" if same.id == row.id else f"as part of dataset '{same.name}'"
        raise ConflictError(f"{prepared.label} was already imported {where}. Nothing new was stored.")
    if prepared.refusal is not None:
        raise prepared.refusal
    assert prepared.table is not None and prepared.dictionary is not None
    table = batches.like_stored(prepared.table, store.dataset_schema(row), prepared.label, row.name)
    first, last = as_utc(row.first_event), as_utc(row.last_event)
    overlap = batches.overlapping_rows(table, first, last)
    dictionary, new_events, unknown = batches.merged_signals(row.signal_dictionary, prepared.dictionary, signals)
    report.warnings = [w for w in report.warnings if not w.startswith("No meaning known")]  # the batch alone
    if unknown:
        report.warnings.append(
            f"New event{'s' if len(unknown) > 1 else ''} in this batch with no known meaning: "
            f"{', '.join(unknown[:10])}; read as neutral until you map them."
        )
    if overlap and first is not None and last is not None:
        report.warnings.append(
            f"{overlap:,} of the batch's {table.num_rows:,} events fall inside the time the dataset already "
            f"covers ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC). They were stored (late events "
            "happen); check that the batch does not repeat events imported before."
        )
    start, end = batches.event_span(table)
    batch = DatasetBatch(
        workspace_id=workspace_id,
        dataset_id=row.id or 0,
        number=0,
        source_name=prepared.source_name[:300],
        content_hash=report.content_hash,
        file_path="",
        rows=table.num_rows,
        first_event=start,
        last_event=end,
    )
    staged = stage_parquet(store.data_dir, table)
    summaries = _stage_aggregates(store, staged, dictionary, report)
    try:
        updated, stored = store.append_batch(
            workspace_id=workspace_id,
            name=row.name,
            table=staged,
            batch=batch,
            distinct=batches.distinct_ids(table),
            signal_dictionary=dictionary.to_json() if new_events or signals else None,
            actor=actor,
            earlier_ids=earlier,
            aggregates=summaries,
        )
    finally:
        staged.unlink(missing_ok=True)
        if summaries is not None:
            shutil.rmtree(summaries, ignore_errors=True)
    report.rows_stored, report.stored = table.num_rows, True
    del table  # let go before DuckDB reads the batch back
    prepared.table = None
    _update_aggregates(store, updated, SignalDictionary.from_json(updated.signal_dictionary), report)
    report.column_map, report.signals = dict(row.column_map), dictionary.to_json()
    report.seconds = time.perf_counter() - prepared.started
    return AppendReport(
        report=report, batch=stored.number, overlapping_rows=overlap, dataset=DatasetInfo.from_row(updated)
    )
