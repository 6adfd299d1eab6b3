"""A training run is stored whole: concurrent runs get contiguous version numbers, a deleted dataset none."""

from __future__ import annotations

import threading

import pytest

from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import NotFoundError
from flywheel_core.learning.api import store_versions
from flywheel_core.learning.turns import TrainingResult, train_feedback_versions
from flywheel_core.storage.models import Dataset
from flywheel_core.storage.store import Store


def _dataset(store: Store, workspace_id: int) -> tuple[Dataset, TrainingResult]:
    signals = {e: SignalSpec(*s) for e, s in DEMO_SIGNALS["support"].items()}
    events = make_demo_events("support", 2_000)
    store_frame(store, workspace_id=workspace_id, frame=events, dataset="support", actor="alice", signals=signals)
    result = train_feedback_versions(events, SignalDictionary(events=signals), n_turns=3)
    return store.get_dataset(workspace_id=workspace_id, name="support"), result


def test_concurrent_runs_each_get_whole_contiguous_version_numbers(store: Store, workspace_id: int) -> None:
    dataset, result = _dataset(store, workspace_id)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            store_versions(store, workspace_id=workspace_id, dataset=dataset, result=result, actor="alice")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=save) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(v.version for v in store.list_model_versions(workspace_id=workspace_id))
    assert numbers == list(range(1, 10))
    turns = [v.turn for v in sorted(store.list_model_versions(workspace_id=workspace_id), key=lambda v: v.version)]
    assert turns == [1, 2, 3] * 3  # each run's three versions came out together, in turn order


def test_a_run_whose_dataset_was_deleted_stores_nothing(store: Store, workspace_id: int) -> None:
    dataset, result = _dataset(store, workspace_id)
    store.delete_dataset(workspace_id=workspace_id, name="support", actor="alice")
    with pytest.raises(NotFoundError, match="deleted while the training ran"):
        store_versions(store, workspace_id=workspace_id, dataset=dataset, result=result, actor="alice")
    assert store.list_model_versions(workspace_id=workspace_id) == []
    assert not list((store.data_dir / "workspaces").rglob("*.skops"))  # the run's model files were removed too
