"""The verdict rule on real learning curves it was not tuned on (bench/curve_eval, the holdout half).

The full figures are printed by `python bench/run.py curves`; this test holds the promise on every tenth case
so that a change to the rule that makes it worse than the one-line reference, or miscalibrated, fails here.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench" / "curve_eval"))
import evaluate


@pytest.fixture(scope="module")
def scores() -> dict[str, object]:
    cases = evaluate.load_cases("holdout")[::10]
    return {rule: evaluate.score(rule, cases) for rule in evaluate.RULES}


def test_the_rule_beats_both_references_on_held_out_real_curves(scores) -> None:
    ours = scores["flywheel judge_curve"]
    slope = scores["reference: last-third slope × 3"]
    power = scores["reference: power-law projection"]
    assert ours.n > 800
    assert ours.accuracy > slope.accuracy + 0.03 and ours.accuracy > power.accuracy + 0.03
    assert ours.coverage >= 0.95
    ours_c, slope_c = ours.per_class["compounding"][1], slope.per_class["compounding"][1]
    ours_p, slope_p = ours.per_class["plateau"][1], slope.per_class["plateau"][1]
    assert ours_c >= slope_c and ours_p > slope_p  # better on both main classes than the one-line rule


def test_stated_confidence_matches_how_often_the_verdict_was_right(scores) -> None:
    ours = scores["flywheel judge_curve"]
    assert ours.ece < 0.08 and ours.ece < scores["reference: last-third slope × 3"].ece
    table = ours.calibration.dropna()
    stated = table["stated"].to_numpy()
    right = table["right"].to_numpy()
    big = table["verdicts"].to_numpy() >= 30
    assert np.all(np.abs(stated - right)[big] < 0.15)
