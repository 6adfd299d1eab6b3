"""Workspace isolation: with workspace B's id, nothing of workspace A is ever read, through the store or the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.exceptions import NotFoundError
from flywheel_core.storage.models import Experiment, ModelVersion
from flywheel_core.storage.store import Store

SECRET = "secret-dataset-of-a"


@pytest.fixture
def two(store: Store) -> tuple[int, int]:
    a = store.create_workspace(name="A", actor="alice").id
    b = store.create_workspace(name="B", actor="bob").id
    assert a and b
    data = b"user,item,timestamp,event\n" + b"".join(
        f"u{i % 7},i{i % 5},2026-01-{1 + i % 28:02d},{'click' if i % 3 else 'skip'}\n".encode() for i in range(300)
    )
    ingest_file(store, workspace_id=a, source=data, dataset=SECRET, actor="alice")
    dataset = store.get_dataset(workspace_id=a, name=SECRET)
    store.save_loop(workspace_id=a, name="Secret map", content={"name": "Secret map"}, actor="alice", base_version=None)
    store.add_model_version(
        workspace_id=a,
        version=ModelVersion(
            workspace_id=a,
            dataset_id=dataset.id,
            version=0,
            run_id="r",
            task="feedback",
            algorithm="secret-algo",
            turn=1,
            train_rows=10,
            metrics={"auc": 0.7},
        ),
        actor="alice",
        model_bytes=b"model",
    )
    store.add_experiment(
        workspace_id=a, experiment=Experiment(workspace_id=a, dataset_id=dataset.id, kind="curation"), actor="alice"
    )
    store.create_job(workspace_id=a, kind="train", params={"dataset": SECRET}, actor="alice")
    return a, b


def test_every_store_read_is_scoped_to_the_workspace(store: Store, two: tuple[int, int]) -> None:
    a, b = two
    dataset = store.get_dataset(workspace_id=a, name=SECRET)
    job = store.list_jobs(workspace_id=a)[0]
    assert store.list_datasets(workspace_id=b) == []
    assert store.list_loops(workspace_id=b) == []
    assert store.list_model_versions(workspace_id=b) == []
    assert store.list_model_versions(workspace_id=b, dataset_id=dataset.id) == []  # A's id, B's workspace
    assert store.list_experiments(workspace_id=b, dataset_id=dataset.id) == []
    assert store.list_jobs(workspace_id=b) == []
    assert all(e.workspace_id == b for e in store.audit(workspace_id=b))
    assert store.find_dataset_by_hash(workspace_id=b, content_hash=dataset.content_hash) is None
    for call in (
        lambda: store.get_dataset(workspace_id=b, name=SECRET),
        lambda: store.read_events(workspace_id=b, name=SECRET),
        lambda: store.get_loop_version(workspace_id=b, name="Secret map"),
        lambda: store.loop_versions(workspace_id=b, name="Secret map"),
        lambda: store.get_job(workspace_id=b, job_id=job.id),
        lambda: store.delete_dataset(workspace_id=b, name=SECRET, actor="bob"),
        lambda: store.delete_loop(workspace_id=b, name="Secret map", actor="bob"),
    ):
        with pytest.raises(NotFoundError):
            call()
    summary = store.summarize(workspace_id=b)
    assert (summary.loops, summary.datasets, summary.events, summary.model_versions) == (0, 0, 0, 0)
    # and A still has everything
    assert store.summarize(workspace_id=a).datasets == 1


def test_every_cli_command_is_scoped_to_the_workspace(store: Store, two: tuple[int, int], env, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flywheel_core.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=tmp_path,
            timeout=300,
        )

    listing = run("datasets", "--workspace", "B", "--json")
    assert json.loads(listing.stdout)["datasets"] == []
    assert json.loads(run("loop", "list", "--workspace", "B", "--json").stdout)["loops"] == []
    for args in (
        ("profile", SECRET),
        ("versions", SECRET),
        ("train", SECRET, "--turns", "2"),
        ("experiment", SECRET, "--kind", "curation"),
        ("loop", "export", "Secret map", "--format", "json"),
    ):
        result = run(*args, "--workspace", "B")
        assert result.returncode == 2, (args, result.stderr)
        assert "No " in result.stderr and SECRET not in result.stdout, (args, result.stderr)
    report = run("report", "--workspace", "B", "--format", "md", "--output", str(tmp_path / "b.md"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "b.md").read_text()
    assert SECRET not in text and "Secret map" not in text and "secret-algo" not in text
