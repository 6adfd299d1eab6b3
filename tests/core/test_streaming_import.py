"""A large CSV file read, checked and staged in batches gives the same dataset and report as the whole-file read.

``stream_from_bytes=0`` and small ``block_bytes`` make small files take the batch path (large files take it by
default); each test compares it with the whole read of the same file, and checks that the batch path ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from flywheel_core.config import load_settings
from flywheel_core.data.api import store_import
from flywheel_core.data.ingest import Limits, PreparedImport, prepare_import
from flywheel_core.exceptions import DataValidationError, LimitExceededError
from flywheel_core.storage.store import Store

HEAD = "user,item,timestamp,event,value,session,f_device\n"


def _rows(n: int, start: int = 0) -> list[str]:
    """Sorted events, several per second (ties on the timestamp), some users and items repeating."""
    return [
        f"u{i % 37},i{i % 11},2026-01-0{1 + i // 4000}T00:{(i // 60) % 60:02d}:{i % 60:02d}Z,"
        f"{('click', 'skip', 'like')[i % 3]},{i % 5},s{i // 7},{i % 2}\n"
        for i in range(start, start + n)
    ]


def _write(path: Path, rows: list[str], head: str = HEAD) -> Path:
    path.write_text(head + "".join(rows))
    return path


def _prepare(path: Path, stage: Path, *, stream: bool, **options: Any) -> PreparedImport:
    return prepare_import(
        path,
        dataset="d",
        stage_in=stage,
        stream_from_bytes=0 if stream else 1 << 40,
        block_bytes=4096,
        **options,
    )


def _same(path: Path, tmp_path: Path, **options: Any) -> PreparedImport:
    """Both reads of ``path``; asserts the batch path ran and matches the whole read; returns it."""
    whole = _prepare(path, tmp_path / "whole", stream=False, **options)
    batches = _prepare(path, tmp_path / "batches", stream=True, **options)
    assert whole.streamed is None and batches.streamed is not None and batches.table is None
    left, right = whole.report.to_json(), batches.report.to_json()
    left.pop("seconds"), right.pop("seconds")
    assert right == left
    assert whole.staged is not None and batches.staged is not None
    read_whole, read_batches = pq.read_table(whole.staged), pq.read_table(batches.staged)
    assert read_batches.schema == read_whole.schema
    assert read_batches.to_pylist() == read_whole.to_pylist()
    assert len(pq.ParquetFile(batches.staged).metadata.row_group(0).column(0).path_in_schema) > 0
    return batches


def test_a_sorted_log_in_batches_matches_the_whole_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _rows(3000))
    batches = _same(path, tmp_path)
    assert batches.report.rows_read == 3000
    assert pq.ParquetFile(batches.staged).metadata.num_row_groups > 5  # written batch by batch


def test_duplicates_across_batch_edges_are_found_and_dropped(tmp_path: Path) -> None:
    rows = _rows(3000)
    # every 50th row repeated right after itself: many pairs straddle a 4 KB block edge
    doubled = [r for i, row in enumerate(rows) for r in ([row, row] if i % 50 == 0 else [row])]
    path = _write(tmp_path / "dupes.csv", doubled)
    found = _same(path, tmp_path)
    codes = {w.code: w for w in found.report.quality}
    assert codes["duplicate_rows"].count == 60
    dropped = _same(path, tmp_path / "drop", drop_duplicates=True)
    assert dropped.report.duplicates_dropped == 60 and dropped.streamed is not None
    assert dropped.streamed.rows == 3000


def test_constant_columns_and_quality_match(tmp_path: Path) -> None:
    rows = [row.rsplit(",", 1)[0] + ",7\n" for row in _rows(2000)]  # f_device holds one value
    path = _write(tmp_path / "constant.csv", rows)
    found = _same(path, tmp_path)
    assert any(w.code == "constant_column" and "7" in w.message for w in found.report.quality)


def test_the_row_limit_is_checked_as_the_rows_stream(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _rows(3000))
    with pytest.raises(LimitExceededError, match=r"more than 500 rows .* counted as it was read"):
        _prepare(path, tmp_path / "s", stream=True, limits=Limits(max_rows=500))
    assert not list((tmp_path / "s").rglob("*.parquet"))  # nothing staged is left


@pytest.mark.parametrize(
    "case",
    ["bad value late", "out of order", "quoted line break", "ragged row", "feature turns to text"],
)
def test_files_the_batches_cannot_take_are_read_whole(tmp_path: Path, case: str) -> None:
    rows = _rows(3000)
    if case == "bad value late":
        rows[2500] = rows[2500].replace("2026-01-01T", "not a time ", 1)
    elif case == "out of order":
        rows[2000], rows[100] = rows[100], rows[2000]
    elif case == "quoted line break":
        rows[2000] = rows[2000].replace(",s", ',"s\nx', 1).replace(",0\n", '",0\n').replace(",1\n", '",1\n')
    elif case == "ragged row":
        rows[2000] = "u1,i1\n"
    else:
        rows[2900] = rows[2900].rsplit(",", 1)[0] + ",tablet\n"
    path = _write(tmp_path / "log.csv", rows)
    options: dict[str, Any] = {"skip_invalid": True}
    whole = _prepare(path, tmp_path / "whole", stream=False, **options)
    batches = _prepare(path, tmp_path / "batches", stream=True, **options)
    assert batches.streamed is None  # fell back to the whole read: the same report
    left, right = whole.report.to_json(), batches.report.to_json()
    left.pop("seconds"), right.pop("seconds")
    assert right == left
    assert list((tmp_path / "batches").rglob("*.parquet")) == [batches.staged]  # the attempt left nothing


def test_a_bad_value_late_in_a_large_file_is_named_as_before(tmp_path: Path) -> None:
    rows = _rows(3000)
    rows[2500] = rows[2500].replace("2026-01-01T", "yesterday ", 1)
    path = _write(tmp_path / "log.csv", rows)
    prepared = _prepare(path, tmp_path / "s", stream=True)
    assert isinstance(prepared.refusal, DataValidationError)
    assert "timestamp: not a date or time" in str(prepared.refusal) and "row 2501" in str(prepared.refusal)


def test_a_streamed_import_is_stored_and_counted(tmp_path: Path) -> None:
    store = Store(load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path / "data")}))
    workspace = store.ensure_workspace(name="w", actor="t")
    assert workspace.id is not None
    path = _write(tmp_path / "log.csv", _rows(3000))
    prepared = _prepare(path, store.data_dir, stream=True)
    report = store_import(store, workspace_id=workspace.id, prepared=prepared, actor="t")
    assert report.stored and report.rows_stored == 3000
    row = store.get_dataset(workspace_id=workspace.id, name="d", actor="t")
    assert (row.rows, row.users, row.items) == (3000, 37, 11)
    events = store.read_events(workspace_id=workspace.id, name="d", actor="t")
    assert len(events) == 3000 and events["timestamp"].is_monotonic_increasing


def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FLYWHEEL_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        timeout=300,
    )


def test_the_cli_has_its_own_file_limit_apart_from_the_upload_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _rows(30_000))  # about 1.6 MB
    assert path.stat().st_size > 1024 * 1024
    over_upload = _cli(tmp_path, {"FLYWHEEL_MAX_UPLOAD_MB": "1"}, "ingest", str(path), "--dataset", "a")
    assert over_upload.returncode == 0, over_upload.stderr  # a file by path is not held to the upload limit
    over_file = _cli(tmp_path, {"FLYWHEEL_MAX_FILE_MB": "1"}, "ingest", str(path), "--dataset", "b")
    assert over_file.returncode == 2 and "raise FLYWHEEL_MAX_FILE_MB" in over_file.stderr
    assert load_settings({}).max_file_mb == 20480 and load_settings({"FLYWHEEL_MAX_FILE_MB": "5"}).max_file_mb == 5
    assert Limits.from_settings(load_settings({"FLYWHEEL_MAX_UPLOAD_MB": "1"})).max_bytes == 1024 * 1024


def test_the_batches_keep_facts_about_the_rows_not_the_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _rows(3000))
    prepared = _prepare(path, tmp_path / "s", stream=True)
    assert prepared.streamed is not None
    facts = prepared.streamed.facts
    users, items = facts.tally("user"), facts.tally("item")
    assert users is not None and items is not None
    assert (users.distinct, int(users.counts.sum()), items.distinct) == (37, 3000, 11)
    assert sorted(prepared.streamed.distinct()["user"].to_pylist()) == sorted(f"u{i}" for i in range(37))
    assert facts.time is not None and facts.time.rows == 3000  # bounds and counts, no column of 3,000 times


def test_value_rules_and_timestamp_warnings_match_the_whole_read(tmp_path: Path) -> None:
    # Only ratings of 4 and 5 (the default rules read them as positive: a single polarity, counted on the
    # staged file), every time at midnight, and the last rows in the future.
    rows = [
        f"u{i % 37},i{i % 11},2026-01-{1 + i // 200:02d},rating,{4 + i % 2},s{i // 7},{i % 2}\n" for i in range(2900)
    ]
    rows += [f"u{i % 37},i{i % 11},2099-01-01,rating,5,s{i},1\n" for i in range(100)]
    path = _write(tmp_path / "ratings.csv", rows)
    found = {w.code: w for w in _same(path, tmp_path).report.quality}
    assert {"single_polarity", "date_only_timestamps", "future_timestamps"} <= set(found)
    assert "positive: 3,000 events" in found["single_polarity"].examples
    assert found["future_timestamps"].count == 100 and found["date_only_timestamps"].count == 3000
