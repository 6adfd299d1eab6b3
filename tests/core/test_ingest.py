"""Ingest: every bad input is refused with a clear message, nothing is stored, earlier data untouched."""

from __future__ import annotations

import gzip
import io
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flywheel_core.data.api import ingest_file
from flywheel_core.data.ingest import Limits, detect_columns, preview_file
from flywheel_core.data.signals import SignalSpec
from flywheel_core.exceptions import ConflictError, DataValidationError, LimitExceededError
from flywheel_core.storage.store import Store
from tests.conftest import OTTO

GOOD = b"user,timestamp,event,value\nu1,2026-01-01T10:00:00Z,click,\nu2,2026-01-02,save,4\n"


def _files(store: Store) -> list[str]:
    root = store.data_dir / "workspaces"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def earlier(store: Store, workspace_id: int) -> str:
    """A dataset stored before each bad import: it must survive untouched."""
    ingest_file(store, workspace_id=workspace_id, source=GOOD, dataset="earlier", actor="t")
    return store.get_dataset(workspace_id=workspace_id, name="earlier").content_hash


def _refused(
    store: Store,
    workspace_id: int,
    data: bytes,
    match: str,
    limits: Limits | None = None,
    error: type[Exception] = DataValidationError,
    **kwargs: object,
) -> None:
    before = _files(store)
    with pytest.raises(error, match=match):
        ingest_file(
            store,
            workspace_id=workspace_id,
            source=data,
            dataset="bad",
            actor="t",
            limits=limits,
            source_name="bad.csv",
            **kwargs,
        )  # type: ignore[arg-type]
    assert [d.name for d in store.list_datasets(workspace_id=workspace_id)] == ["earlier"]
    assert _files(store) == before
    staging = store.data_dir / "staging"
    assert not staging.exists() or not any(staging.iterdir())  # no half-imported file waits anywhere


def test_ingest_otto_with_mapping_profiles_correctly(store: Store, workspace_id: int) -> None:
    report = ingest_file(
        store,
        workspace_id=workspace_id,
        source=OTTO,
        dataset="otto",
        actor="t",
        columns={"user": "session", "item": "aid", "timestamp": "ts_ms", "event": "type"},
    )
    assert (report.rows_read, report.rows_stored, report.rows_rejected) == (862, 862, 0)
    events = store.read_events(workspace_id=workspace_id, name="otto")
    raw = pd.read_csv(OTTO, dtype=str)
    assert events["user"].astype(str).nunique() == raw["session"].nunique() == 20
    assert sorted(events["item"].astype(str).unique()) == sorted(raw["aid"].unique())
    first = pd.Timestamp(int(raw["ts_ms"].astype("int64").min()), unit="ms", tz="UTC")
    assert events["timestamp"].min() == first
    assert report.signals["events"]["orders"]["polarity"] == "positive"


def test_ingest_keeps_ids_as_text_and_converts_times_to_utc(store: Store, workspace_id: int) -> None:
    data = b"user,item,timestamp,event\nNA,007,2026-01-01T10:00:00+02:00,click\n0012,NA,2026-01-01 10:00,view\n"
    ingest_file(store, workspace_id=workspace_id, source=data, dataset="ids", actor="t")
    events = store.read_events(workspace_id=workspace_id, name="ids")
    assert events["user"].astype(str).tolist() == ["NA", "0012"]
    assert events["item"].astype(str).tolist() == ["007", "NA"]
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2026-01-01 08:00", tz="UTC"),
        pd.Timestamp("2026-01-01 10:00", tz="UTC"),
    ]


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        (["1767261600", "1767265200"], "2026-01-01 10:00"),
        (["1767261600000", "1767265200000"], "2026-01-01 10:00"),
        (["2026-01-01", "2026-01-02"], "2026-01-01 00:00"),
    ],
)
def test_ingest_reads_unix_seconds_milliseconds_and_dates(
    store: Store, workspace_id: int, stamps: list[str], expected: str
) -> None:
    data = "user,timestamp,event\n" + "".join(f"u,{s},click\n" for s in stamps)
    ingest_file(store, workspace_id=workspace_id, source=data.encode(), dataset="t", actor="t")
    events = store.read_events(workspace_id=workspace_id, name="t")
    assert events["timestamp"].min() == pd.Timestamp(expected, tz="UTC")


