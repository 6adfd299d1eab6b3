"""Safe concurrent work with real processes: no lost edits, one copy of a file, kills and failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flywheel_core.demo import make_demo_events
from flywheel_core.storage.store import Store
from tests.conftest import REPO


@pytest.fixture
def shared(store: Store) -> int:
    workspace = store.create_workspace(name="Shared", actor="alice")
    assert workspace.id is not None
    return workspace.id


def _spawn(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, **(extra or {})},
    )


def _csv(tmp_path: Path, n: int = 20_000) -> Path:
    path = tmp_path / "events.csv"
    make_demo_events("music", n).to_csv(path, index=False)
    return path


def _files(store: Store) -> set[str]:
    root = store.data_dir / "workspaces"
    return (
        {p.relative_to(store.data_dir).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    )


def test_eight_processes_making_100_edits_each_lose_none(store: Store, shared: int, env) -> None:
    store.save_loop(workspace_id=shared, name="Map", content={"edits": []}, actor="alice", base_version=None)
    workers = [_spawn(env, "edit_loop", f"w{i}", "100") for i in range(8)]
    results = []
    for proc in workers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    landed = sum(r["landed"] for r in results)
    assert landed + sum(r["conflicted"] for r in results) == 800  # every write landed or was told it conflicted
    versions = store.loop_versions(workspace_id=shared, name="Map")
    assert [v.version for v in versions] == list(range(1, landed + 2))  # no gaps, no duplicates
    final = versions[-1].content["edits"]
    assert len(final) == landed and len(set(final)) == landed  # each landed edit is in the latest map, once


def test_same_file_imported_at_once_is_stored_once(store: Store, shared: int, env, tmp_path: Path) -> None:
    path = _csv(tmp_path)
    procs = [_spawn(env, "ingest", str(path), f"copy{i}") for i in range(4)]
    outcomes = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert sum("stored" in o for o in outcomes) == 1
    assert all("already imported" in o["message"] for o in outcomes if "error" in o)
    datasets = store.list_datasets(workspace_id=shared)
    assert len(datasets) == 1
    events = datasets[0].file_path
    files = _files(store)  # one events file, with its ids file and aggregates beside it: no second copy
    assert [f for f in files if f.endswith(".parquet")] == [events]
    assert all(f.startswith(events.removesuffix(".parquet")) for f in files), sorted(files)


@pytest.mark.parametrize("point", ["before_file_write", "after_file_write", "before_commit"])
def test_import_killed_part_way_leaves_everything_as_it_was(
    store: Store, shared: int, env, tmp_path: Path, point: str
) -> None:
    path = _csv(tmp_path)
    first = tmp_path / "first.csv"
    first.write_text("user,timestamp,event\nu,2026-01-01,click\n")
    assert _spawn(env, "ingest", str(first), "earlier").wait(timeout=120) == 0
    before_rows = [(d.name, d.content_hash) for d in store.list_datasets(workspace_id=shared)]
    before_files = _files(store)
    pause = tmp_path / "pause"
    pause.mkdir()
    proc = _spawn(
        env, "ingest", str(path), "victim", extra={"FLYWHEEL_PAUSE_AT": point, "FLYWHEEL_PAUSE_DIR": str(pause)}
    )
    deadline = time.monotonic() + 120
    while not (pause / f"{point}.reached").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert [(d.name, d.content_hash) for d in store.list_datasets(workspace_id=shared)] == before_rows
    again = _spawn(env, "ingest", str(path), "victim")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err  # the lock was released and the same import succeeds
    datasets = store.list_datasets(workspace_id=shared)
    assert sorted(d.name for d in datasets) == ["earlier", "victim"]
    events = next(d.file_path for d in datasets if d.name == "victim")
    stem = events.removesuffix(".parquet")
    added = _files(store) - before_files
    # the events file and what lives beside it (its ids file, its aggregates), nothing else, no leftovers
    assert events in added and all(f.startswith(stem) for f in added), sorted(added)
    assert not any(".tmp-" in f for f in _files(store))


def test_a_failing_disk_gives_an_error_not_half_a_dataset(store: Store, shared: int, env, tmp_path: Path) -> None:
    path = _csv(tmp_path, 60_000)
    proc = _spawn(env, "ingest", str(path), "big", "200000")  # the process may not write files over 200 kB
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert json.loads(out)["error"] == "StorageError" and "Nothing was stored" in json.loads(out)["message"]
    assert store.list_datasets(workspace_id=shared) == []
    assert _files(store) == set()


def test_a_dropped_database_connection_gives_an_error_not_half_a_dataset(
    store: Store, shared: int, env, tmp_path: Path
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a dropped server connection needs a database server: runs in the PostgreSQL suite")
    from sqlalchemy import text

    path = _csv(tmp_path)
    pause = tmp_path / "pause"
    pause.mkdir()
    proc = _spawn(
        env,
        "ingest",
        str(path),
        "dropped",
        extra={"FLYWHEEL_PAUSE_AT": "before_commit", "FLYWHEEL_PAUSE_DIR": str(pause)},
    )
    while not (pause / "before_commit.reached").exists():
        assert proc.poll() is None
        time.sleep(0.05)
    with store.engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.commit()
    (pause / "before_commit.release").write_text("go")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and json.loads(out)["error"] == "StorageError", out
    assert store.list_datasets(workspace_id=shared) == []
    assert _files(store) == set()


def test_a_long_training_run_does_not_block_other_sessions(
    store: Store, shared: int, env, monkeypatch, tmp_path: Path
) -> None:
    """While a training job runs in its worker process, another user's writes and reads go through.

    The job is held at a pause point after its first turn (as long as the test needs, with no real long fit)."""
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS
    from flywheel_core.jobs import start_job

    pause = tmp_path / "pause"
    pause.mkdir()
    for key, value in {**env, "FLYWHEEL_PAUSE_AT": "after_training_turn", "FLYWHEEL_PAUSE_DIR": str(pause)}.items():
        monkeypatch.setenv(key, value)
    signals = {event: SignalSpec(*spec) for event, spec in DEMO_SIGNALS["fleet"].items()}
    store_frame(
        store,
        workspace_id=shared,
        frame=make_demo_events("fleet", 6_000),
        dataset="fleet",
        actor="alice",
        signals=signals,
    )
    job = start_job(
        store,
        workspace_id=shared,
        kind="train",
        actor="alice",
        params={"dataset": "fleet", "task": "feedback", "model": "logistic", "turns": 3},
    )
    deadline = time.monotonic() + 120
    while not (pause / "after_training_turn.reached").exists():
        assert time.monotonic() < deadline, "the job never reached its first turn"
        time.sleep(0.05)
    assert store.get_job(workspace_id=shared, job_id=job.id).status == "running"
    other = Store(store.settings)  # another session of the same instance
    for i in range(5):
        other.save_loop(workspace_id=shared, name="Meanwhile", content={"i": i}, actor="bob", base_version=i or None)
    small = tmp_path / "small.csv"
    small.write_text("user,timestamp,event\nu,2026-01-01,click\n")
    monkeypatch.delenv("FLYWHEEL_PAUSE_AT")
    assert _spawn(env, "ingest", str(small), "meanwhile").wait(timeout=120) == 0
    assert len(other.loop_versions(workspace_id=shared, name="Meanwhile")) == 5
    # all of that happened while the run was held mid-way
    assert store.get_job(workspace_id=shared, job_id=job.id).status == "running"
    (pause / "after_training_turn.release").write_text("go")
    while store.get_job(workspace_id=shared, job_id=job.id).status not in ("done", "failed"):
        assert time.monotonic() < deadline + 120, "the job did not finish"
        time.sleep(0.2)
    assert store.get_job(workspace_id=shared, job_id=job.id).status == "done"
