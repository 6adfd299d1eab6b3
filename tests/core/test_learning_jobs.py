"""Jobs: a run recorded as a job, executed through the same function the detached worker calls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import DataValidationError, NotFoundError
from flywheel_core.jobs import STALLED_AFTER_SECONDS, execute_job, job_state, submit_job
from flywheel_core.storage.models import as_utc
from flywheel_core.storage.store import Store


def _fleet(store: Store, workspace_id: int) -> None:
    store_frame(
        store,
        workspace_id=workspace_id,
        frame=make_demo_events("fleet", 1_500),
        dataset="fleet",
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["fleet"].items()},
        source_name="fleet.parquet",
    )


def test_a_job_reports_progress_and_its_result(store: Store, workspace_id: int) -> None:
    _fleet(store, workspace_id)
    job = submit_job(
        store, workspace_id=workspace_id, kind="train", params={"dataset": "fleet", "turns": 2}, actor="bob"
    )
    assert job.status == "queued"
    done = execute_job(store, workspace_id=workspace_id, job_id=job.id)
    assert done.status == "done" and done.progress == 1.0 and done.message == "Done"
    assert [v["turn"] for v in done.result["versions"]] == [1, 2]
    assert {v.author for v in store.list_model_versions(workspace_id=workspace_id)} == {"bob"}


def test_a_job_is_checked_before_it_is_recorded(store: Store, workspace_id: int) -> None:
    with pytest.raises(NotFoundError):
        submit_job(store, workspace_id=workspace_id, kind="train", params={"dataset": "nope"}, actor="bob")
    with pytest.raises(DataValidationError, match="Unknown job kind"):
        submit_job(store, workspace_id=workspace_id, kind="mine", params={"dataset": "x"}, actor="bob")
    assert store.list_jobs(workspace_id=workspace_id) == []


def test_a_silent_running_job_reads_as_stalled(store: Store, workspace_id: int) -> None:
    job = store.create_job(workspace_id=workspace_id, kind="train", params={"dataset": "x"}, actor="alice")
    store.update_job(workspace_id=workspace_id, job_id=job.id, status="running", progress=0.2)
    job = store.get_job(workspace_id=workspace_id, job_id=job.id)
    assert job_state(job) == "running"
    updated = as_utc(job.updated_at)
    assert updated is not None and updated.utcoffset() == timedelta(0)  # SQLite: naive made UTC; PostgreSQL: Etc/UTC
    assert job_state(job, now=updated + timedelta(seconds=STALLED_AFTER_SECONDS + 1)) == "stalled"
