"""A data folder in object storage: FLYWHEEL_DATA_DIR=s3://bucket/prefix against a local S3-compatible server.

The server is moto's, started by the test in this process (a real HTTP S3 API on 127.0.0.1); the product
talks to it through pyarrow's S3 file system with the usual AWS variables, from separate `flywheel` processes
(and, for Explore and an append, from this one). Events, their aggregates and the model files live in the
bucket; the figures read from there equal those of a local data folder holding the same files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs
import pytest
from moto import server as moto_server

from flywheel_core.config import load_settings
from flywheel_core.data import api as data_api
from flywheel_core.data.signals import SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import ConfigurationError
from flywheel_core.storage.folder import DataFolder
from flywheel_core.storage.store import Store

BUCKET = "flywheel-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    maker = pafs.S3FileSystem(
        access_key="test", secret_key="test", region="us-east-1", endpoint_override=endpoint, allow_bucket_creation=True
    )
    maker.create_dir(BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> dict:
    """An instance whose files live under its own prefix of the bucket; SQLite and staging stay local."""
    aws = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    prefix = f"{request.node.name}-{os.getpid()}"
    return {
        **aws,
        "FLYWHEEL_DATA_DIR": f"s3://{BUCKET}/{prefix}",
        "FLYWHEEL_LOCAL_DIR": str(tmp_path / "local"),
        "FLYWHEEL_DATABASE_URL": f"sqlite:///{tmp_path / 'local' / 'flywheel.db'}",
    }


def _s3(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(access_key="test", secret_key="test", region="us-east-1", endpoint_override=endpoint)


def _objects(endpoint: str, prefix: str) -> list[str]:
    found = _s3(endpoint).get_file_info(pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True))
    return sorted(i.path.removeprefix(f"{BUCKET}/{prefix}/") for i in found if i.type == pafs.FileType.File)


def _flywheel(env: dict, cwd: Path, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "FLYWHEEL_ACTOR": "ci"},
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def _same(a: Any, b: Any, where: str = "result") -> None:
    """Equal to the last digit: frames cell by cell with their dtypes, result dataclasses field by field."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            _same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    else:
        assert a == b, where


RANGES = [
    (None, None),  # the stored tables as they are
    (datetime(2026, 2, 2), datetime(2026, 3, 16)),  # whole days: the daily tables, behaviour from the events
    (datetime(2026, 2, 2, 13, 30, tzinfo=UTC), datetime(2026, 3, 1, 6)),  # not whole days: the events only
]


