"""Preconditions known before queuing: a run that cannot work is refused at once, with every reason as a
sentence, by the same check for the page (through ``jobs.submit_job``) and the command line; nothing is queued."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.experiments.api import check_experiment
from flywheel_core.jobs import submit_job
from flywheel_core.learning.api import check_training, run_training
from flywheel_core.storage.store import Store

SIGNALS = {
    "click": SignalSpec("implicit", "positive", 1.0),
    "skip": SignalSpec("implicit", "negative", 1.0),
    "save": SignalSpec("implicit", "positive", 3.0),
}


def _log(*, users: int, items: int, n: int = 400, positive_share: float = 0.5, days: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    seconds = np.sort(rng.choice(86_400 * days, size=n, replace=n > 86_400 * days))
    return pd.DataFrame(
        {
            "user": rng.choice([f"u{i}" for i in range(users)], n),
            "item": rng.choice([f"i{i}" for i in range(items)], n),
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "event": np.where(rng.random(n) < positive_share, "click", "skip"),
        }
    )


def _store(store: Store, workspace_id: int, name: str, frame: pd.DataFrame) -> None:
    store_frame(
        store, workspace_id=workspace_id, frame=frame, dataset=name, actor="alice", signals=SIGNALS,
        source_name=f"{name}.parquet",
    )  # fmt: skip


def _refused(store: Store, workspace_id: int, kind: str, params: dict[str, object]) -> str:
    """The message submit_job refuses with; nothing may be queued."""
    with pytest.raises(InsufficientDataError) as refused:
        submit_job(store, workspace_id=workspace_id, kind=kind, params=params, actor="alice")
    assert store.list_jobs(workspace_id=workspace_id) == []
    return str(refused.value)


def test_a_dataset_of_positives_only_is_refused_before_queuing(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "clicks", _log(users=30, items=10, positive_share=1.0))
    check = check_training(store, workspace_id=workspace_id, dataset_name="clicks", actor="alice")
    assert not check.ok and len(check.problems) == 1
    assert "every one of the 400 feedback events of 'clicks' is positive ('click')" in check.problems[0]
    assert "Mark some events negative" in check.problems[0] and "recommend task" in check.problems[0]
    assert _refused(store, workspace_id, "train", {"dataset": "clicks"}) == check.message


def test_a_dataset_of_negatives_only_is_refused_with_what_to_mark(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "skips", _log(users=30, items=10, positive_share=0.0))
    message = _refused(store, workspace_id, "train", {"dataset": "skips", "turns": 3})
    assert "every one of the 400 feedback events of 'skips' is negative ('skip')" in message
    assert "Mark some events positive" in message


def test_recommend_on_one_item_and_too_few_users_names_both_problems(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "one item", _log(users=4, items=1))
    check = check_training(store, workspace_id=workspace_id, dataset_name="one item", actor="alice", task="recommend")
    assert len(check.problems) == 2
    assert "at least 2 distinct items to rank; every one of the" in check.problems[0]
    assert "positive interactions of 'one item' is with the same item ('i0')" in check.problems[0]
    assert "has 4 such users in all, so no version could ever be scored" in check.problems[1]
    assert check.message == " ".join(check.problems)
    # the feedback task has nothing against one item
    assert check_training(store, workspace_id=workspace_id, dataset_name="one item", actor="alice").ok


def test_recommend_with_too_few_users_is_refused_by_the_run_itself(store: Store, workspace_id: int) -> None:
    """Before: it trained five versions none of which could be scored (fewer than 10 users in every window)."""
    _store(store, workspace_id, "three users", _log(users=3, items=12))
    with pytest.raises(InsufficientDataError, match="3 such users in all"):
        run_training(store, workspace_id=workspace_id, dataset_name="three users", actor="alice", task="recommend")
    assert store.list_model_versions(workspace_id=workspace_id) == []


def test_too_many_turns_names_the_most_that_work_and_that_many_train(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "short", _log(users=20, items=5, n=30))
    message = _refused(store, workspace_id, "train", {"dataset": "short", "turns": 20})
    assert "Training in 20 turns needs at least 42 feedback events at distinct times" in message
    assert "'short' has 30. Choose 14 turns or fewer" in message
    assert check_training(store, workspace_id=workspace_id, dataset_name="short", actor="alice", n_turns=14).ok
    versions = run_training(store, workspace_id=workspace_id, dataset_name="short", actor="alice", n_turns=14)
    assert len(versions) == 14  # the advice holds: the most it names can be trained


def test_a_workable_dataset_passes_and_is_queued(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "fine", _log(users=40, items=12))
    for task in ("feedback", "recommend"):
        assert check_training(store, workspace_id=workspace_id, dataset_name="fine", actor="alice", task=task).ok
    job = submit_job(
        store, workspace_id=workspace_id, kind="train", params={"dataset": "fine", "task": "recommend"}, actor="alice"
    )
    assert job.status == "queued"


def test_bad_options_are_refused_by_name_before_the_data_is_read(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "fine", _log(users=40, items=12))
    with pytest.raises(DataValidationError, match="'n_turns' parameter of run_training"):
        check_training(store, workspace_id=workspace_id, dataset_name="fine", actor="alice", n_turns=0)
    with pytest.raises(DataValidationError, match="'label_budget' parameter of capture_experiment"):
        submit_job(
            store, workspace_id=workspace_id, kind="experiment", actor="alice",
            params={"dataset": "fine", "kind": "capture", "options": {"label_budget": 1}},
        )  # fmt: skip
    assert store.list_jobs(workspace_id=workspace_id) == []


def test_the_weighting_experiment_without_strong_signals_is_refused_before_queuing(
    store: Store, workspace_id: int
) -> None:
    """Before: the job was queued, ran, and failed; its reason was cut off in the runs table."""
    _store(store, workspace_id, "clicks and skips", _log(users=40, items=12))
    message = _refused(
        store, workspace_id, "experiment", {"dataset": "clicks and skips", "kind": "weighting", "options": {}}
    )
    assert "none of the" in message and "positives of 'clicks and skips' are strong" in message
    assert "Give saves or purchases a higher weight than clicks" in message
    frame = _log(users=40, items=12)
    frame.loc[frame.index % 7 == 0, "event"] = "save"  # weight 3: strong positives beside the clicks
    _store(store, workspace_id, "with saves", frame)
    assert check_experiment(
        store, workspace_id=workspace_id, dataset_name="with saves", kind="weighting", actor="alice"
    ).ok


def test_the_deletion_test_with_too_few_users_is_refused(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "two users", _log(users=2, items=12))
    check = check_experiment(
        store, workspace_id=workspace_id, dataset_name="two users", kind="network", actor="alice", cohort_share=0.5
    )
    assert check.problems == (
        "The deletion test (network experiment) sets a cohort of users apart and scores the others; with 2 users "
        "in 'two users' and a cohort share of 50%, no user is left outside the cohort. Import a log with more "
        "users, or choose a smaller share.",
    )


def test_an_experiment_on_positives_only_is_refused_with_the_experiment_named(store: Store, workspace_id: int) -> None:
    _store(store, workspace_id, "clicks", _log(users=30, items=10, positive_share=1.0))
    message = _refused(store, workspace_id, "experiment", {"dataset": "clicks", "kind": "curation", "options": {}})
    assert message.startswith("The curation experiment learns to tell positive feedback from negative")


def test_flywheel_train_refuses_with_exit_2_and_the_same_sentence(
    store: Store, workspace_id: int, env: dict[str, str]
) -> None:
    _store(store, workspace_id, "three users", _log(users=3, items=12))
    check = check_training(
        store, workspace_id=workspace_id, dataset_name="three users", actor="alice", task="recommend"
    )
    store.engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", "train", "three users", "--task", "recommend", "-w", "Team A"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {check.message}"
    assert "Traceback" not in done.stderr
