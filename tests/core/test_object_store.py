"""A data folder in object storage: FLYWHEEL_DATA_DIR=s3://bucket/prefix against a local S3-compatible server.

The server is moto's, started by the test in this process (a real HTTP S3 API on 127.0.0.1); the product
talks to it through pyarrow's S3 file system with the usual AWS variables, from separate `flywheel` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from moto import server as moto_server

from flywheel_core.config import load_settings
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import ConfigurationError
from flywheel_core.storage.folder import DataFolder

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


def _objects(endpoint: str, prefix: str) -> list[str]:
    s3 = pafs.S3FileSystem(access_key="test", secret_key="test", region="us-east-1", endpoint_override=endpoint)
    found = s3.get_file_info(pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True))
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


def test_import_profile_train_and_delete_with_the_data_folder_in_s3(
    s3_env: dict, s3_endpoint: str, tmp_path: Path
) -> None:
    prefix = s3_env["FLYWHEEL_DATA_DIR"].removeprefix(f"s3://{BUCKET}/")
    frame = make_demo_events("fleet", 1_500)
    csv = tmp_path / "fleet.csv"
    frame.to_csv(csv, index=False)
    signals = [
        f"--signal={event}={polarity}:{weight:g}" for event, (_, polarity, weight) in DEMO_SIGNALS["fleet"].items()
    ]

    imported = _flywheel(s3_env, tmp_path, "ingest", str(csv), "--dataset", "fleet", *signals)
    assert imported["rows_stored"] == len(frame)
    stored = _objects(s3_endpoint, prefix)
    events_files = [p for p in stored if p.endswith(".parquet")]
    assert len(events_files) == 1 and events_files[0].startswith("workspaces/1/datasets/"), stored

    profile = _flywheel(s3_env, tmp_path, "profile", "fleet")
    assert profile["events"] == len(frame) and profile["users"] == frame["user"].nunique()

    trained = _flywheel(s3_env, tmp_path, "train", "fleet", "--turns", "2")
    assert [v["turn"] for v in trained["versions"]] == [1, 2]
    models = [p for p in _objects(s3_endpoint, prefix) if p.endswith(".skops")]
    assert len(models) == 2 and all(p.startswith("workspaces/1/models/") for p in models)

    # the local folder holds the database and the (empty) staging area, never the data files
    local = Path(s3_env["FLYWHEEL_LOCAL_DIR"])
    assert not (local / "workspaces").exists()

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
    with pytest.raises(FileNotFoundError):
        folder.read_bytes("workspaces/1/models/never-written.skops")


def test_an_object_store_location_is_checked_when_the_settings_are_read() -> None:
    assert load_settings({"FLYWHEEL_DATA_DIR": "s3://bucket/team/"}).object_store == "s3://bucket/team"
    for bad in ("gs://bucket/x", "s3://", "s3:///prefix"):
        with pytest.raises(ConfigurationError, match="FLYWHEEL_DATA_DIR must be a local folder or an S3 location"):
            load_settings({"FLYWHEEL_DATA_DIR": bad})
