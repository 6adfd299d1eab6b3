"""What a verdict means: the gain over a stated horizon against the material gain, in the metric's units.

Each test here pins one promise of the definition (README, "Compounding vs plateau"), and most of them a bug
the old relative rules had (named in the test).
"""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_core.curves.forecast import forecast_curve, x_for_target
from flywheel_core.curves.judge import Verdict, XKind, infer_bounds, infer_x_kind, judge_curve, judge_curves
from flywheel_core.curves.sources import judge_series_file, parse_bounds
from flywheel_core.exceptions import DataValidationError
from flywheel_core.simulate.flywheel import _run
from flywheel_core.simulate.scenarios import PRESETS

ROWS = 1_000 * 2.0 ** np.arange(10)  # ten doublings of training rows


def _log_linear(gain_per_three_doublings: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    per_doubling = gain_per_three_doublings / 3
    rng = np.random.default_rng(seed)
    return 0.70 + per_doubling * np.arange(len(ROWS)) + rng.normal(0, noise, len(ROWS))


def test_three_points_over_three_doublings_is_compounding_and_under_one_is_plateau() -> None:
    # The rule of thumb the defaults must honour, on a metric in [0, 1] (AUC): 2 points is material.
    more = judge_curve(ROWS, _log_linear(0.03, 0.001), y_name="auc", x_name="train_rows")
    less = judge_curve(ROWS, _log_linear(0.008, 0.001), y_name="auc", x_name="train_rows")
    assert more.verdict is Verdict.COMPOUNDING and more.material == pytest.approx(0.02)
    assert less.verdict is Verdict.PLATEAU
    assert more.horizon.x_to == pytest.approx(ROWS[-1] * 8)
    assert more.projected_gain == pytest.approx(0.03, abs=0.006)


def test_a_curve_that_keeps_gaining_from_a_tiny_start_is_not_a_plateau() -> None:
    # Old rule: 24 points gained from a tiny start, 61% of the fitted headroom spent and the next doubling adding
    # 6% of the gain so far read as "plateau", though the next three doublings add 4 points.
    y = 0.9 - 0.4 * (ROWS / 1e3) ** -0.15
    report = judge_curve(ROWS, y, y_name="accuracy", x_name="rows")
    assert report.verdict is Verdict.COMPOUNDING, report.reason
    assert report.projected_gain == pytest.approx(0.9 - 0.4 * 4096**-0.15 - y[-1], abs=0.015)


def test_reason_names_the_projected_gain_the_horizon_and_the_material_gain() -> None:
    report = judge_curve(ROWS, _log_linear(0.06, 0.002), y_name="auc", x_name="training rows")
    assert report.reason.startswith("The next three doublings of training rows (to 4.1M) are expected to add +")
    assert "points (90% band +" in report.reason and "2.0 points is material: compounding, " in report.reason
    body = report.to_json()
    assert body["horizon"]["kind"] == "size" and body["material_gain"] == pytest.approx(0.02)
    low, high = body["gain_band"]
    assert low <= body["projected_gain"] <= high


def test_a_falling_series_is_backward_not_a_flat_plateau() -> None:
    # Old: a series falling from 0.742 to 0.617 was "plateau: the metric has flattened".
    y = np.linspace(0.742, 0.617, 10) + np.random.default_rng(4).normal(0, 0.004, 10)
    report = judge_curve(np.arange(1, 11), y, y_name="auc", x_name="turn")
    assert report.verdict is Verdict.BACKWARD, report.reason
    assert report.projected_gain < -0.02


def test_an_immaterial_drop_is_not_backward() -> None:
    # Old: a drop of 0.00000024 was "backward at 3.7 standard errors".
    y = 0.8 - np.linspace(0, 2.4e-7, 12)
    report = judge_curve(np.arange(1, 13), y, y_name="auc", x_name="turn")
    assert report.verdict is Verdict.PLATEAU, report.reason


def test_bounded_metrics_stay_in_their_bounds() -> None:
    # Old: AUC forecast up to 2.5, bands below 0, "reaches AUC 1.075".
    y = np.array([0.80, 0.88, 0.93, 0.96, 0.975, 0.985, 0.99])
    report = judge_curve(ROWS[:7], y, y_name="auc")
    assert report.bounds == (0.0, 1.0)
    assert report.projected_gain <= 1.0 - y[-1] + 1e-9 and report.gain_high <= 1.0 - y[-1] + 1e-9
    forecast = forecast_curve(report, np.geomspace(ROWS[6], ROWS[6] * 1000, 8))
    assert forecast.high.max() <= 1.0 and forecast.low.min() >= 0.0 and forecast.y.max() <= 1.0
    hit = x_for_target(report, 1.075)
    assert not hit.reachable and hit.message == "Not reachable: this metric cannot exceed 1."
    with pytest.raises(DataValidationError, match=r"outside the metric's bounds \[0, 1\]"):
        judge_curve([1, 2, 3], [0.5, 0.7, 1.2], bounds=(0.0, 1.0))


def test_a_rising_series_ceiling_is_never_below_its_best_value() -> None:
    # Old: in 43% of fits the fitted ceiling lay below a value the series had already reached.
    y = np.array([0.60, 0.70, 0.74, 0.76, 0.77, 0.775, 0.776, 0.79])
    report = judge_curve(ROWS[:8], y, y_name="accuracy")
    assert report.asymptote is not None and report.asymptote >= y.max()


def test_a_flat_series_keeps_its_verdict_as_turns_are_added() -> None:
    # Old: the same flat AUC series flipped between "compounding" (5 turns) and "plateau" (12 turns).
    rng = np.random.default_rng(9)
    y = 0.72 + rng.normal(0, 0.002, 12)
    short = judge_curve(np.arange(1, 6), y[:5], y_name="auc", x_name="turn")
    long = judge_curve(np.arange(1, 13), y, y_name="auc", x_name="turn")
    assert short.verdict is long.verdict is Verdict.PLATEAU, (short.reason, long.reason)


def test_few_points_follow_the_same_definition_with_a_modest_confidence() -> None:
    sizes = [1_000, 2_000, 4_000, 8_000]
    stalled = judge_curve(sizes, [0.60, 0.70, 0.705, 0.706], y_name="auc")
    slowing = judge_curve(sizes, [0.60, 0.70, 0.75, 0.78], y_name="auc")
    falling = judge_curve([1, 2, 3, 4], [0.80, 0.74, 0.69, 0.63], y_name="auc", x_name="turn")
    wobbling = judge_curve([1, 2, 3, 4], [0.70, 0.72, 0.69, 0.71], y_name="auc", x_name="turn")
    assert stalled.rule == falling.rule == wobbling.rule == "few_points"
    assert slowing.verdict is Verdict.COMPOUNDING and falling.verdict is Verdict.BACKWARD
    assert wobbling.verdict is Verdict.PLATEAU and wobbling.confidence <= 0.6
    assert stalled.projected_gain < slowing.projected_gain / 2  # the stall is read, not just the first jump
    assert max(r.confidence for r in (stalled, slowing, falling, wobbling)) < 0.9  # four points know little


def test_point_intervals_that_swamp_the_trend_give_insufficient_data() -> None:
    y = [0.70, 0.71, 0.72, 0.73, 0.74]
    sure = judge_curve(ROWS[:5], y, y_name="auc", y_sd=[0.001] * 5)
    swamped = judge_curve(ROWS[:5], y, y_name="auc", y_sd=[0.15] * 5)
    assert sure.verdict is Verdict.COMPOUNDING
    assert swamped.verdict is Verdict.INSUFFICIENT_DATA and "not enough evidence" in swamped.reason
    assert swamped.gain_high - swamped.gain_low > sure.gain_high - sure.gain_low


def test_material_gain_and_bounds_can_be_given() -> None:
    y = _log_linear(0.03, 0.001)
    assert judge_curve(ROWS, y, y_name="auc", material=0.05).verdict is Verdict.PLATEAU
    users = judge_curve(np.arange(1, 9), 1e5 * 1.05 ** np.arange(8), y_name="weekly users", x_name="week")
    assert users.bounds is None and users.material == pytest.approx(0.1 * users.y[-2], rel=0.1)
    assert users.verdict is Verdict.COMPOUNDING
    assert parse_bounds("0,1") == (0.0, 1.0) and parse_bounds("none") is None and parse_bounds(None) == "infer"
    with pytest.raises(DataValidationError, match="two numbers"):
        parse_bounds("zero,one")
    with pytest.raises(DataValidationError, match=r"'material' parameter of judge_curve .*\(0, inf\)"):
        judge_curve(ROWS, y, material=0.0)


def test_names_tell_the_kind_of_x_and_the_bounds() -> None:
    assert infer_x_kind("train_rows", ROWS) is XKind.SIZE and infer_x_kind("week", np.arange(1.0, 9)) is XKind.TIME
    assert infer_x_kind("x", np.arange(1.0, 9)) is XKind.TIME and infer_x_kind("x", ROWS) is XKind.SIZE
    assert infer_bounds("holdout_auc", np.array([0.6, 0.7])) == (0.0, 1.0)
    assert infer_bounds("log_loss", np.array([0.6, 0.5])) is None
    assert infer_bounds("queries", np.array([3e8, 7e8])) is None


def test_judge_curves_batches_series_and_matches_one_by_one() -> None:
    rng = np.random.default_rng(2)
    series = [(ROWS, 0.9 - 0.3 * (ROWS / 1e3) ** -rng.uniform(0.05, 1.0) + rng.normal(0, 0.003, 10)) for _ in range(40)]
    series.append((ROWS[:2], np.array([0.5, 0.6])))
    batch = judge_curves(series, y_name="auc")
    for (x, y), got in zip(series[:-1], batch[:-1], strict=True):
        one = judge_curve(x, y, y_name="auc")
        assert not isinstance(got, Exception)
        assert got.verdict is one.verdict and got.confidence == pytest.approx(one.confidence)
    assert isinstance(batch[-1], Exception) and "at least 3 points" in str(batch[-1])


def test_long_format_file_is_judged_series_by_series() -> None:
    lines = ["model,train_rows,auc"]
    for k, rows in enumerate(ROWS[:6]):
        lines += [f"grows,{rows:.0f},{0.60 + 0.02 * k:.3f}", f"flat,{rows:.0f},{0.80 + 0.0005 * (k % 2):.4f}"]
    lines.append("lonely,1000,0.5")
    verdicts = {v.name: v for v in judge_series_file("\n".join(lines).encode(), by="model", x_column="train_rows",
                                                      y_column="auc")}  # fmt: skip
    assert verdicts["grows"].report is not None and verdicts["grows"].report.verdict is Verdict.COMPOUNDING
    assert verdicts["flat"].report is not None and verdicts["flat"].report.verdict is Verdict.PLATEAU
    assert verdicts["lonely"].report is None and "at least 3 points" in (verdicts["lonely"].problem or "")
    assert verdicts["grows"].to_json()["series"] == "grows" and verdicts["grows"].n_points == 6
    with pytest.raises(DataValidationError, match="no column 'nope'"):
        judge_series_file(b"a,b,c\n1,2,3\n", by="nope", x_column="b", y_column="c")


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_verdict_agrees_with_what_its_own_longer_run_did(name: str) -> None:
    """Judge the first 520 weeks, then run four times as long: the next 520 weeks must bear the verdict out."""
    preset = PRESETS[name]
    quality = _run(preset.params, weeks=2080, runs=200, random_state=1)["product_quality"][1]
    report = judge_curve(np.arange(1.0, 521), quality[:520], bounds=(0.0, 1.0), x_kind="time")
    gain = float(quality[1039] - quality[519])
    came = "compounding" if gain >= 0.02 else "backward" if gain <= -0.02 else "plateau"
    if name == "model-collapse":  # collapsed to nothing: the series' fall is the verdict, nothing is left to lose
        came = "backward" if quality[519] < 0.5 * quality[:52].max() else came
    assert report.verdict == preset.expected == came, report.reason


def test_velocity_changes_the_trajectory_not_only_the_level() -> None:
    # Old: the bank preset gained more in its next doubling than Netflix (a stale model only shifted the level).
    netflix = _run(PRESETS["netflix-velocity"].params, weeks=1040, runs=200, random_state=1)
    bank = _run(PRESETS["bank-velocity"].params, weeks=1040, runs=200, random_state=1)
    gain = {
        k: float(b["product_quality"][1][1039] - b["product_quality"][1][519]) for k, b in (("n", netflix), ("b", bank))
    }
    users = {k: float(b["users"][1][1039] / b["users"][1][519]) for k, b in (("n", netflix), ("b", bank))}
    assert gain["n"] > 0.02 > gain["b"]
    assert users["n"] > 2 * users["b"]


def test_a_long_series_is_binned_before_fitting_and_a_huge_one_refused() -> None:
    from flywheel_core.curves import judge

    rng = np.random.default_rng(0)
    x = np.arange(1.0, 1_000_001)  # a million points: binned to MAX_POINTS, judged in linear memory
    report = judge_curve(x, 0.8 - 0.3 * x**-0.3 + rng.normal(0, 0.01, len(x)), x_kind="size", y_name="auc")
    assert len(report.x) == judge.MAX_POINTS and report.verdict == "plateau"
    assert f"Judged on {judge.MAX_POINTS:,} bins of the 1,000,000 points." in report.reason
    short = np.arange(1.0, 11)
    assert len(judge_curve(short, 0.5 + 0.01 * np.log(short)).x) == 10  # short series are fitted as they are
    with pytest.raises(DataValidationError, match=r"at most 10,000,000 points.*Aggregate it first"):
        judge._validate(np.zeros(judge.MAX_RAW_POINTS + 1), np.zeros(judge.MAX_RAW_POINTS + 1))


def test_binning_keeps_each_bins_mean_and_the_error_of_that_mean() -> None:
    from flywheel_core.curves.judge import bin_series

    x = np.arange(8.0)
    y = np.array([1.0, 3.0, 5.0, 7.0, 2.0, 2.0, 2.0, 2.0])
    bx, by, sd = bin_series(x, y, None, bins=2)
    assert bx.tolist() == [1.5, 5.5] and by.tolist() == [4.0, 2.0]
    assert sd[1] == 0.0 and sd[0] == pytest.approx(np.std([1, 3, 5, 7], ddof=1) / 2)
