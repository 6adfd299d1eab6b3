"""Recommendation versions, ranking metrics, drift, and real data from OTTO."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.api import ingest_file
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.api import run_training
from flywheel_core.learning.drift import psi
from flywheel_core.learning.recommend import (
    fit_recommender,
    rank_items,
    score_ranking,
    seen_items,
    train_recommend_versions,
)
from flywheel_core.storage.store import Store
from tests.conftest import OTTO


def test_ranking_metrics_on_a_hand_made_case() -> None:
    # Item 2 is the most popular, then 0 and 1 tied (the lower code first): the top 2 is [2, 0].
    # User 0 wants item 2 (hit at rank 1), user 1 wants item 1 (a miss at k=2).
    fitted = fit_recommender(
        "popularity", np.array([0, 1, 1, 0]), np.array([2, 2, 1, 0]), np.ones(4), n_users=2, n_items=3
    )
    metrics = score_ranking(fitted, np.array([0, 1]), np.array([2, 1]), k=2, min_users=1)
    assert metrics["hit_rate@2"] == 0.5
    assert metrics["ndcg@2"] == pytest.approx(0.5)
    assert metrics["catalog_coverage"] == pytest.approx(2 / 3, abs=1e-4)  # items 2 and 0 of the 3 met
    assert score_ranking(fitted, np.array([0, 1]), np.array([2, 1]), k=2)["hit_rate@2"] is None  # 2 users < 10


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
    assert cf["users"] == pop["users"] == 40
    assert cf["hit_rate@5"] > pop["hit_rate@5"]


def test_recommend_versions_are_deterministic() -> None:
    events = make_demo_events("music", 3_000)
    dictionary = SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
    first = train_recommend_versions(events, dictionary, n_turns=3)
    again = train_recommend_versions(events, dictionary, n_turns=3)
    assert [v.metrics for v in first.versions] == [v.metrics for v in again.versions]
    assert {"hit_rate@10", "ndcg@10", "catalog_coverage", "holdout_hit_rate@10"} <= set(first.versions[0].metrics)
    assert [v.drift for v in first.versions] == [v.drift for v in again.versions]


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
    assert 0 < versions[-1].metrics["holdout_catalog_coverage"] <= 1


def _log(n: int, *, users: int, items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user": rng.integers(0, users, n).astype(str),
            "item": rng.integers(0, items, n).astype(str),
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 600, unit="s"),
            "event": np.where(rng.random(n) < 0.7, "buy", "view"),
        }
    )


BUYS = SignalDictionary(events={"buy": SignalSpec("implicit", "positive", 1.0)})


def test_coverage_is_a_share_of_the_items_the_version_has_met() -> None:
    # 40 items in the log, 3 met in training: recommending unmet items once made coverage 10/3
    users = np.repeat(np.arange(20), 3)
    items = np.tile([0, 1, 2], 20)
    fitted = fit_recommender("svd", users, items, np.ones(60), n_users=30, n_items=40, factors=2)
    top = rank_items(fitted, np.arange(30), 10)
    assert top.shape == (30, 3) and set(top.ravel()) <= {0, 1, 2}
    metrics = score_ranking(fitted, np.arange(30), np.arange(30) % 40, k=10)
    assert 0 < metrics["catalog_coverage"] <= 1


def test_seen_items_are_not_recommended_and_a_short_list_is_padded() -> None:
    # popularity: item 0 (3 users), 1 (2), 2 (1); user 0 has had 0 and 1, user 1 has had 0
    users, items = np.array([0, 0, 1, 2, 3, 3]), np.array([0, 1, 0, 0, 1, 2])
    fitted = fit_recommender("popularity", users, items, np.ones(6), n_users=5, n_items=3)
    seen = seen_items(users, items, n_users=5, n_items=3)
    assert rank_items(fitted, np.array([0, 1, 4]), 2).tolist() == [[0, 1], [0, 1], [0, 1]]
    assert rank_items(fitted, np.array([0, 1, 4]), 2, seen=seen).tolist() == [[2, -1], [1, 2], [0, 1]]
    # the factorisation excludes them too
    rng = np.random.default_rng(1)
    u = np.repeat(np.arange(40), 10)
    i = np.where(u < 20, rng.integers(0, 10, 400), rng.integers(10, 20, 400))
    svd = fit_recommender("svd", u, i, np.ones(400), n_users=40, n_items=20, factors=4)
    had = seen_items(u, i, n_users=40, n_items=20)
    top = rank_items(svd, np.arange(40), 5, seen=had)
    assert not any(had[user, item] for user in range(40) for item in top[user] if item >= 0)


def test_excluding_seen_items_scores_only_what_is_new_to_each_user() -> None:
    events = _log(6_000, users=60, items=30)
    kept = train_recommend_versions(events, BUYS, n_turns=3, model="popularity", exclude_seen=True)
    repeats = train_recommend_versions(events, BUYS, n_turns=3, model="popularity", exclude_seen=False)
    for a, b in zip(kept.versions, repeats.versions, strict=True):
        assert a.evaluation["counts"]["holdout"]["positives"] < b.evaluation["counts"]["holdout"]["positives"]
        assert a.evaluation["counts"]["holdout"]["rows"] == b.evaluation["counts"]["holdout"]["rows"]
    assert kept.params["exclude_seen"] is True and repeats.params["exclude_seen"] is False


def test_every_scored_metric_carries_its_interval_and_its_window_counts() -> None:
    events = make_demo_events("music", 3_000)
    dictionary = SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
    result = train_recommend_versions(events, dictionary, n_turns=3)
    for v in result.versions:
        evaluation = v.evaluation
        assert set(evaluation["counts"]) == {"next_turn", "holdout"}
        for window, prefix in (("next_turn", ""), ("holdout", "holdout_")):
            counts = evaluation["counts"][window]
            assert counts["rows"] >= counts["positives"] >= counts["users"] == v.metrics[f"{prefix}users"]
        for name in ("hit_rate@10", "ndcg@10", "holdout_hit_rate@10", "holdout_ndcg@10"):
            value = v.metrics[name]
            if value is None:
                assert "needs 10" in evaluation["unscored"][name]
            else:
                low, high = evaluation["intervals"][name]
                assert 0 <= low <= value <= high <= 1 and high - low > 0
        assert 0 <= (v.metrics["holdout_catalog_coverage"] or 0) <= 1


def test_a_window_with_fewer_than_10_users_is_not_scored_and_says_why() -> None:
    result = train_recommend_versions(_log(600, users=8, items=30), BUYS, n_turns=2)
    last = result.versions[-1]
    assert last.metrics["holdout_hit_rate@10"] is None and last.metrics["holdout_catalog_coverage"] is None
    reason = last.evaluation["unscored"]["holdout_hit_rate@10"]
    assert re.fullmatch(
        r"not enough feedback to score \(\d users with a positive on an item new to them in the holdout; needs 10\)",
        reason,
    )
    assert "holdout_hit_rate@10" not in last.evaluation["intervals"]


def test_a_log_with_one_item_is_refused_up_front() -> None:
    events = _log(200, users=20, items=1)
    with pytest.raises(InsufficientDataError, match=r"at least 2 distinct items.*all with one item \('0'\)"):
        train_recommend_versions(events, BUYS)
    with pytest.raises(InsufficientDataError, match="at least 2 items"):
        fit_recommender("svd", np.zeros(5, dtype=int), np.zeros(5, dtype=int), np.ones(5), n_users=1, n_items=1)


def test_exclude_seen_must_be_a_bool() -> None:
    with pytest.raises(
        DataValidationError, match=r"^The 'exclude_seen' parameter of train_recommend_versions must be a bool\."
    ):
        train_recommend_versions(_log(200, users=20, items=5), BUYS, exclude_seen="yes")  # type: ignore[arg-type]
