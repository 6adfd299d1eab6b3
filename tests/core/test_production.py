"""Production comparison by logged version: rates with user-clustered intervals, differences, sample ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo_production import PRODUCTION_SIGNALS, make_production_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning import api
from flywheel_core.learning.evidence import mean_score
from flywheel_core.learning.production import cluster_mean, compare_production, conclude, judge_production
from flywheel_core.storage.store import Store

SIGNALS = SignalDictionary(events={k: SignalSpec(*v) for k, v in PRODUCTION_SIGNALS.items()})


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(user, day, event, version) rows as an event frame."""
    frame = pd.DataFrame(rows, columns=["user", "day", "event", "model_version"])
    frame["timestamp"] = pd.to_datetime(frame.pop("day"), utc=True)
    return frame


def test_cluster_mean_from_sums_is_mean_score_on_the_rows() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 500)
    values = (rng.random(500) < 0.3).astype(float)
    rows = mean_score(values, users, decimals=6)
    sums = cluster_mean(np.bincount(users, weights=values), np.bincount(users))
    assert (sums.value, sums.low, sums.high) == (rows.value, rows.low, rows.high)


def test_conclusions_read_the_interval_against_the_material_difference() -> None:
    assert conclude(0.03, 0.07, 0.05, 0.02) == "effect"
    assert conclude(0.001, 0.019, 0.01, 0.02) == "no_effect"  # detectable, but within ±material
    assert conclude(-0.015, 0.012, -0.001, 0.02) == "no_effect"
    assert conclude(-0.01, 0.05, 0.02, 0.02) == "inconclusive"
    assert conclude(0.005, 0.03, 0.0175, 0.02) == "inconclusive"  # excludes 0, below material


def test_rates_counts_and_the_difference_on_a_hand_log() -> None:
    # a: users 1, 2 on day 1 (1 click of 4 events); b: users 3, 4 on day 3 (3 clicks of 4): sequential.
    log = _log(
        [
            ("u1", "2026-01-01", "click", "a"),
            ("u1", "2026-01-01", "skip", "a"),
            ("u2", "2026-01-01", "skip", "a"),
            ("u2", "2026-01-01", "skip", "a"),
            ("u3", "2026-01-03", "click", "b"),
            ("u3", "2026-01-03", "click", "b"),
            ("u4", "2026-01-03", "click", "b"),
            ("u4", "2026-01-03", "skip", "b"),
        ]
    )
    report = compare_production(log, SIGNALS)
    a, b = report.versions
    assert (a.version, a.events, a.users, a.positives, a.rate) == ("a", 4, 2, 1, 0.25)
    assert (b.version, b.positives, b.rate, b.positives_per_user) == ("b", 3, 0.75, 1.5)
    assert a.low < 0.25 < a.high and a.sessions is None
    (c,) = report.comparisons
    assert (c.a, c.b, c.basis, c.difference) == ("a", "b", "sequential", 0.5)
    assert c.sample_ratio is None and "confounded" in c.sentence
    # Cluster-robust variance by user: influences ±0.125 per user of each side → var 4·0.125²·4/3.
    se = np.sqrt(4 * 0.125**2 * 4 / 3)
    assert c.high - c.difference == pytest.approx(3.182446 * se, rel=1e-4)  # t with 3 df


def test_side_by_side_versions_are_compared_over_the_same_period_with_a_sample_ratio_check() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    user = rng.integers(0, 2_000, n)
    arm = np.where(user < 1_400, "a", "b")  # a 70/30 split where 50/50 was planned
    days = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 14, n), unit="D")
    frame = pd.DataFrame(
        {
            "user": user.astype(str),
            "timestamp": days,
            "event": np.where(rng.random(n) < 0.3, "click", "skip"),
            "model_version": arm,
        }
    )
    report = compare_production(frame, SIGNALS)
    (c,) = report.comparisons
    assert c.basis == "side_by_side" and c.sample_ratio is not None
    assert c.sample_ratio.mismatch and "Sample ratio mismatch" in c.sentence
    planned = compare_production(frame, SIGNALS, expected_split={"a": 0.7, "b": 0.3}).comparisons[0]
    assert planned.sample_ratio is not None and not planned.sample_ratio.mismatch
    assert c.conclusion == "no_effect"  # the same click rate in both arms


def test_the_demo_improvement_is_found_and_the_null_retrain_is_no_effect() -> None:
    demo = make_production_events(200_000)
    report = compare_production(demo.events, SIGNALS)
    assert [v.version for v in report.versions] == ["ranker-v1", "ranker-v2", "ranker-v3"]
    built, null = report.comparisons
    assert (built.a, built.b, built.basis, built.conclusion) == ("ranker-v1", "ranker-v2", "side_by_side", "effect")
    assert built.difference > 0.02 and not built.sample_ratio.mismatch  # type: ignore[union-attr]
    assert (null.a, null.b, null.conclusion) == ("ranker-v2", "ranker-v3", "no_effect")
    assert all(v.session_conversion is not None and v.sessions for v in report.versions)
    verdict = judge_production(report)
    assert verdict.verdict.value in ("compounding", "plateau", "insufficient_data") and len(verdict.x) == 3
    x, _, sd = report.series("first_served")
    assert x[0] == 0 and x[1] == pytest.approx(14, abs=0.1) and (sd > 0).all()


def test_a_log_without_model_versions_says_how_to_map_one(store: Store, workspace_id: int) -> None:
    from flywheel_core.data.api import store_frame

    frame = make_production_events(2_000).events.drop(columns=["model_version", "propensity"])
    store_frame(store, workspace_id=workspace_id, frame=frame, dataset="plain", actor="local")
    with pytest.raises(DataValidationError, match=r"do not say which model version served them.*model_version role"):
        api.production_comparison(store, workspace_id=workspace_id, dataset_name="plain", actor="local")
    with pytest.raises(DataValidationError, match="'material' parameter of production_comparison"):
        api.production_comparison(store, workspace_id=workspace_id, dataset_name="plain", actor="local", material=2.0)
    one = _log([("u1", "2026-01-01", "click", "a"), ("u2", "2026-01-02", "skip", "a")])
    with pytest.raises(InsufficientDataError, match="1 served version"):
        judge_production(compare_production(one, SIGNALS))


def test_the_stored_demo_keeps_versions_and_propensities(store: Store, workspace_id: int) -> None:
    info = api.store_production_demo(store, workspace_id=workspace_id, actor="local", n_events=5_000)
    events = store.read_events(workspace_id=workspace_id, name=info.name)
    assert {"model_version", "propensity", "f_segment", "session"} <= set(events.columns)
    report = api.production_comparison(store, workspace_id=workspace_id, dataset_name=info.name, actor="local")
    assert sum(v.events for v in report.versions) == 5_000
