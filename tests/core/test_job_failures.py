"""A job that fails anyway says why in words: never an exception's class name or a traceback for people,
while a bug's traceback still reaches the server log."""

from __future__ import annotations

import logging

import pytest

from flywheel_core.data.api import delete_dataset, store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.jobs import JobInfo, execute_job, submit_job
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


def _train(store: Store, workspace_id: int) -> int:
    job = submit_job(
        store, workspace_id=workspace_id, kind="train", params={"dataset": "fleet", "turns": 2}, actor="alice"
    )
    assert job.id is not None
    return job.id


def test_a_bug_inside_a_training_reads_as_a_sentence_and_its_traceback_is_logged(
    store: Store, workspace_id: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault is injected where the issue saw it (scikit-learn refusing a fit); before, the job read
    'Internal error: ValueError: ... TruncatedSVD' and the worker raised."""
    import flywheel_core.learning.turns as turns

    def broken_fit(*args: object, **kwargs: object) -> object:
        raise ValueError("n_components(2) must be <= n_features(1). TruncatedSVD")

    monkeypatch.setattr(turns, "_fit_version", broken_fit)
    _fleet(store, workspace_id)
    job_id = _train(store, workspace_id)
    with caplog.at_level(logging.ERROR, logger="flywheel_core.jobs"):
        row = execute_job(store, workspace_id=workspace_id, job_id=job_id)  # returns: the job is failed, not raised
    info = JobInfo.from_row(row)
    assert info.state == "failed" and row.message == "Failed"
    assert info.error == (
        "The training stopped at 'Training turn 1 of 2' on an unexpected error in Flywheel Studio, not a problem "
        "with your data or choices; nothing was stored. Try again; if it fails the same way, tell whoever runs "
        f"this instance: the details are in the server log under job {job_id}."
    )
    for word in ("ValueError", "TruncatedSVD", "Internal error", "Traceback"):
        assert word not in info.error
    logged = [r for r in caplog.records if r.name == "flywheel_core.jobs"]
    assert len(logged) == 1 and f"Job {job_id}" in logged[0].getMessage()
    assert logged[0].exc_info is not None and "TruncatedSVD" in str(logged[0].exc_info[1])  # the bug, for admins
    assert store.list_model_versions(workspace_id=workspace_id) == []


def test_running_out_of_memory_says_so_and_what_to_try(
    store: Store, workspace_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flywheel_core.learning.turns as turns

    def no_memory(*args: object, **kwargs: object) -> object:
        raise MemoryError

    monkeypatch.setattr(turns, "_fit_version", no_memory)
    _fleet(store, workspace_id)
    row = execute_job(store, workspace_id=workspace_id, job_id=_train(store, workspace_id))
    assert row.error == (
        "The training ran out of memory at 'Training turn 1 of 2'; nothing was stored. Try fewer turns, the "
        "logistic model, or a smaller dataset; or ask whoever runs this instance for more memory."
    )


def test_a_dataset_deleted_after_queuing_fails_the_job_with_the_whole_reason(store: Store, workspace_id: int) -> None:
    _fleet(store, workspace_id)
    job_id = _train(store, workspace_id)
    delete_dataset(store, workspace_id=workspace_id, name="fleet", actor="alice")
    row = execute_job(store, workspace_id=workspace_id, job_id=job_id)
    assert row.status == "failed"
    assert "'fleet'" in row.error and row.error.endswith(".")  # the store's own sentence, whole
    assert "Error" not in row.error
