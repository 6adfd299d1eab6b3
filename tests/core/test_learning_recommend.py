"""Recommendation versions, ranking metrics, drift, and real data from OTTO."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.learning.api import run_training
from flywheel_core.learning.drift import psi
from flywheel_core.learning.recommend import fit_recommender, score_ranking, train_recommend_versions
from flywheel_core.storage.store import Store
from tests.conftest import OTTO


def test_ranking_metrics_on_a_hand_made_case() -> None:
    # Item 2 is the most popular, then 0 and 1 tied (the lower code first): the top 2 is [2, 0].
    # User 0 wants item 2 (hit at rank 1), user 1 wants item 1 (a miss at k=2).
    fitted = fit_recommender(
        "popularity", np.array([0, 1, 1, 0]), np.array([2, 2, 1, 0]), np.ones(4), n_users=2, n_items=3
    )
    metrics = score_ranking(fitted, np.array([0, 1]), np.array([2, 1]), k=2)
    assert metrics["hit_rate@2"] == 0.5
    assert metrics["ndcg@2"] == pytest.approx(0.5)
    assert metrics["coverage"] == pytest.approx(2 / 3)


def test_collaborative_filtering_finds_taste_groups() -> None:
    # Two taste groups with disjoint items; popularity mixes them, CF keeps them apart.
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(40), 10)
    items = np.where(users < 20, rng.integers(0, 10, 400), rng.integers(10, 20, 400))
    fitted = fit_recommender("svd", users, items, np.ones(400), n_users=40, n_items=20, factors=4)
    test_users = np.arange(40)
    test_items = np.where(test_users < 20, 3, 15)
    cf = score_ranking(fitted, test_users, test_items, k=5)
    pop = score_ranking(
        fit_recommender("popularity", users, items, np.ones(400), n_users=40, n_items=20), test_users, test_items, k=5
    )
    assert cf["hit_rate@5"] > pop["hit_rate@5"]


def test_recommend_versions_are_deterministic() -> None:
    events = make_demo_events("music", 3_000)
    dictionary = SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
    first = train_recommend_versions(events, dictionary, n_turns=3)
    again = train_recommend_versions(events, dictionary, n_turns=3)
    assert [v.metrics for v in first.versions] == [v.metrics for v in again.versions]
    assert {"hit_rate@10", "ndcg@10", "coverage", "holdout_hit_rate@10"} <= set(first.versions[0].metrics)


def test_psi_is_zero_for_the_same_population_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5_000)
    assert psi(reference, rng.normal(0, 1, 5_000)) < 0.02
    assert psi(reference, rng.normal(1.5, 1, 5_000)) > 0.25


def _ingest_otto(store: Store, workspace_id: int, signals: dict[str, SignalSpec] | None) -> None:
    ingest_file(
        store,
        workspace_id=workspace_id,
        source=OTTO,
        dataset="otto",
        actor="alice",
        columns={"user": "session", "item": "aid", "timestamp": "ts_ms", "event": "type"},
        signals=signals,
    )


def test_otto_feedback_task_with_clicks_as_negatives(store: Store, workspace_id: int) -> None:
    # On OTTO every event is an implicit positive by default; the feedback question we ask is
    # "will this interaction be a cart or an order rather than a bare click?".
    _ingest_otto(store, workspace_id, {"clicks": SignalSpec("implicit", "negative", 1.0)})
    versions = run_training(store, workspace_id=workspace_id, dataset_name="otto", actor="alice", n_turns=3)
    assert len(versions) == 3
    assert versions[-1].metrics["holdout_rows"] > 50
    assert versions[-1].metrics["holdout_auc"] is None or 0.0 <= versions[-1].metrics["holdout_auc"] <= 1.0


def test_otto_recommendation_with_default_signals(store: Store, workspace_id: int) -> None:
    _ingest_otto(store, workspace_id, None)
    versions = run_training(
        store, workspace_id=workspace_id, dataset_name="otto", actor="alice", task="recommend", n_turns=2
    )
    assert [v.task for v in versions] == ["recommend", "recommend"]
    assert 0.0 <= versions[-1].metrics["holdout_hit_rate@10"] <= 1.0
    assert versions[-1].metrics["holdout_coverage"] > 0