def test_ingest_gzip_and_parquet(store: Store, workspace_id: int, tmp_path: Path) -> None:
    ingest_file(store, workspace_id=workspace_id, source=gzip.compress(GOOD), dataset="gz", actor="t")
    frame = pd.read_csv(io.BytesIO(GOOD), dtype=str)
    parquet = tmp_path / "events.parquet"
    frame.assign(extra="x").to_parquet(parquet)
    ingest_file(store, workspace_id=workspace_id, source=parquet, dataset="pq", actor="t")
    assert [len(store.read_events(workspace_id=workspace_id, name=n)) for n in ("gz", "pq")] == [2, 2]


def test_same_content_is_reported_as_already_imported(store: Store, workspace_id: int, earlier: str) -> None:
    with pytest.raises(ConflictError, match=r"already imported .* as dataset 'earlier'"):
        ingest_file(store, workspace_id=workspace_id, source=GOOD, dataset="again", actor="t")


def test_skip_invalid_stores_valid_rows_and_reports_the_rest(store: Store, workspace_id: int) -> None:
    data = b"user,timestamp,event,value\nu1,2026-01-01,click,1\nu2,yesterday,click,2\nu3,2026-01-03,click,abc\n"
    report = ingest_file(store, workspace_id=workspace_id, source=data, dataset="partial", actor="t", skip_invalid=True)
    assert (report.rows_read, report.rows_stored, report.rows_rejected) == (3, 1, 2)
    assert report.rejected_reasons == {"timestamp: not a date or time": 1, "value: not a number": 1}
    assert report.examples["timestamp: not a date or time"][0] == {"row": 2, "value": "yesterday"}


def test_signal_overrides_and_default_rules(store: Store, workspace_id: int) -> None:
    data = b"user,timestamp,event,value\nu,2026-01-01,stream,12\nu,2026-01-01,stream,200\nu,2026-01-02,boost,\n"
    report = ingest_file(
        store,
        workspace_id=workspace_id,
        source=data,
        dataset="s",
        actor="t",
        signals={"boost": SignalSpec("explicit", "positive", 2.0)},
    )
    assert report.signals["events"]["boost"] == {"kind": "explicit", "polarity": "positive", "weight": 2.0}
    assert {"event": "stream", "op": "<", "value": 30.0, "polarity": "negative", "weight": 1.0} in report.signals[
        "rules"
    ]


def test_detect_columns_from_common_names_and_overrides() -> None:
    found = detect_columns(["customer_id", "event_time", "action", "product_id", "rating", "f_device"])
    assert found.roles == {
        "user": "customer_id",
        "timestamp": "event_time",
        "event": "action",
        "item": "product_id",
        "value": "rating",
    }
    assert found.features == ("f_device",)
    with pytest.raises(DataValidationError, match="'who', which is not a column"):
        detect_columns(["a", "b"], {"user": "who"})


def test_preview_shows_rows_and_detected_roles() -> None:
    preview = preview_file(OTTO.read_bytes(), rows=5)
    assert preview.names == ["session", "aid", "ts_ms", "type"] and len(preview.rows) == 5
    assert preview.mapping.roles["timestamp"] == "ts_ms" and preview.mapping.roles["user"] == "session"
    assert preview.mapping.user_from == "session" and preview.notes == ()


# --- every bad input from the issue -------------------------------------------------------------------


def test_empty_file(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, b"", "'bad.csv' is empty")


def test_header_only(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, b"user,timestamp,event\n", "header but no rows")


