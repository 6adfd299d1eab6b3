"""Evidence behind a metric: DeLong intervals that cover at their stated rate, paired deltas, the minimum sample."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from flywheel_core.learning.evidence import auc_score, mean_score, not_enough, paired_auc_delta


def _binormal(rng: np.random.Generator, m: int, n: int, d: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.ones(m), np.zeros(n)]
    return y, np.r_[rng.normal(d, 1, m), rng.normal(0, 1, n)]


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.2
    p = np.round(rng.random(500), 1)  # heavy ties
    assert auc_score(y, p, "holdout").value == round(roc_auc_score(y, p), 4)


def test_auc_interval_covers_the_true_auc_at_its_stated_rate() -> None:
    rng = np.random.default_rng(7)
    d = 1.0
    true = stats.norm.cdf(d / np.sqrt(2))  # the binormal model's AUC
    covered = []
    for _ in range(400):
        y, p = _binormal(rng, 20, 300, d)
        score = auc_score(y, p, "holdout")
        assert score.low is not None and score.high is not None
        covered.append(score.low <= true <= score.high)
    assert 0.92 <= np.mean(covered) <= 0.98  # 95% stated; 400 logs put 2.5 standard errors at ±0.027


def test_one_positive_is_not_scored_and_says_so() -> None:
    y = np.r_[1, np.zeros(9_999)]
    score = auc_score(y, np.random.default_rng(0).random(10_000), "holdout")
    assert score.value is None and not score.scored
    assert score.reason == "not enough feedback to score (1 positive in the holdout; needs 10)"
    assert not_enough(np.r_[np.ones(50), np.zeros(3)], "next turn") == (
        "not enough feedback to score (3 negatives in the next turn; needs 10)"
    )
    assert not_enough(np.r_[np.ones(10), np.zeros(10)], "holdout") == ""


def test_paired_delta_finds_a_real_gain_and_not_a_null_one() -> None:
    rng = np.random.default_rng(3)
    y, base = _binormal(rng, 200, 2_000, 1.0)
    weak = base + rng.normal(0, 1.5, len(y))
    assert paired_auc_delta(y, weak, base).detectable  # the noisier model is measurably worse
    nulls = [
        paired_auc_delta(y, base + rng.normal(0, 0.7, len(y)), base + rng.normal(0, 0.7, len(y))).detectable
        for _ in range(200)
    ]
    assert 0.02 <= np.mean(nulls) <= 0.09  # two equally good models: a false alarm about 5% of the time


def test_mean_interval_widens_when_rows_cluster_by_user() -> None:
    rng = np.random.default_rng(5)
    users = np.repeat(np.arange(50), 40)
    losses = np.repeat(rng.normal(0.5, 0.2, 50), 40) + rng.normal(0, 0.01, 2_000)  # each user's rows move together
    naive, robust = mean_score(losses), mean_score(losses, users)
    assert naive.value == robust.value
    assert (robust.high - robust.low) > 4 * (naive.high - naive.low)


def test_delong_components_equal_their_definition_on_shuffled_rows_with_ties() -> None:
    """V10 of a positive is the share of negatives it outranks (ties count half); V01 of a negative the share
    of positives that outrank it; whatever order the rows come in (the fast algorithm sorts once)."""
    from flywheel_core.learning.evidence import _components

    rng = np.random.default_rng(3)
    for _ in range(200):
        k = int(rng.integers(3, 40))
        y = rng.random(k) < 0.4
        if y.all() or not y.any():
            continue
        p = np.round(rng.random((2, k)), int(rng.integers(1, 3)))  # ties within and across the classes
        auc, v10, v01 = _components(y, p)
        for r in range(2):
            x, z = p[r, y], p[r, ~y]
            psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
            assert np.allclose(v10[r], psi.mean(axis=1)) and np.allclose(v01[r], psi.mean(axis=0))
            assert np.isclose(auc[r], psi.mean()) and np.isclose(auc[r], roc_auc_score(y, p[r]))
