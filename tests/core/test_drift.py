"""Drift between turns: mapped features and the target only, bins with enough rows, alarms beyond noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.learning.drift import merge_bins, psi, psi_test, recommend_drift, turn_drift
from flywheel_core.learning.recommend import train_recommend_versions
from flywheel_core.learning.turns import build_feedback_task, cut_turns, train_feedback_versions

SIGNALS = SignalDictionary(
    events={"click": SignalSpec("implicit", "positive", 1.0), "skip": SignalSpec("implicit", "negative", 1.0)}
)


def _uniform_log(n: int = 12_000, *, users: int = 400, items: int = 60, seed: int = 3) -> pd.DataFrame:
    """Every column drawn independently and uniformly over time: a stationary log."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "user": rng.integers(0, users, n).astype(str),
            "item": rng.integers(0, items, n).astype(str),
            "timestamp": start + pd.to_timedelta(np.sort(rng.uniform(0, 60 * 86_400, n)), unit="s"),
            "event": np.where(rng.random(n) < 0.4, "click", "skip"),
            "f_amount": rng.normal(0.0, 1.0, n),
            "f_channel": rng.choice(["web", "app", "mail"], n),
        }
    )


def _turn_starts(events: pd.DataFrame, n_turns: int) -> tuple[int, ...]:
    time_ns = events["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    return cut_turns(time_ns, n_turns=n_turns).edges_ns


def _from_turn(events: pd.DataFrame, turn: int, n_turns: int) -> np.ndarray:
    """Rows of turn ``turn`` and after (the holdout included)."""
    start = pd.Timestamp(_turn_starts(events, n_turns)[turn - 2], tz="UTC")
    return (events["timestamp"] >= start).to_numpy()


def test_merge_bins_joins_neighbours_until_each_expects_enough_rows() -> None:
    ref, cur = merge_bins(np.array([50, 5, 5, 50, 10]), np.array([40, 10, 10, 50, 10]), min_rows=30)
    assert ref.tolist() == [50, 70] and cur.tolist() == [40, 80]
    ref, cur = merge_bins(np.array([20, 20]), np.array([1, 1]), min_rows=30)  # two rows now: one bin
    assert len(ref) == 1


def test_small_samples_do_not_alarm_though_their_raw_psi_is_large() -> None:
    rng = np.random.default_rng(2)
    reference, current = rng.normal(0, 1, 300), rng.normal(0, 1, 60)  # one population
    assert psi(reference, current) > 0.25  # the raw index reads this noise as a major shift
    X, turn = np.concatenate([reference, current])[:, None], np.repeat([1, 2], [300, 60])
    drift = turn_drift(X, rng.integers(0, 2, 360), turn, 2, ["f_x"])
    assert drift["shift"] == "none" and "f_x" not in drift["untested"]  # two bins of 30 rows, within the noise
    assert drift["features"]["f_x"] < drift["max_feature_noise_psi"]
    tiny = turn_drift(X[:240], rng.integers(0, 2, 240), np.repeat([1, 2], [200, 40]), 2, ["f_x"])
    assert tiny["shift"] == "none" and tiny["features"]["f_x"] is None and tiny["untested"] == ["f_x", "target"]


def test_a_clear_shift_alarms_and_its_size_is_read_after_the_noise() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1, 20_000)
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])

    def counts(values: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(edges, values, side="right"), minlength=10)

    assert psi_test(counts(reference), counts(rng.normal(0, 1, 5_000))).shift == "none"
    assert psi_test(counts(reference), counts(rng.normal(0.4, 1, 5_000))).shift == "moderate"
    assert psi_test(counts(reference), counts(rng.normal(1.5, 1, 5_000))).shift == "major"


