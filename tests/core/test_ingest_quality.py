"""Real logs in: a pandas export, a mapping that cannot hold, keys from several columns, users that are not
people, the data-quality report on the whole file, and encodings. Every refusal stores nothing."""

from __future__ import annotations

import io
import sys
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.data.columns import KEY_SEPARATOR, detect_columns
from flywheel_core.data.ingest import event_values, prepare_import, preview_file
from flywheel_core.data.quality import CODES, QualityWarning
from flywheel_core.data.signals import default_dictionary
from flywheel_core.exceptions import DataValidationError
from flywheel_core.storage.store import Store

USER_KEY = "age+country+device+plan"


def analyst_log(n: int = 800, first_click: int = 587, copies: int = 1) -> bytes:
    """A recommendation log as pandas exports it (``df.to_csv()``: the index first, its header cell empty):
    four user-feature columns and no user id, an item, a time, and a 0/1 ``click`` whose first 1 is at data
    row ``first_click``. With ``copies`` > 1 every row appears that many times (exact duplicates)."""
    rows = [
        {
            "age": ("18-24", "25-34", "35-44")[i % 3],
            "country": ("de", "fr", "it", "es")[i % 4],
            "device": ("ios", "web")[i % 2],
            "plan": ("free", "pro")[(i // 7) % 2],
            "item_id": f"i{i % 13}",
            "timestamp": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 7:02d}Z",
            "click": "1" if i >= first_click - 1 and (i - first_click + 1) % 3 == 0 else "0",
        }
        for i in range(n)
        for _ in range(copies)
    ]
    return pd.DataFrame(rows).to_csv().encode()


def _nothing_stored(store: Store, workspace_id: int) -> None:
    assert store.list_datasets(workspace_id=workspace_id) == []
    staging = store.data_dir / "staging"
    assert not staging.exists() or not any(staging.iterdir())


def _codes(warnings: tuple[QualityWarning, ...]) -> list[str]:
    return [w.code for w in warnings]


def _quality(data: bytes, **kwargs: Any) -> tuple[QualityWarning, ...]:
    prepared = prepare_import(data, dataset="q", **kwargs)
    assert prepared.refusal is None, prepared.refusal
    return prepared.report.quality


# --- forgiving, explicit mapping ------------------------------------------------------------------------


def test_a_pandas_export_imports_with_only_its_role_flags(store: Store, workspace_id: int) -> None:
    report = ingest_file(
        store,
        workspace_id=workspace_id,
        source=analyst_log(),
        dataset="log",
        actor="t",
        columns={"user": USER_KEY, "item": "item_id", "event": "click"},
    )
    assert report.stored and report.rows_stored == 800
    assert any("Header column 1 has no name" in w and "'column_1'" in w for w in report.warnings), report.warnings
    assert report.column_map["keys"] == {"user": ["age", "country", "device", "plan"]}
    events = store.read_events(workspace_id=workspace_id, name="log")
    assert events["user"].astype(str).nunique() == 24  # 3 ages x 4 countries x 2 devices (x plans, aligned)
    assert set(events["event"].astype(str)) == {"0", "1"}
    assert report.signals["events"]["1"]["polarity"] == "positive"
    assert report.signals["events"]["0"]["polarity"] == "negative"


def test_a_pandas_export_without_a_user_says_how_to_build_one(store: Store, workspace_id: int) -> None:
    with pytest.raises(DataValidationError, match=r"required role 'user'.*--column user=a\+b.*--anonymous-user"):
        ingest_file(store, workspace_id=workspace_id, source=analyst_log(), dataset="log", actor="t")
    _nothing_stored(store, workspace_id)


def test_detection_skips_the_row_index_and_takes_a_01_click_as_the_event() -> None:
    preview = preview_file(analyst_log())
    assert preview.names[0] == "column_1" and preview.notes
    assert "column_1" not in preview.mapping.roles.values()
    assert preview.mapping.roles["event"] == "click" and preview.mapping.roles["timestamp"] == "timestamp"
    assert "user" not in preview.mapping.roles  # no user column: the user chooses, nothing is guessed


def test_the_row_index_is_never_a_role_even_when_renamed() -> None:
    frame = pd.read_csv(io.BytesIO(analyst_log()), dtype=str).rename(columns={"Unnamed: 0": "user"})
    sample = pa.Table.from_pandas(frame.head(1000), preserve_index=False)
    mapping = detect_columns(list(frame.columns), sample=sample)
    assert "user" not in mapping.roles and mapping.roles["event"] == "click"


def test_an_event_column_unique_per_row_is_not_the_event() -> None:
    n = 50
    sample = pa.table(
        {
            "user": [f"u{i % 5}" for i in range(n)],
            "timestamp": ["2026-01-01T00:00:00Z"] * n,
            "type": [f"evt-{i}" for i in range(n)],
            "clicked": ["0", "1"] * (n // 2),
        }
    )
    assert detect_columns(sample.column_names, sample=sample).roles["event"] == "clicked"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"user": "item_id", "event": "item_id"}, "Column 'item_id' is mapped to two roles, 'user' and 'event'"),
        (
            {"user": "age+country", "item": "country", "event": "click"},
            "Column 'country' is mapped to two roles, 'user' and 'item'",
        ),
    ],
)
def test_a_column_cannot_hold_two_roles(store: Store, workspace_id: int, columns: dict[str, str], message: str) -> None:
    with pytest.raises(DataValidationError, match=message) as caught:
        ingest_file(store, workspace_id=workspace_id, source=analyst_log(), dataset="log", actor="t", columns=columns)
    assert caught.value.problems[0].column == message.split("'")[1]
    _nothing_stored(store, workspace_id)


