"""Aggregates at import: the profile and every Explore figure read from the small tables kept beside the
events give the same numbers as the pandas functions over the events (counts exactly, ratios to 1e-9), on the
demo logs and on a real log, for the whole range, a range of whole days and any other range; kept up to date
on append and on a change of the value rules; made on first read for a dataset stored before them; swept and
deleted with the dataset."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data import api as data_api
from flywheel_core.data.api import ExploreResult
from flywheel_core.data.signals import SignalRule
from flywheel_core.demo import make_demo_events
from flywheel_core.storage.store import Store

OTTO = Path(__file__).resolve().parents[1] / "data" / "otto" / "events.csv"


def _store_demo(store: Store, workspace_id: int, archetype: str, n: int = 20_000, name: str | None = None) -> str:
    frame = make_demo_events(archetype, n)
    frame = frame[[c for c in ("user", "item", "timestamp", "event", "value", "session") if c in frame.columns]]
    data_api.store_frame(store, workspace_id=workspace_id, frame=frame, dataset=name or archetype, actor="t")
    return name or archetype


def _pandas(store: Store, workspace_id: int, name: str, start: datetime | None, end: datetime | None):
    events = data_api.read_analysis_events(store, workspace_id=workspace_id, name=name, actor="t")
    signals = data_api.get_dataset(store, workspace_id=workspace_id, name=name, actor="t").signals
    return data_api.explore_events(events, signals, start=start, end=end)


def _by_user(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(user=frame["user"].astype(str))
    return frame.sort_values(["events", "user"], ascending=[False, True]).reset_index(drop=True)


def _same_frames(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        fast.reset_index(drop=True), slow.reset_index(drop=True), check_dtype=False, rtol=1e-9, atol=0
    )


def _assert_same(fast: ExploreResult | None, slow: ExploreResult | None) -> None:
    assert (fast is None) == (slow is None)
    if fast is None or slow is None:
        return
    a, b = fast.profile, slow.profile
    for field in ("events", "users", "items", "first_event", "last_event", "days", "bot_like_users", "heavy_users"):
        assert getattr(a, field) == getattr(b, field), field
    assert a.event_counts == b.event_counts
    for field in ("explicit_share", "implicit_share", "feedback_coverage", "positive_share", "dau_mau"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-12), field
    assert a.events_per_user_median == b.events_per_user_median
    assert fast.freq == slow.freq
    _same_frames(fast.over_time, slow.over_time)
    _same_frames(fast.activity.daily, slow.activity.daily)
    assert fast.activity.dau_mau == pytest.approx(slow.activity.dau_mau, rel=1e-9)
    _same_frames(fast.retention, slow.retention)
    _same_frames(fast.new_returning, slow.new_returning)
    _same_frames(_by_user(fast.outliers), _by_user(slow.outliers))
    assert (fast.long_tail is None) == (slow.long_tail is None) and fast.long_tail_note == slow.long_tail_note
    if fast.long_tail is not None and slow.long_tail is not None:
        _same_frames(fast.long_tail.curve, slow.long_tail.curve)
        assert fast.long_tail.items == slow.long_tail.items
        assert fast.long_tail.head_share == pytest.approx(slow.long_tail.head_share, rel=1e-9)
        assert fast.long_tail.catalog_coverage == pytest.approx(slow.long_tail.catalog_coverage, rel=1e-9)
        top_fast, top_slow = fast.long_tail.top_items, slow.long_tail.top_items
        assert top_fast["events"].tolist() == top_slow["events"].tolist()
        untied = top_slow["events"] > top_slow["events"].min()  # the last count may be tied with items left out
        assert set(top_fast["item"][untied].astype(str)) == set(top_slow["item"][untied].astype(str))
    assert (fast.ratings is None) == (slow.ratings is None) and fast.ratings_note == slow.ratings_note
    if fast.ratings is not None and slow.ratings is not None:
        _same_frames(fast.ratings.distribution, slow.ratings.distribution)
        assert fast.ratings.ratings == slow.ratings.ratings
        assert fast.ratings.bias == pytest.approx(slow.ratings.bias, rel=1e-9)


RANGES = [
    (None, None),
    (datetime(2026, 2, 2), datetime(2026, 3, 16)),  # whole days: the daily tables
    (datetime(2026, 2, 2, 13, 30, tzinfo=UTC), datetime(2026, 3, 1, 6)),  # not: one scan of the events
    (datetime(2031, 1, 1), None),  # no event in range
]


@pytest.mark.parametrize("archetype", ["music", "support", "fleet", "backward"])
def test_explore_from_aggregates_matches_pandas_on_the_demo(store: Store, workspace_id: int, archetype: str) -> None:
    name = _store_demo(store, workspace_id, archetype)
    row = store.get_dataset(workspace_id=workspace_id, name=name)
    assert (store.data_dir / row.file_path.replace(".parquet", ".agg") / "daily.pq").exists()  # at import
    for start, end in RANGES:
        fast = data_api.explore_dataset(store, workspace_id=workspace_id, name=name, actor="t", start=start, end=end)
        _assert_same(fast, _pandas(store, workspace_id, name, start, end))


def test_explore_and_profile_from_aggregates_match_pandas_on_a_real_log(store: Store, workspace_id: int) -> None:
    data_api.ingest_file(
        store,
        workspace_id=workspace_id,
        source=OTTO,
        dataset="otto",
        actor="t",
        columns={"user": "session", "item": "aid", "timestamp": "ts_ms", "event": "type"},
    )
    events = data_api.read_analysis_events(store, workspace_id=workspace_id, name="otto", actor="t")
    days = events["timestamp"].dt.floor("D")
    middle = days.iloc[len(days) // 2].to_pydatetime()
    for start, end in [(None, None), (None, middle), (middle, None), (days.min() + pd.Timedelta(hours=7), None)]:
        fast = data_api.explore_dataset(store, workspace_id=workspace_id, name="otto", actor="t", start=start, end=end)
        _assert_same(fast, _pandas(store, workspace_id, "otto", start, end))
    from flywheel_core.data.analytics import profile_events

    profile = data_api.profile(store, workspace_id=workspace_id, name="otto", actor="t")
    expected = profile_events(
        events, data_api.get_dataset(store, workspace_id=workspace_id, name="otto", actor="t").signals
    )
    assert profile.to_json() == expected.to_json()


def test_an_append_updates_the_aggregates(store: Store, workspace_id: int, tmp_path: Path) -> None:
    frame = make_demo_events("music", 20_000)[["user", "item", "timestamp", "event", "value"]]
    cut = len(frame) * 2 // 3
    first, second = frame.iloc[:cut], frame.iloc[cut - 500 :]  # the second batch repeats some late events' days
    data_api.store_frame(store, workspace_id=workspace_id, frame=first, dataset="music", actor="t")
    second.to_csv(tmp_path / "week.csv", index=False)
    data_api.append_file(store, workspace_id=workspace_id, source=tmp_path / "week.csv", dataset="music", actor="t")
    row = store.get_dataset(workspace_id=workspace_id, name="music")
    folders = store.aggregate_folders(row)
    assert folders is not None and len(folders) == 2 and all((a / "meta.json").exists() for _, a in folders)
    for start, end in RANGES[:3]:
        fast = data_api.explore_dataset(store, workspace_id=workspace_id, name="music", actor="t", start=start, end=end)
        _assert_same(fast, _pandas(store, workspace_id, "music", start, end))
    profile = data_api.profile(store, workspace_id=workspace_id, name="music", actor="t")
    assert profile.events == len(first) + len(second)


def test_a_change_of_the_value_rules_is_read_right(store: Store, workspace_id: int) -> None:
    _store_demo(store, workspace_id, "music")
    before = data_api.profile(store, workspace_id=workspace_id, name="music", actor="t")
    data_api.remap_dataset(
        store,
        workspace_id=workspace_id,
        name="music",
        actor="t",
        rules=[SignalRule("stream", "<", 30.0, "negative"), SignalRule("stream", ">=", 200.0, "neutral")],
    )
    after = data_api.profile(store, workspace_id=workspace_id, name="music", actor="t")
    assert after.positive_share < before.positive_share  # short streams now count against
    for start, end in RANGES[:3]:
        fast = data_api.explore_dataset(store, workspace_id=workspace_id, name="music", actor="t", start=start, end=end)
        _assert_same(fast, _pandas(store, workspace_id, "music", start, end))


def test_a_dataset_stored_before_aggregates_gets_them_on_first_read(store: Store, workspace_id: int) -> None:
    import shutil

    _store_demo(store, workspace_id, "support")
    row = store.get_dataset(workspace_id=workspace_id, name="support")
    folders = store.aggregate_folders(row)
    assert folders is not None
    for _, folder in folders:
        shutil.rmtree(folder)
    fast = data_api.explore_dataset(store, workspace_id=workspace_id, name="support", actor="t")
    assert all((folder / "behaviour.pq").exists() for _, folder in folders[-1:])
    _assert_same(fast, _pandas(store, workspace_id, "support", None, None))


def test_aggregates_live_and_go_with_their_dataset(store: Store, workspace_id: int) -> None:
    _store_demo(store, workspace_id, "fleet", n=5_000)
    row = store.get_dataset(workspace_id=workspace_id, name="fleet")
    folders = store.aggregate_folders(row)
    assert folders is not None
    folder = folders[0][1]
    assert {p.name for p in folder.iterdir()} >= {"daily.pq", "user_days.pq", "meta.json"}  # at import
    data_api.explore_dataset(store, workspace_id=workspace_id, name="fleet", actor="t")  # the dataset-wide ones
    kept = sorted(p.name for p in folder.iterdir())
    assert {"daily.pq", "user_days.pq", "behaviour.pq", "meta.json"} <= set(kept)
    store.sweep_orphan_files(min_age_seconds=0)
    assert sorted(p.name for p in folder.iterdir()) == kept  # the sweep keeps a referenced batch's summaries
    data_api.delete_dataset(store, workspace_id=workspace_id, name="fleet", actor="t")
    assert not folder.exists()


def test_a_range_of_whole_days_reads_only_its_days(store: Store, workspace_id: int) -> None:
    import pyarrow.parquet as pq

    _store_demo(store, workspace_id, "music", n=200_000)
    row = store.get_dataset(workspace_id=workspace_id, name="music")
    folders = store.aggregate_folders(row)
    assert folders is not None
    user_days = folders[0][1] / "user_days.pq"
    assert pq.ParquetFile(user_days).metadata.num_row_groups > 1
    day = int(pd.Timestamp("2026-03-02", tz="UTC").value // 86_400_000_000_000)
    part = pq.read_table(user_days, filters=[("day", ">=", day), ("day", "<", day + 7)])
    assert set(np.unique(part.column("day").to_numpy())) == set(range(day, day + 7))


def test_behaviour_in_buckets_of_users_is_the_behaviour_of_all(
    store: Store, workspace_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flywheel_core.data import aggregates

    monkeypatch.setattr(aggregates, "BUCKET_ROWS", 3_000)  # 20k events: seven buckets of users
    name = _store_demo(store, workspace_id, "music")
    results = []
    for start, end in RANGES[:3]:
        fast = data_api.explore_dataset(store, workspace_id=workspace_id, name=name, actor="t", start=start, end=end)
        _assert_same(fast, _pandas(store, workspace_id, name, start, end))
        results.append(fast)
    whole = results[0]
    assert whole is not None and whole.profile.heavy_users > 0 and whole.profile.bot_like_users > 0


def test_summaries_over_their_memory_limit_say_so_instead_of_a_traceback(
    store: Store, workspace_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flywheel_core.data import aggregates
    from flywheel_core.exceptions import LimitExceededError

    name = _store_demo(store, workspace_id, "music")
    for folder in store.aggregate_folders(store.get_dataset(workspace_id=workspace_id, name=name, actor="t")) or []:
        shutil.rmtree(folder[1], ignore_errors=True)  # made again on the next read, under the limit below
    monkeypatch.setattr(aggregates, "MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(aggregates, "BATCH_MEMORY_LIMIT", "1MB")
    with pytest.raises(
        LimitExceededError, match=r"needed more than their memory limit \(1MB\).*FLYWHEEL_DASK_SCHEDULER"
    ):
        data_api.profile(store, workspace_id=workspace_id, name=name, actor="t")