def test_import_profile_explore_append_train_and_delete_with_the_data_folder_in_s3(
    s3_env: dict, s3_endpoint: str, tmp_path: Path
) -> None:
    prefix = s3_env["FLYWHEEL_DATA_DIR"].removeprefix(f"s3://{BUCKET}/")
    frame = make_demo_events("fleet", 1_500)
    cut = 1_100
    csv, later = tmp_path / "fleet.csv", tmp_path / "later.csv"
    frame.iloc[:cut].to_csv(csv, index=False)
    frame.iloc[cut - 50 :].to_csv(later, index=False)  # overlaps the first file's last days
    meanings = {
        event: SignalSpec(kind, polarity, weight) for event, (kind, polarity, weight) in DEMO_SIGNALS["fleet"].items()
    }
    signals = [f"--signal={event}={s.polarity}:{s.weight:g}:{s.kind}" for event, s in meanings.items()]

    # the same files in a local data folder: what every figure read from the bucket must equal
    here = Store(load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path / "here")}))
    home = here.ensure_workspace(name=here.settings.default_workspace, actor="ci").id
    assert home is not None
    data_api.ingest_file(here, workspace_id=home, source=csv, dataset="fleet", actor="ci", signals=meanings)

    imported = _flywheel(s3_env, tmp_path, "ingest", str(csv), "--dataset", "fleet", *signals)
    assert imported["rows_stored"] == cut
    stored = _objects(s3_endpoint, prefix)
    events_files = [p for p in stored if p.endswith(".parquet")]
    assert len(events_files) == 1 and events_files[0].startswith("workspaces/1/datasets/"), stored
    agg = events_files[0].removesuffix(".parquet") + ".agg/"
    tables = {p.removeprefix(agg).split("-")[0] for p in stored if p.startswith(agg)}
    assert tables == {"daily", "user_days", "items", "ratings", "meta.json"}, stored  # uploaded with the events

    profile = _flywheel(s3_env, tmp_path, "profile", "fleet")
    assert profile == {
        "dataset": "fleet",
        **data_api.profile(here, workspace_id=home, name="fleet", actor="ci").to_json(),
    }
    assert profile["events"] == cut
    assert any(p.startswith(agg + "behaviour-") for p in _objects(s3_endpoint, prefix))  # made once, kept there

    there = Store(load_settings(s3_env))
    ws = there.ensure_workspace(name=there.settings.default_workspace, actor="ci").id
    assert ws is not None and there.folder.remote
    # the profile reads the aggregates alone: it answers with the events file taken out of the bucket
    s3, key = _s3(s3_endpoint), f"{BUCKET}/{prefix}/{events_files[0]}"
    s3.move(key, key + ".aside")
    assert {
        "dataset": "fleet",
        **data_api.profile(there, workspace_id=ws, name="fleet", actor="ci").to_json(),
    } == profile
    s3.move(key + ".aside", key)

    def explored(store: Store, workspace: int) -> list[Any]:
        return [
            data_api.explore_dataset(store, workspace_id=workspace, name="fleet", actor="ci", start=start, end=end)
            for start, end in RANGES
        ]

    whole = [
        data_api.explore_dataset(s, workspace_id=w, name="fleet", actor="ci") for s, w in ((there, ws), (here, home))
    ]
    _same(whole[0], whole[1], "explore")
    appended = data_api.append_file(there, workspace_id=ws, source=later, dataset="fleet", actor="ci")
    data_api.append_file(here, workspace_id=home, source=later, dataset="fleet", actor="ci")
    assert appended.batch == 2 and not any("summaries" in w for w in appended.report.warnings)
    batches = [p.removesuffix(".parquet") for p in _objects(s3_endpoint, prefix) if p.endswith(".parquet")]
    assert len(batches) == 2 and all(
        any(p.startswith(b + ".agg/daily-") for p in _objects(s3_endpoint, prefix)) for b in batches
    )
    after = data_api.profile(there, workspace_id=ws, name="fleet", actor="ci")
    assert after.events == len(frame) + 50
    _same(after, data_api.profile(here, workspace_id=home, name="fleet", actor="ci"), "profile after the append")
    _same(explored(there, ws), explored(here, home), "explore after the append")

    trained = _flywheel(s3_env, tmp_path, "train", "fleet", "--turns", "2")
    assert [v["turn"] for v in trained["versions"]] == [1, 2]
    models = [p for p in _objects(s3_endpoint, prefix) if p.endswith(".skops")]
    assert len(models) == 2 and all(p.startswith("workspaces/1/models/") for p in models)

    # the local folder holds the database and the (empty) staging area, never a data file or an aggregate
    local = Path(s3_env["FLYWHEEL_LOCAL_DIR"])
    landed = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    assert all(p.startswith("flywheel.db") for p in landed), landed

    _flywheel(s3_env, tmp_path, "dataset", "delete", "fleet", "--yes")
    assert _objects(s3_endpoint, prefix) == []


