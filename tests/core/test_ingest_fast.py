"""The fast import path: a typed read guessed from the first rows, the events file staged before the
database is asked, and no pandas on the way. Each shortcut must give the same dataset as the careful
path, and fall back to it when a later row does not fit the guess."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.data.ingest import prepare_import
from flywheel_core.exceptions import ConflictError, DataValidationError
from flywheel_core.storage.files import STAGING
from flywheel_core.storage.store import Store

REPO = Path(__file__).resolve().parents[2]


def _rows(n: int, value: str = "2.5", stamp: str = "2026-01-0{d}T10:00:0{s}Z") -> list[str]:
    return [f"u{i:03d},{stamp.format(d=1 + i % 9, s=i % 10)},click,{value}" for i in range(n)]


def _csv(rows: list[str]) -> bytes:
    return ("user,timestamp,event,value\n" + "\n".join(rows) + "\n").encode()


def _stored(store: Store, workspace_id: int, data: bytes | Path, name: str, **kwargs: object) -> pd.DataFrame:
    ingest_file(store, workspace_id=workspace_id, source=data, dataset=name, actor="t", **kwargs)  # type: ignore[arg-type]
    events = store.read_events(workspace_id=workspace_id, name=name)
    for column in ("user", "item", "event"):  # categories come in file order: compare the values
        if column in events:
            events[column] = events[column].astype(str)
    return events.sort_values(["timestamp", "user"]).reset_index(drop=True)


def _staged(store: Store) -> list[Path]:
    folder = store.data_dir / STAGING
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_late_row_that_breaks_the_guess_gives_the_same_dataset_as_the_careful_path(
    store: Store, workspace_id: int
) -> None:
    # 300 rows of numbers and zoned times: the first 200 make the reader guess number / time columns.
    rows = _rows(300)
    rows[250] = "u250,2026-01-03 08:00:00,click,"  # a naive time and a missing value, far past the sample
    late = _stored(store, workspace_id, _csv(rows), "late")
    early = _stored(store, workspace_id, _csv([rows[250], *rows[:250], *rows[251:]]), "early")
    pd.testing.assert_frame_equal(late, early)
    odd = late[late["user"] == "u250"].iloc[0]
    assert odd["timestamp"] == pd.Timestamp("2026-01-03 08:00:00", tz="UTC") and pd.isna(odd["value"])


def test_a_late_bad_value_is_named_with_its_row(store: Store, workspace_id: int) -> None:
    rows = _rows(400)
    rows[333] = "u333,2026-01-02T10:00:00Z,click,lots"
    with pytest.raises(DataValidationError, match="not a number") as caught:
        ingest_file(store, workspace_id=workspace_id, source=_csv(rows), dataset="bad", actor="t")
    assert [(p.row, p.count) for p in caught.value.problems] == [(334, 1)]
    assert store.list_datasets(workspace_id=workspace_id) == [] and _staged(store) == []


def test_nan_in_a_typed_number_column_is_refused_with_its_row(store: Store, workspace_id: int) -> None:
    rows = _rows(50)
    rows[7] = "u007,2026-01-02T10:00:00Z,click,nan"
    with pytest.raises(DataValidationError, match="NaN or infinite") as caught:
        ingest_file(store, workspace_id=workspace_id, source=_csv(rows), dataset="bad", actor="t")
    assert caught.value.problems[0].row == 8


def test_unix_milliseconds_read_as_numbers_become_utc_times(store: Store, workspace_id: int) -> None:
    data = b"user,ts,event\na,1704067200000,click\nb,1704153600500,view\n"
    events = _stored(store, workspace_id, data, "unix")
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 00:00:00", tz="UTC"),
        pd.Timestamp("2024-01-02 00:00:00.500", tz="UTC"),
    ]


def test_ids_stay_text_on_the_fast_path(store: Store, workspace_id: int) -> None:
    data = b"user,timestamp,event,item\n007,2026-01-01T00:00:00Z,click,NA\n010,2026-01-01T00:00:01Z,click,0\n"
    events = _stored(store, workspace_id, data, "ids")
    assert events["user"].astype(str).tolist() == ["007", "010"]
    assert events["item"].astype(str).tolist() == ["NA", "0"]


def test_a_gzip_file_on_disk_imports_like_the_plain_one(store: Store, workspace_id: int, tmp_path: Path) -> None:
    data = _csv(_rows(30))
    plain, packed = tmp_path / "log.csv", tmp_path / "log.csv.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    from_plain = _stored(store, workspace_id, plain, "plain")
    from_packed = _stored(store, workspace_id, packed, "packed")
    pd.testing.assert_frame_equal(from_plain, from_packed)


def test_stored_file_is_moved_out_of_staging(store: Store, workspace_id: int) -> None:
    ingest_file(store, workspace_id=workspace_id, source=_csv(_rows(20)), dataset="one", actor="t")
    dataset = store.get_dataset(workspace_id=workspace_id, name="one")
    assert (store.data_dir / dataset.file_path).is_file() and _staged(store) == []


def test_a_duplicate_leaves_no_staged_file(store: Store, workspace_id: int) -> None:
    data = _csv(_rows(20))
    ingest_file(store, workspace_id=workspace_id, source=data, dataset="one", actor="t")
    with pytest.raises(ConflictError, match="already imported"):
        ingest_file(store, workspace_id=workspace_id, source=data, dataset="two", actor="t")
    assert _staged(store) == []


def test_a_prepared_import_that_is_not_stored_can_be_discarded(store: Store) -> None:
    prepared = prepare_import(_csv(_rows(20)), dataset="x", stage_in=store.data_dir)
    assert prepared.staged is not None and prepared.staged.is_file()
    prepared.discard()
    assert _staged(store) == []


def test_staged_files_left_by_a_killed_import_are_swept_after_the_grace_period(store: Store) -> None:
    old = prepare_import(_csv(_rows(20)), dataset="x", stage_in=store.data_dir).staged
    young = prepare_import(_csv(_rows(21)), dataset="y", stage_in=store.data_dir).staged
    assert old is not None and young is not None
    past = time.time() - 7200
    os.utime(old, (past, past))
    removed = store.sweep_orphan_files()
    assert removed == [f"{STAGING}/{old.name}"] and _staged(store) == [young]


def test_cli_import_into_a_missing_workspace_stores_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(_csv(_rows(20)))
    done = subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", "ingest", str(path), "--dataset", "d", "--workspace", "Nope"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Nope" in done.stderr
    staging = Path(cli_env["FLYWHEEL_DATA_DIR"]) / STAGING
    assert not staging.exists() or list(staging.iterdir()) == []


def test_importing_a_clean_csv_does_not_load_pandas(cli_env: dict[str, str], tmp_path: Path) -> None:
    """pyarrow imports pandas on its first conversion to NumPy or from a Python value; pandas takes
    longer to import than a million events take to parse, so the clean path stays in Arrow."""
    path = tmp_path / "log.csv"
    path.write_bytes(_csv(_rows(500)))
    script = (
        "import sys; from flywheel_core.cli import _register, cli; _register(); "
        f"cli.main(args=['ingest', {str(path)!r}, '--dataset', 'd'], standalone_mode=False); "
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.fixture
def cli_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "PYTHONPATH": str(REPO)}
