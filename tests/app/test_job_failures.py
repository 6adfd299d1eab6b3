"""Train & compare: failures where you clicked. A run that cannot work is refused at once under its button,
a run that failed shows its whole reason in the tab it was started from, a finished training opens its
versions in the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.config import load_settings
from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.storage.store import Store
from tests.app.conftest import shown

PAGE = "pages/train_compare.py"
SIGNALS = {"click": SignalSpec("implicit", "positive", 1.0), "skip": SignalSpec("implicit", "negative", 1.0)}
TRAIN, REGISTRY, EXPERIMENTS = 0, 1, 2  # the page's tabs


def _log(positive_share: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 400
    return pd.DataFrame(
        {
            "user": rng.choice([f"u{i}" for i in range(40)], n),
            "item": rng.choice([f"i{i}" for i in range(12)], n),
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.choice(86_400 * 30, n, replace=False)), unit="s"),
            "event": np.where(rng.random(n) < positive_share, "click", "skip"),
        }
    )


@pytest.fixture
def team(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Store:
    """Workspace 'Team A' with dataset 'fine' (clicks and skips); jobs run inline, as the worker would."""
    monkeypatch.setenv("FLYWHEEL_JOBS_INLINE", "1")
    store = Store(load_settings(app_env))
    workspace = store.create_workspace(name="Team A", actor="local")
    assert workspace.id is not None
    store_frame(
        store, workspace_id=workspace.id, frame=_log(), dataset="fine", actor="local", signals=SIGNALS,
        source_name="fine.parquet",
    )  # fmt: skip
    return store


def _workspace_id(store: Store) -> int:
    workspace_id = store.get_workspace(name="Team A").id
    assert workspace_id is not None
    return workspace_id


def _errors(at, tab: int) -> list[str]:
    return [shown(e.value) for e in at.tabs[tab].error]


def _click(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception


def test_a_training_that_cannot_work_is_refused_at_once_under_its_button(make_app, team: Store) -> None:
    """Before: the job was queued and failed, its reason cut off in a grid cell."""
    store_frame(
        team, workspace_id=_workspace_id(team), frame=_log(positive_share=1.0), dataset="clicks", actor="local",
        signals=SIGNALS, source_name="clicks.parquet",
    )  # fmt: skip
    at = make_app(PAGE, workspace="Team A")
    at.selectbox(key="train_compare.dataset").set_value("clicks").run()
    _click(at, "Train versions")
    errors = _errors(at, TRAIN)
    assert len(errors) == 1
    assert "every one of the 400 feedback events of 'clicks' is positive ('click')" in errors[0]
    assert "Mark some events negative" in errors[0]
    assert team.list_jobs(workspace_id=_workspace_id(team)) == []  # nothing was queued
    assert _errors(at, EXPERIMENTS) == []


def test_an_experiment_that_cannot_work_is_refused_on_the_experiments_tab(make_app, team: Store) -> None:
    at = make_app(PAGE, workspace="Team A")
    at.selectbox(key="train_compare.experiment").set_value("weighting").run()
    at.button(key="train_compare.run_experiment").click().run()
    assert not at.exception, at.exception
    errors = _errors(at, EXPERIMENTS)
    assert len(errors) == 1 and "positives of 'fine' are strong, so there is nothing to compare" in errors[0]
    assert _errors(at, TRAIN) == []
    assert team.list_jobs(workspace_id=_workspace_id(team)) == []


LONG_REASON = (
    "The events file of dataset 'fine' is missing from the data folder (events/ab/cdef.parquet). Restore it "
    "from a backup or import the file again. " * 3
).strip()


def test_a_failed_run_shows_its_whole_reason_in_the_tab_it_was_started_from(make_app, team: Store) -> None:
    """Before: only the Recent runs grid cell, cut off ('failed · 2% · Feedback predictio…'), and nothing on
    the Experiments tab."""
    workspace_id = _workspace_id(team)
    training = team.create_job(workspace_id=workspace_id, kind="train", params={"dataset": "fine"}, actor="local")
    team.update_job(workspace_id=workspace_id, job_id=training.id, status="failed", error=LONG_REASON, message="Failed")
    experiment = team.create_job(
        workspace_id=workspace_id, kind="experiment", params={"dataset": "fine", "kind": "capture"}, actor="local"
    )
    reason = "The capture experiment could not score any repeat: every half of the users had one polarity only."
    team.update_job(workspace_id=workspace_id, job_id=experiment.id, status="failed", error=reason, message="Failed")
    at = make_app(PAGE, workspace="Team A")
    assert not at.exception, at.exception
    train_errors = _errors(at, TRAIN)
    assert len(train_errors) == 1
    assert train_errors[0].startswith(f"Run {training.id} (training on 'fine', started ")
    assert train_errors[0].endswith(f"by local) failed: {LONG_REASON}")  # whole, not cut
    experiment_errors = _errors(at, EXPERIMENTS)
    assert len(experiment_errors) == 1
    assert experiment_errors[0].startswith(f"Run {experiment.id} (capture experiment on 'fine'")
    assert experiment_errors[0].endswith(reason)
    # under the runs table, every failure is written out whole too
    written = [shown(m.value) for m in at.tabs[TRAIN].markdown]
    assert any(LONG_REASON in m for m in written) and any(reason in m for m in written)


def test_a_finished_training_opens_the_versions_it_made_in_the_registry(make_app, team: Store) -> None:
    at = make_app(PAGE, workspace="Team A")
    at.slider(key="train_compare.turns").set_value(2)
    _click(at, "Train versions")  # feedback: versions 1-2
    at.segmented_control(key="train_compare.task").set_value("recommend").run()
    at.slider(key="train_compare.turns").set_value(3)
    _click(at, "Train versions")  # recommend: versions 3-5
    at.run()
    assert any("made versions 3–5" in shown(s.value) for s in at.tabs[TRAIN].success)
    assert at.radio(key="train_compare.shown_task").value == "feedback"  # the registry shows the first task
    _click(at, "Open versions 3–5 in the registry")
    assert at.radio(key="train_compare.shown_task").value == "recommend"
    assert at.multiselect(key="train_compare.compare").value == [3, 4, 5]
    assert any("Versions 3–5 are picked" in c.value for c in at.tabs[TRAIN].caption)
    assert at.session_state["train_compare.tab"] == "Registry & compare"