def test_rows_of_one_user_count_as_fewer_independent_rows() -> None:
    # 40 users, each with 50 rows of their own fixed value: 2,000 rows, but only 40 draws of the population
    rng = np.random.default_rng(2)
    users = np.repeat(np.arange(40), 50)
    X = np.repeat(rng.normal(0, 1, 40), 50)[:, None]
    turn = np.where(users < 20, 1, 2)
    y = rng.integers(0, 2, len(users))
    independent = turn_drift(X, y, turn, 2, ["f_x"])
    clustered = turn_drift(X, y, turn, 2, ["f_x"], groups=users)
    assert independent["features"]["f_x"] > 0.25 and independent["shift"] != "none"  # a false alarm
    assert clustered["features"]["f_x"] is None and clustered["shift"] == "none"  # 20 draws a side: no test


def test_a_stationary_log_has_no_drift_on_any_turn_though_history_features_spread() -> None:
    events = _uniform_log()
    result = train_feedback_versions(events, SIGNALS, n_turns=5, n_jobs=1)
    drifts = [v.drift for v in result.versions[1:]]
    assert [d["shift"] for d in drifts] == ["none"] * 4
    assert set(drifts[0]["features"]) == {"f_amount", "f_channel"}  # the one-hot levels as one distribution
    assert [d["rows_before"] for d in drifts] == sorted(d["rows_before"] for d in drifts)
    assert drifts[0]["rows_before"] > 1_000 and all(d["rows_turn"] > 1_000 for d in drifts)
    # what the old drift alarmed on: a history feature spreads as its counts grow, by construction
    task = build_feedback_task(events, SIGNALS)
    turn = cut_turns(task.time_ns, n_turns=5).turn_of(task.time_ns)
    column = task.feature_names.index("item_positive_rate_before")
    assert psi(task.X[turn < 5, column], task.X[turn == 5, column]) > 0.25


def test_a_mapped_feature_that_moves_at_turn_3_is_a_major_shift_there() -> None:
    events = _uniform_log()
    later = _from_turn(events, 3, 5)
    events.loc[later, "f_amount"] = events.loc[later, "f_amount"] + 1.5
    result = train_feedback_versions(events, SIGNALS, n_turns=5, n_jobs=1)
    drift = {v.turn: v.drift for v in result.versions}
    assert drift[2]["shift"] == "none"
    assert drift[3]["shift"] == "major" and drift[3]["shifted"] == {"f_amount": "major"}
    assert drift[3]["max_feature"] == "f_amount" and drift[3]["max_feature_psi"] > drift[3]["max_feature_noise_psi"]


def test_a_target_rate_that_moves_is_a_shift() -> None:
    events = _uniform_log()
    later = _from_turn(events, 3, 5)
    rng = np.random.default_rng(5)
    events.loc[later, "event"] = np.where(rng.random(int(later.sum())) < 0.8, "click", "skip")
    result = train_feedback_versions(events, SIGNALS, n_turns=5, n_jobs=1)
    assert result.versions[2].drift["shifted"].get("target") in ("moderate", "major")
    assert result.versions[1].drift["shift"] == "none"


@pytest.mark.parametrize("model", ["popularity", "svd"])
def test_recommend_drift_is_none_on_a_stationary_log(model: str) -> None:
    result = train_recommend_versions(_uniform_log(), SIGNALS, n_turns=5, model=model)
    drifts = [v.drift for v in result.versions]
    assert drifts[0] == {}
    assert [d["shift"] for d in drifts[1:]] == ["none"] * 4
    assert set(drifts[1]["features"]) == {"items"} and drifts[1]["target_psi"] is not None


def test_recommend_drift_sees_a_new_catalogue_from_turn_3() -> None:
    events = _uniform_log(items=6)  # items common enough to be compared one by one
    later = _from_turn(events, 3, 5)
    events.loc[later, "item"] = "new-" + events.loc[later, "item"]
    result = train_recommend_versions(events, SIGNALS, n_turns=5, model="popularity")
    assert result.versions[1].drift["shift"] == "none"
    assert result.versions[2].drift["shifted"] == {"items": "major"}


def test_recommend_drift_of_the_first_turn_is_empty() -> None:
    user = np.array([0, 1, 0, 1])
    assert recommend_drift(user, user, np.array([1, 1, 1, 1]), 1, positive=np.ones(4, dtype=bool)) == {}
