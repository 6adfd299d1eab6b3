"""Each demo archetype shows the effect it was built with, measured by the experiments."""

from __future__ import annotations

import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.experiments.api import run_experiment
from flywheel_core.experiments.runner import (
    capture_experiment,
    collapse_experiment,
    curation_experiment,
    network_experiment,
    poisoning_experiment,
    weighting_experiment,
)
from flywheel_core.storage.store import Store


def _dictionary(archetype: str) -> SignalDictionary:
    return SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS[archetype].items()})


def test_selective_capture_beats_random_at_equal_labels_on_the_fleet() -> None:
    result = capture_experiment(make_demo_events("fleet", 3_000), _dictionary("fleet"), label_budget=10)
    assert result.figures["advantage_auc"] > 0.003
    assert result.series["least sure"][-1] > result.series["random"][-1]
    assert "least sure" in result.sentence


def test_removing_a_cohort_hurts_others_on_music_and_not_on_support() -> None:
    music = network_experiment(make_demo_events("music", 4_000), _dictionary("music"))
    support = network_experiment(make_demo_events("support", 4_000), _dictionary("support"))
    assert music.figures["deletion_auc_cost"] > 0.015
    assert support.figures["deletion_auc_cost"] < 0.01
    assert music.figures["deletion_auc_cost"] > 2 * support.figures["deletion_auc_cost"]
    assert "network learning" in music.sentence and "individual" in support.sentence


def test_self_consumption_degrades_on_the_backward_loop() -> None:
    result = collapse_experiment(make_demo_events("backward", 3_000), _dictionary("backward"))
    real, replace = result.series["real labels"], result.series["replace"]
    assert replace[-1] < real[-1] - 0.01
    assert replace[-1] < replace[0]
    assert len(result.figures["diversity"]["replace"]) == 5


def test_curation_removes_the_music_bots_and_duplicates() -> None:
    result = curation_experiment(make_demo_events("music", 3_000), _dictionary("music"), n_turns=3)
    assert result.figures["rows_removed"] > 0
    assert len(result.series["kept"]) == len(result.series["removed"]) == 3


def test_weighting_scores_both_targets_on_the_strong_signal_and_refuses_without_one() -> None:
    result = weighting_experiment(make_demo_events("music", 3_000), _dictionary("music"), n_turns=3)
    assert set(result.series) == {"trained on clicks", "trained on strong signals"}
    assert result.figures["strong_rows"] > 0
    with pytest.raises(InsufficientDataError, match="strong positives"):
        weighting_experiment(make_demo_events("fleet", 1_000), _dictionary("fleet"))


def test_poisoning_hurts_and_curation_catches_the_cohort_on_the_fleet() -> None:
    result = poisoning_experiment(make_demo_events("fleet", 3_000), _dictionary("fleet"))
    auc_clean, auc_poisoned, auc_curated = result.series["holdout AUC"]
    assert auc_poisoned < auc_clean
    assert auc_curated > auc_poisoned
    assert result.figures["flagged_in_cohort"] >= 1
    with pytest.raises(DataValidationError, match=r"'flip_share' parameter of poisoning_experiment .*\(0, 1\]"):
        poisoning_experiment(make_demo_events("fleet", 1_000), _dictionary("fleet"), flip_share=0)


def test_run_experiment_records_the_result(store: Store, workspace_id: int) -> None:
    from flywheel_core.data.api import store_frame

    store_frame(
        store,
        workspace_id=workspace_id,
        frame=make_demo_events("support", 2_000),
        dataset="support",
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["support"].items()},
        source_name="support.parquet",
    )
    experiment = run_experiment(
        store, workspace_id=workspace_id, dataset_name="support", kind="curation", actor="alice"
    )
    listed = store.list_experiments(workspace_id=workspace_id)
    assert [e.id for e in listed] == [experiment.id] and listed[0].result["kind"] == "curation"
    with pytest.raises(DataValidationError, match="'kind' parameter of run_experiment"):
        run_experiment(store, workspace_id=workspace_id, dataset_name="support", kind="magic", actor="alice")