def test_a_file_no_row_points_at_is_swept_from_the_bucket(s3_env: dict, s3_endpoint: str) -> None:
    prefix = s3_env["FLYWHEEL_DATA_DIR"].removeprefix(f"s3://{BUCKET}/")
    settings = load_settings(s3_env)
    folder = DataFolder(settings.data_dir, settings.object_store)
    assert folder.remote
    folder.write_bytes("workspaces/1/models/left-by-a-killed-run.skops", b"model")
    folder.write_bytes("workspaces/1/models/kept.skops", b"model")
    assert folder.sweep({"workspaces/1/models/kept.skops"}, min_age_seconds=3600) == []  # within the grace period
    assert folder.sweep({"workspaces/1/models/kept.skops"}, min_age_seconds=0) == [
        "workspaces/1/models/left-by-a-killed-run.skops"
    ]
    assert _objects(s3_endpoint, prefix) == ["workspaces/1/models/kept.skops"]
    assert folder.read_bytes("workspaces/1/models/kept.skops") == b"model"
    # a batch's aggregates live as long as its events file
    for stem in ("kept", "orphan"):
        folder.write_bytes(f"workspaces/1/datasets/{stem}.parquet", b"events")
        folder.write_bytes(f"workspaces/1/datasets/{stem}.agg/daily-0a1b.pq", b"table")
        folder.write_bytes(f"workspaces/1/datasets/{stem}.agg/meta.json", b"{}")
    referenced = {"workspaces/1/models/kept.skops", "workspaces/1/datasets/kept.parquet"}
    assert sorted(folder.sweep(referenced, min_age_seconds=0)) == [
        "workspaces/1/datasets/orphan.agg/daily-0a1b.pq",
        "workspaces/1/datasets/orphan.agg/meta.json",
        "workspaces/1/datasets/orphan.parquet",
    ]
    assert [p for p in _objects(s3_endpoint, prefix) if "/datasets/" in p] == [
        "workspaces/1/datasets/kept.agg/daily-0a1b.pq",
        "workspaces/1/datasets/kept.agg/meta.json",
        "workspaces/1/datasets/kept.parquet",
    ]
    with pytest.raises(FileNotFoundError):
        folder.read_bytes("workspaces/1/models/never-written.skops")


def test_an_object_store_location_is_checked_when_the_settings_are_read() -> None:
    assert load_settings({"FLYWHEEL_DATA_DIR": "s3://bucket/team/"}).object_store == "s3://bucket/team"
    for bad in ("gs://bucket/x", "s3://", "s3:///prefix"):
        with pytest.raises(ConfigurationError, match="FLYWHEEL_DATA_DIR must be a local folder or an S3 location"):
            load_settings({"FLYWHEEL_DATA_DIR": bad})


def test_a_data_folder_copied_into_the_bucket_is_read_as_it_is(s3_env: dict, s3_endpoint: str, tmp_path: Path) -> None:
    """Moving to object storage: the local folder's files copied under the prefix, the same database."""
    prefix = s3_env["FLYWHEEL_DATA_DIR"].removeprefix(f"s3://{BUCKET}/")
    here = Store(load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path / "here")}))
    home = here.ensure_workspace(name="moving", actor="ci").id
    assert home is not None
    frame = make_demo_events("music", 2_000)[["user", "item", "timestamp", "event", "value"]]
    data_api.store_frame(here, workspace_id=home, frame=frame, dataset="music", actor="ci")
    data_api.explore_dataset(here, workspace_id=home, name="music", actor="ci")  # makes the dataset-wide tables
    before = data_api.explore_dataset(here, workspace_id=home, name="music", actor="ci")  # as read back
    pafs.copy_files(
        str(tmp_path / "here" / "workspaces"),
        f"{BUCKET}/{prefix}/workspaces",
        source_filesystem=pafs.LocalFileSystem(),
        destination_filesystem=_s3(s3_endpoint),
    )
    copied = _objects(s3_endpoint, prefix)
    assert any(p.endswith(".agg/behaviour.pq") for p in copied), copied
    there = Store(load_settings({**s3_env, "FLYWHEEL_DATABASE_URL": here.settings.database_url}))
    _same(data_api.explore_dataset(there, workspace_id=home, name="music", actor="ci"), before, "explore")
    assert _objects(s3_endpoint, prefix) == copied  # read as they are: nothing made again
