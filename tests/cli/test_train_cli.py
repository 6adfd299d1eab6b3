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


def test_experiment_prints_its_effect_interval_and_conclusion(run, demo: str) -> None:
    args = ("experiment", "Vehicle fleet (demo)", "-w", demo, "--kind", "capture")
    out = json.loads(run(*args, "--repeats", "3", "--label-budget", "12", "--json").stdout)
    assert out["kind"] == "capture" and "least sure" in out["series"] and out["sentence"]
    assert out["repeats"] == 3 and out["figures"]["label_budget"] == 12
    assert out["conclusion"] in ("effect", "no_effect", "inconclusive") and out["material"] == 0.01
    effect = out["effect"]
    assert set(effect) == {"estimate", "low", "high", "unit"} and effect["low"] <= effect["estimate"] <= effect["high"]
    assert f"{effect['estimate']:+.3f}" in out["sentence"] and "12 labels per turn" in out["sentence"]
    text = run("experiment", "Support assistant (demo)", "-w", demo, "--kind", "network", "--repeats", "2").stdout
    assert "the other users' holdout AUC with them minus without them" in text


def test_experiment_options_are_checked(run, demo: str) -> None:
    bad = run(
        "experiment", "Vehicle fleet (demo)", "-w", demo, "--kind", "poisoning", "--cohort-share", "0.7", check=False
    )
    assert bad.returncode == 2 and "'cohort_share' parameter of poisoning_experiment" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = run(
        "experiment", "Vehicle fleet (demo)", "-w", demo, "--kind", "collapse", "--cohort-share", "0.3", check=False
    )
    assert wrong.returncode == 2 and "--cohort-share applies to --kind network or poisoning only" in wrong.stderr


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


def _weekly_log(path, start: str, weeks: int, seed: int) -> None:
    """A log of clicks and skips whose chance of a click depends on the item, ``weeks`` weeks long."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = weeks * 7 * 150
    stamps = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, weeks * 7 * 86_400, n)), unit="s")
    items = rng.integers(0, 40, n)
    clicked = rng.random(n) < 0.15 + 0.7 * (items % 4 == 0)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, 300, n)],
            "ts": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "action": np.where(clicked, "click", "skip"),
            "item_id": [f"i{i}" for i in items],
        }
    )
    frame.to_csv(path, index=False)


def test_weekly_loop_appends_and_trains_the_next_turns(run, tmp_path) -> None:
    first, later = tmp_path / "weeks-1-8.csv", tmp_path / "weeks-9-14.csv"
    _weekly_log(first, "2026-01-05", 8, seed=1)
    _weekly_log(later, "2026-03-02", 6, seed=2)  # 2026-03-02 is the Monday after week 8
    run("ingest", str(first), "--dataset", "weekly")
    trained = json.loads(run("train", "weekly", "--turns", "4", "--json").stdout)["versions"]
    assert [v["turn"] for v in trained] == [1, 2, 3, 4]

    idle = run("train", "weekly", "--next", "--json")  # nothing new yet: exit 0 and say so
    assert json.loads(idle.stdout)["nothing_to_train"] is True
    assert "nothing to train" in run("train", "weekly", "--next").stdout

    appended = json.loads(run("ingest", str(later), "--dataset", "weekly", "--append", "--json").stdout)
    assert appended["batch"] == 2 and appended["overlapping_rows"] == 0
    assert appended["dataset_rows"] == _rows(first) + _rows(later) == appended["rows_stored"] + _rows(first)
    again = run("ingest", str(later), "--dataset", "weekly", "--append", check=False)
    assert again.returncode == 2 and "already imported" in again.stderr

    added = json.loads(run("train", "weekly", "--next", "--json").stdout)
    turns = [v["turn"] for v in added["versions"]]
    assert turns == [5, 6, 7]  # a turn is 1.7 weeks (4 turns over 85% of 8 weeks); each needs the turn after it
    assert [v["version"] for v in added["versions"]] == [5, 6, 7]
    assert all(v["train_rows"] > trained[-1]["train_rows"] for v in added["versions"])
    assert all(v["metrics"]["auc"] is not None and v["metrics"]["auc"] > 0.6 for v in added["versions"])
    assert json.loads(run("train", "weekly", "--next", "--json").stdout)["nothing_to_train"] is True

    verdict = json.loads(run("verdict", "weekly", "--json").stdout)
    assert verdict["dataset"] == "weekly" and verdict["verdict"]
    listed = json.loads(run("versions", "weekly", "--json").stdout)["versions"]
    assert [v["turn"] for v in listed] == [1, 2, 3, 4, 5, 6, 7]


def _rows(path) -> int:
    return len(path.read_text().splitlines()) - 1


def test_recommending_from_a_one_item_log_is_a_clean_error(run, tmp_path) -> None:
    rows = "".join(f"u{n % 12},only,2026-01-{1 + n % 28:02d},buy\n" for n in range(60))
    log = tmp_path / "one-item.csv"
    log.write_text("user,item,timestamp,event\n" + rows)
    run("ingest", str(log), "--dataset", "one item", "--signal", "buy=positive:1:implicit")
    result = run("train", "one item", "--task", "recommend", "--turns", "2", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Recommendation needs positive interactions with at least 2 distinct items")
    assert "('only')" in result.stderr
    assert "--exclude-seen / --include-seen" in run("train", "--help").stdout
