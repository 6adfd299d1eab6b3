"""`flywheel train / versions / experiment / job run`, run as real processes."""

from __future__ import annotations

import json
import time

import pytest

from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store


@pytest.fixture
def demo(demo_instance: str) -> str:
    return demo_instance


def test_train_prints_versions_and_versions_lists_them(run, demo: str) -> None:
    before = json.loads(run("versions", "Support assistant (demo)", "-w", demo, "--json").stdout)["versions"]
    out = json.loads(run("train", "Support assistant (demo)", "-w", demo, "--turns", "3", "--json").stdout)
    versions = out["versions"]
    first = len(before) + 1  # the demo trained its own versions first; numbering continues after them
    assert [v["version"] for v in versions] == [first, first + 1, first + 2]
    assert [v["turn"] for v in versions] == [1, 2, 3]
    assert all({"auc", "log_loss", "brier", "holdout_auc"} <= set(v["metrics"]) for v in versions)
    assert versions[0]["train_rows"] < versions[-1]["train_rows"] and versions[0]["train_seconds"] >= 0
    rec = json.loads(
        run("train", "Music streaming (demo)", "-w", demo, "--turns", "2", "--task", "recommend", "--json").stdout
    )
    assert "hit_rate@10" in rec["versions"][0]["metrics"]
    listed = json.loads(run("versions", "Support assistant (demo)", "-w", demo, "--json").stdout)["versions"]
    assert [v["version"] for v in listed] == [v["version"] for v in before] + [first, first + 1, first + 2]
    assert listed[-1]["metrics"] == versions[-1]["metrics"]


def test_train_bad_model_is_a_clean_error(run, demo: str) -> None:
    result = run("train", "Support assistant (demo)", "-w", demo, "--model", "forest", check=False)
    assert result.returncode == 2 and "'model' parameter" in result.stderr and "'forest'" in result.stderr
    assert "Traceback" not in result.stderr


def test_experiment_prints_its_sentence(run, demo: str) -> None:
    out = json.loads(run("experiment", "Vehicle fleet (demo)", "-w", demo, "--kind", "capture", "--json").stdout)
    assert out["kind"] == "capture" and "least sure" in out["series"] and out["sentence"]


def test_background_job_runs_detached_and_reports(run, demo: str, env: dict[str, str], monkeypatch) -> None:
    from flywheel_core.jobs import start_job

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    store = Store(load_settings(env))
    workspace = store.get_workspace(name=demo)
    job = start_job(
        store,
        workspace_id=workspace.id,
        kind="train",
        params={"dataset": "Vehicle fleet (demo)", "task": "feedback", "turns": 3},
        actor="alice",
    )
    deadline = time.monotonic() + 120
    while store.get_job(workspace_id=workspace.id, job_id=job.id).status not in ("done", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    finished = store.get_job(workspace_id=workspace.id, job_id=job.id)
    assert finished.status == "done", finished.error
    assert finished.progress == 1.0 and len(finished.result["versions"]) == 3
    bad = store.create_job(
        workspace_id=workspace.id,
        kind="experiment",
        params={"dataset": "Vehicle fleet (demo)", "kind": "weighting"},
        actor="alice",
    )
    out = run("job", "run", str(bad.id), "--workspace-id", str(workspace.id))
    assert "failed" in out.stdout
    failed = store.get_job(workspace_id=workspace.id, job_id=bad.id)
    assert failed.status == "failed" and "strong positives" in failed.error