def test_event_values_lists_every_value_of_the_whole_file() -> None:
    data = analyst_log(n=800, first_click=587)
    head = preview_file(data, rows=200)
    assert {r["click"] for r in head.rows} == {"0"}  # the first rows know only 0
    found = event_values(data, column="click")
    assert set(found.values) == {"0", "1"} and sum(found.counts) == 800 and not found.truncated
    assert dict(zip(found.values, found.counts, strict=True))["1"] == 72


def test_event_values_names_a_missing_column() -> None:
    with pytest.raises(DataValidationError, match="no column 'kind'"):
        event_values(analyst_log(n=30), column="kind")


def test_a_rating_as_the_event_reads_high_as_positive_and_low_as_negative() -> None:
    events = default_dictionary(["1", "2", "3", "4", "5"]).events
    assert [events[s].polarity for s in "12345"] == ["negative", "negative", "neutral", "positive", "positive"]
    assert default_dictionary(["0", "1"]).events["1"].polarity == "positive"  # a 0/1 click stays a click


# --- keys from several columns; logs with no user ---------------------------------------------------------


def test_a_key_from_several_columns_is_the_parts_joined_by_the_unit_separator(store: Store, workspace_id: int) -> None:
    data = b"a,b,timestamp,event\nx,1,2026-01-01T00:00:00Z,click\nx,2,2026-01-01T00:00:01Z,skip\nx,1,2026-01-02,skip\n"
    ingest_file(store, workspace_id=workspace_id, source=data, dataset="k", actor="t", columns={"user": "a+b"})
    users = store.read_events(workspace_id=workspace_id, name="k")["user"].astype(str).tolist()
    assert users == [f"x{KEY_SEPARATOR}1", f"x{KEY_SEPARATOR}2", f"x{KEY_SEPARATOR}1"]


def test_a_key_part_holding_the_separator_is_refused(store: Store, workspace_id: int) -> None:
    data = b"a,b,timestamp,event\nx\x1fy,1,2026-01-01,click\nx,y\x1f1,2026-01-02,click\n"
    with pytest.raises(DataValidationError, match="holds the unit separator"):
        ingest_file(store, workspace_id=workspace_id, source=data, dataset="k", actor="t", columns={"user": "a+b"})
    _nothing_stored(store, workspace_id)


def test_users_from_sessions_are_declared_and_reported(store: Store, workspace_id: int) -> None:
    data = b"visit,timestamp,event\nv1,2026-01-01,click\nv1,2026-01-02,skip\nv2,2026-01-03,click\n"
    report = ingest_file(
        store,
        workspace_id=workspace_id,
        source=data,
        dataset="s",
        actor="t",
        columns={"session": "visit"},
        user_from="session",
    )
    assert report.column_map["user_from"] == "session" and report.column_map["roles"]["user"] == "visit"
    assert "user_from_session" in _codes(report.quality)
    assert store.read_events(workspace_id=workspace_id, name="s")["user"].astype(str).tolist() == ["v1", "v1", "v2"]