def test_required_column_missing(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(
        store,
        workspace_id,
        b"user,when_it_was,thing\nu,soon,x\n",  # no name and no value says timestamp or event
        "no column for the required roles 'timestamp', 'event'",
    )


def test_invalid_utf8_late_in_file(store: Store, workspace_id: int, earlier: str) -> None:
    data = b"user,timestamp,event\n" + b"u,2026-01-01,click\n" * 5000 + b"\xff\xfe,2026-01-01,click\n"
    _refused(store, workspace_id, data, r"not valid UTF-8 text: line 5002")


def test_binary_file_named_csv(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, bytes(range(256)) * 10, "not a CSV text file")


def test_unterminated_quote(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(
        store, workspace_id, b'user,timestamp,event\nu,2026-01-01,"click\nv,2026-01-02,view\n', "unterminated quote"
    )


def test_ragged_rows(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, b"user,timestamp,event\nu,2026-01-01,click\nv,2026-01-02\n", "wrong number of fields")


def test_timestamps_that_are_not_dates(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(
        store,
        workspace_id,
        b"user,timestamp,event\nu,2026-01-01,click\nv,yesterday,click\nw,2026-02-30,x\n",
        r"2 × timestamp: not a date or time \(first: row 2: 'yesterday'\)",
    )


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity"])
def test_nan_or_infinite_numbers(store: Store, workspace_id: int, earlier: str, bad: str) -> None:
    _refused(
        store,
        workspace_id,
        f"user,timestamp,event,value\nu,2026-01-01,rating,{bad}\n".encode(),
        "value: NaN or infinite number",
    )


def test_file_over_the_size_limit(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, GOOD * 10, "over the limit", limits=Limits(max_bytes=100), error=LimitExceededError)


def test_row_count_over_the_limit(store: Store, workspace_id: int, earlier: str) -> None:
    data = b"user,timestamp,event\n" + b"u,2026-01-01,click\n" * 11
    _refused(
        store, workspace_id, data, "11 rows, over the limit of 10", limits=Limits(max_rows=10), error=LimitExceededError
    )


def test_single_field_over_the_limit(store: Store, workspace_id: int, earlier: str) -> None:
    data = b"user,timestamp,event\n" + b"u" * 300 + b",2026-01-01,click\n"
    _refused(
        store,
        workspace_id,
        data,
        "longer than 200 characters",
        limits=Limits(max_field_chars=200),
        error=LimitExceededError,
        skip_invalid=True,
    )


def test_gzip_bomb_is_not_inflated_past_the_limit(store: Store, workspace_id: int, earlier: str) -> None:
    bomb = gzip.compress(b"user,timestamp,event\n" + b"u,2026-01-01,click\n" * 200_000)  # 3.8 MB inflated
    assert len(bomb) < 100_000
    _refused(
        store,
        workspace_id,
        bomb,
        "inflates past the limit",
        limits=Limits(max_bytes=1_000_000),
        error=LimitExceededError,
    )


def test_corrupt_gzip(store: Store, workspace_id: int, earlier: str) -> None:
    _refused(store, workspace_id, gzip.compress(GOOD)[:-12] + b"garbage!garb", "not a valid gzip file")


# --- property: stored exactly, or refused with the project's error ------------------------------------

_ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=6)
_values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32), st.text(max_size=4))
_stamps = st.one_of(
    st.datetimes(
        min_value=pd.Timestamp("1990-01-01").to_pydatetime(), max_value=pd.Timestamp("2060-01-01").to_pydatetime()
    ).map(lambda d: d.isoformat()),
    st.text(max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_ids, _stamps, _ids, _values), min_size=1, max_size=8))
def test_arbitrary_tables_are_stored_exactly_or_refused(
    store: Store, workspace_id: int, rows: list[tuple[str, str, str, object]]
) -> None:
    text_rows = [tuple("" if cell is None else str(cell) for cell in row) for row in rows]
    frame = pd.DataFrame(text_rows, columns=["user", "timestamp", "event", "value"], dtype=object)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    name = f"p{abs(hash(buffer.getvalue()))}"
    try:
        report = ingest_file(store, workspace_id=workspace_id, source=buffer.getvalue(), dataset=name, actor="t")
    except DataValidationError:
        assert name not in {d.name for d in store.list_datasets(workspace_id=workspace_id)}
        return
    except ConflictError as error:  # hypothesis replayed a table stored earlier under this name
        assert "already imported" in str(error)
        report = None
    stored = store.read_events(workspace_id=workspace_id, name=name)
    assert len(frame) == len(stored) == (report.rows_stored if report else len(stored))
    assert sorted(stored["user"].astype(str)) == sorted(frame["user"])
    assert sorted(stored["event"].astype(str)) == sorted(frame["event"])
    numbers = sorted(float(v) for v in frame["value"] if v.strip())
    kept = sorted(v for v in stored["value"].dropna().tolist())
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(numbers, kept, strict=True))


def test_csv_feature_columns_become_numbers_or_text(store: Store, workspace_id: int) -> None:
    data = b"user,timestamp,event,f_hour,device\nu,2026-01-01,click,3,ios\nv,2026-01-02,skip,,android\n"
    report = ingest_file(
        store, workspace_id=workspace_id, source=data, dataset="f", actor="t", columns={"feature": "f_hour,device"}
    )
    assert report.column_map["features"] == ["f_hour", "device"]
    events = store.read_events(workspace_id=workspace_id, name="f")
    assert events["f_hour"].tolist()[0] == 3.0 and pd.isna(events["f_hour"].tolist()[1])
    assert events["f_device"].tolist() == ["ios", "android"]
