"""Off-policy evaluation: IPS, SNIPS and DR against hand-computed values, and coverage of the logged truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo_production import PRODUCTION_SIGNALS, make_production_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.offpolicy import bootstrap_estimates, evaluate_policy, point_estimates

SIGNALS = SignalDictionary(events={k: SignalSpec(*v) for k, v in PRODUCTION_SIGNALS.items()})


def test_the_three_estimators_match_hand_computed_values() -> None:
    reward = np.array([1.0, 0.0, 1.0, 0.0])
    logging_p = np.array([0.5, 0.5, 0.25, 0.8])
    target_p = np.array([1.0, 0.0, 0.5, 0.4])  # weights 2, 0, 2, 0.5
    q_logged = np.array([0.6, 0.3, 0.5, 0.2])
    q_target = np.array([0.7, 0.4, 0.5, 0.3])
    est = point_estimates(reward, logging_p, target_p, q_logged, q_target)
    assert est.ips == pytest.approx((2 + 2) / 4)
    assert est.snips == pytest.approx(4 / 4.5)
    assert est.dr == pytest.approx((1.5 + 0.4 + 1.5 + 0.2) / 4)
    assert est.ess == pytest.approx(4.5**2 / 8.25) and est.max_weight == 2.0
    intervals = bootstrap_estimates(reward, logging_p, target_p, q_logged, q_target, n_bootstrap=200)
    assert all(low <= high for low, high in intervals.values())
    again = bootstrap_estimates(reward, logging_p, target_p, q_logged, q_target, n_bootstrap=200)
    assert intervals == again  # seeded


def test_propensities_outside_their_range_are_refused() -> None:
    ones = np.ones(2)
    with pytest.raises(DataValidationError, match=r"Logging propensities must lie in \(0, 1\]"):
        point_estimates(ones, np.array([0.5, 0.0]), ones, ones, ones)
    with pytest.raises(InsufficientDataError):
        point_estimates(np.array([]), np.array([]), np.array([]), np.array([]), np.array([]))


def _tiny_log() -> pd.DataFrame:
    rows = [  # a logs x with 0.6 and y with 0.4; b (the target) logs x with 0.8 and y with 0.2
        ("u1", "x", 0.6, "click", "a"),
        ("u2", "y", 0.4, "skip", "a"),
        ("u3", "x", 0.6, "skip", "a"),
        ("u4", "y", 0.4, "click", "a"),
        ("u5", "x", 0.8, "click", "b"),
        ("u6", "y", 0.2, "skip", "b"),
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "propensity", "event", "model_version"])
    frame["timestamp"] = pd.Timestamp("2026-01-01", tz="UTC")
    return frame


def test_a_logged_policy_is_evaluated_on_the_other_versions_traffic_by_hand() -> None:
    result = evaluate_policy(_tiny_log(), SIGNALS, policy="b", n_bootstrap=50)
    # weights: x 0.8/0.6, y 0.2/0.4; rewards on a's traffic 1, 0, 0, 1
    w = np.array([0.8 / 0.6, 0.5, 0.8 / 0.6, 0.5])
    r = np.array([1.0, 0.0, 0.0, 1.0])
    assert result.logged_on == ("a",) and result.context is None and result.events == 4 and result.users == 4
    assert result.estimate("ips").value == pytest.approx((w * r).mean())
    assert result.estimate("snips").value == pytest.approx((w * r).sum() / w.sum())
    # the reward model is 0.5 in both cells (2 clicks of 4, smoothed toward 0.5), so DR = 0.5 + mean(w(r - 0.5))
    assert result.estimate("dr").value == pytest.approx(0.5 + (w * (r - 0.5)).mean())
    assert result.ess == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert result.policy_rate == 0.5 and result.policy_events == 2 and result.low_ess
    assert "Low effective sample size" in result.warning


def test_bad_requests_say_what_is_missing() -> None:
    log = _tiny_log()
    with pytest.raises(DataValidationError, match=r"no 'propensity' column.*role"):
        evaluate_policy(log.drop(columns=["propensity"]), SIGNALS, policy="b")
    with pytest.raises(DataValidationError, match="Version 'c' served no event"):
        evaluate_policy(log, SIGNALS, policy="c")
    with pytest.raises(DataValidationError, match="not on its own"):
        evaluate_policy(log, SIGNALS, policy="b", on=["b"])
    with pytest.raises(DataValidationError, match="no column 'f_zone'"):
        evaluate_policy(log, SIGNALS, policy="b", context="f_zone")
    with pytest.raises(DataValidationError, match="'n_bootstrap' parameter of evaluate_policy"):
        evaluate_policy(log, SIGNALS, policy="b", n_bootstrap=3)
    bad = log.assign(propensity=[0.6, 0.4, 1.5, 0.4, 0.8, 0.2])
    with pytest.raises(DataValidationError, match=r"1 value\(s\) outside \(0, 1\] \(first: event 3, 1.5\)"):
        evaluate_policy(bad, SIGNALS, policy="b")
    with pytest.raises(InsufficientDataError, match="no other traffic"):
        evaluate_policy(log[log["model_version"] == "b"], SIGNALS, policy="b")


def test_intervals_cover_the_logged_truth_of_a_policy_that_ran() -> None:
    """Over 30 simulated logs, the 95% intervals of v2's value estimated on v1's traffic cover the exact
    value v2's policy has on that traffic (its users and segments) in most logs; v1's own rate does not."""
    covered = {"ips": 0, "snips": 0, "dr": 0}
    naive = 0
    runs = 30
    for seed in range(runs):
        demo = make_production_events(16_000, random_state=100 + seed)
        on = demo.events["model_version"].eq("ranker-v1").to_numpy()
        truth = demo.value_on("ranker-v2", on)
        result = evaluate_policy(
            demo.events, SIGNALS, policy="ranker-v2", on=["ranker-v1"], n_bootstrap=200, random_state=seed
        )
        assert result.context == "f_segment"  # found from the data: v2's propensities are constant within it
        for estimate in result.estimates:
            covered[estimate.estimator] += estimate.covers(truth)
        dr = result.estimate("dr")
        naive += dr.low <= result.logged_rate <= dr.high
    assert all(count >= 24 for count in covered.values()), covered
    assert naive <= 6, naive