def test_one_anonymous_user_for_a_log_without_users(store: Store, workspace_id: int) -> None:
    data = b"item,timestamp,event\na,2026-01-01,click\nb,2026-01-02,skip\n"
    report = ingest_file(store, workspace_id=workspace_id, source=data, dataset="a", actor="t", user_from="anonymous")
    warning = next(w for w in report.quality if w.code == "anonymous_user")
    assert "per-user analytics" in warning.message and "not meaningful" in warning.message
    assert set(store.read_events(workspace_id=workspace_id, name="a")["user"].astype(str)) == {"anonymous"}


def test_a_mapped_user_and_an_anonymous_user_conflict(store: Store, workspace_id: int) -> None:
    with pytest.raises(DataValidationError, match="also asked to come from anonymous"):
        ingest_file(
            store,
            workspace_id=workspace_id,
            source=b"user,timestamp,event\nu,2026-01-01,click\n",
            dataset="x",
            actor="t",
            columns={"user": "user"},
            user_from="anonymous",
        )
    _nothing_stored(store, workspace_id)


# --- the data-quality report --------------------------------------------------------------------------


def _log(rows: list[tuple[str, str, str, str]], header: str = "user,item,timestamp,event") -> bytes:
    return (header + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


def _varied(n: int = 200) -> list[tuple[str, str, str, str]]:
    return [
        (f"u{i % 20}", f"i{(i * 7) % 31}", f"2026-0{1 + i % 3}-{1 + i % 27:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}Z",
         ("click", "skip")[i % 2 if i % 5 else 0])
        for i in range(n)
    ]  # fmt: skip


def test_a_varied_log_has_no_quality_warnings() -> None:
    assert _quality(_log(_varied())) == ()


def test_95_percent_exact_duplicates_are_reported_and_can_be_dropped(store: Store, workspace_id: int) -> None:
    rows = _varied(10) * 20  # 200 rows, 190 of them repeats
    report = ingest_file(store, workspace_id=workspace_id, source=_log(rows), dataset="d", actor="t")
    warning = next(w for w in report.quality if w.code == "duplicate_rows")
    assert warning.count == 190 and "(95%)" in warning.message and "--drop-duplicates" in warning.message
    assert warning.examples and "user 'u0'" in warning.examples[0]
    stored = store.get_dataset(workspace_id=workspace_id, name="d").report
    assert {"code": "duplicate_rows", "count": 190}.items() <= stored["quality"][0].items()
    dropped = ingest_file(
        store,
        workspace_id=workspace_id,
        source=_log(rows) + b"\n",  # other bytes: not the same import
        dataset="dropped",
        actor="t",
        drop_duplicates=True,
    )
    assert (dropped.rows_read, dropped.rows_stored, dropped.duplicates_dropped) == (200, 10, 190)
    assert "were dropped" in next(w for w in dropped.quality if w.code == "duplicate_rows").message
    assert len(store.read_events(workspace_id=workspace_id, name="dropped")) == 10


def test_duplicates_among_rows_that_share_a_timestamp_but_differ_are_not_counted() -> None:
    rows = [(f"u{i}", "a", "2026-01-01T00:00:00Z", ("click", "skip")[i % 2]) for i in range(30)]
    assert "duplicate_rows" not in _codes(_quality(_log(rows)))


def test_one_item_catalog() -> None:
    rows = [(u, "only", t, e) for u, _, t, e in _varied()]
    quality = _quality(_log(rows))
    assert "one_item" in _codes(quality) and "constant_column" not in _codes(quality)
    assert "nothing to rank or recommend" in next(w.message for w in quality if w.code == "one_item")


def test_one_event_per_user_points_at_a_row_id_mapped_as_user() -> None:
    rows = [(f"row{i}", i2, t, e) for i, (_, i2, t, e) in enumerate(_varied(50))]
    warning = next(w for w in _quality(_log(rows)) if w.code == "one_event_per_user")
    assert warning.count == 50 and "row or event id" in warning.message


def test_a_single_polarity_says_no_feedback_model_can_be_trained() -> None:
    rows = [(u, i, t, "click") for u, i, t, _ in _varied()]
    warning = next(w for w in _quality(_log(rows)) if w.code == "single_polarity")
    assert "a feedback model cannot be trained" in warning.message and "recommend task" in warning.message
    assert warning.count == 200


def test_a_stream_with_a_short_play_rule_has_both_polarities() -> None:
    rows = [(u, i, t, "stream", str(10 + 40 * (k % 2))) for k, (u, i, t, _) in enumerate(_varied())]
    data = ("user,item,timestamp,event,value\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    assert "single_polarity" not in _codes(_quality(data))


def test_constant_columns_are_named() -> None:
    rows = [(*r, "ios") for r in _varied()]
    data = ("user,item,timestamp,event,f_device\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    warning = next(w for w in _quality(data) if w.code == "constant_column")
    assert warning.examples == ("f_device = 'ios'",)


def test_date_only_timestamps() -> None:
    rows = [(u, i, t[:10], e) for u, i, t, e in _varied()]
    assert "date_only_timestamps" in _codes(_quality(_log(rows)))


def test_future_and_pre_1990_timestamps() -> None:
    rows = _varied()
    rows[3] = (rows[3][0], rows[3][1], "2099-01-01T00:00:00Z", rows[3][3])
    rows[4] = (rows[4][0], rows[4][1], "1970-01-01T00:00:00Z", rows[4][3])
    quality = {w.code: w for w in _quality(_log(rows))}
    assert quality["future_timestamps"].count == 1 and quality["future_timestamps"].examples == (
        "2099-01-01T00:00:00Z",
    )
    assert quality["early_timestamps"].count == 1 and "1970-01-01" in quality["early_timestamps"].examples[0]


def test_one_user_or_item_holding_a_large_share_is_skew() -> None:
    rows = _varied()
    rows = [("bot", "i0", t, e) if k % 2 else (u, i, t, e) for k, (u, i, t, e) in enumerate(rows)]
    quality = {w.code: w for w in _quality(_log(rows))}
    assert quality["user_skew"].examples == ("bot",) and "50%" in quality["user_skew"].message
    assert quality["item_skew"].examples == ("i0",)


def test_every_code_is_listed_and_warnings_round_trip() -> None:
    warning = QualityWarning("one_item", "m", 1, ("x",))
    assert QualityWarning.from_json(warning.to_json()) == warning
    assert len(set(CODES)) == len(CODES) == 12


# --- encodings ----------------------------------------------------------------------------------------


def test_invalid_utf8_in_a_ragged_row_names_line_and_byte_and_prints_nothing(
    store: Store, workspace_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    rows = [b"u%d,2026-01-01T00:00:00Z,click,i%d,1" % (i, i) for i in range(50)]
    rows[30] = b"u\xff\xfe,2026-01-01T00:00:00Z,cl\xe9,ick,i3,1,x"  # Latin-1 bytes and a stray comma
    data = b"user,timestamp,event,item,value\n" + b"\n".join(rows) + b"\n"
    offset = data.index(b"\xff")
    where = rf"line 32 \(byte {offset:,}\)"
    with pytest.raises(DataValidationError, match=rf"not valid UTF-8 text: {where}") as caught:
        ingest_file(store, workspace_id=workspace_id, source=data, dataset="bad", actor="t", source_name="bad.csv")
    assert "0xFF" in str(caught.value) and "Expected" not in str(caught.value)
    assert reported == []  # no "Exception ignored in ..." from pyarrow's row callback
    assert sys.unraisablehook == reported.append  # the filter is removed after the parse
    _nothing_stored(store, workspace_id)


def test_a_utf8_bom_is_accepted(store: Store, workspace_id: int) -> None:
    data = b"\xef\xbb\xbfuser,timestamp,event\nu,2026-01-01,click\nv,2026-01-02,skip\n"
    report = ingest_file(store, workspace_id=workspace_id, source=data, dataset="bom", actor="t")
    assert report.column_map["roles"]["user"] == "user" and report.rows_stored == 2


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_gets_a_hint(store: Store, workspace_id: int, codec: str) -> None:
    data = "user,timestamp,event\nu,2026-01-01,click\n".encode(codec)
    with pytest.raises(DataValidationError, match="looks like UTF-16 text, not UTF-8: save it as UTF-8"):
        ingest_file(store, workspace_id=workspace_id, source=data, dataset="u16", actor="t")
    _nothing_stored(store, workspace_id)
