"""Curve fitting and verdicts: shapes at several noise levels, the seed's figures, errors, forecasts, targets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flywheel_core.curves.fits import fit_model
from flywheel_core.curves.forecast import forecast_curve, x_for_target
from flywheel_core.curves.judge import VERDICTS, CurveReport, judge_curve
from flywheel_core.curves.sources import judge_model_versions, metric_is_lower_better, read_series, version_metrics
from flywheel_core.exceptions import DataValidationError, FlywheelError, InsufficientDataError

ROWS = np.geomspace(1_000, 1_000_000, 14)
WEEKS = np.arange(1.0, 41.0)

SHAPES = {
    # name: (x, clean y, expected verdict)
    "linear growth": (WEEKS, 0.2 + 0.01 * WEEKS, "compounding"),
    "exponential growth": (WEEKS, 0.05 * np.exp(0.06 * WEEKS), "compounding"),
    "power law, far ceiling": (ROWS, 0.95 - 0.6 * (ROWS / 1e3) ** -0.1, "compounding"),
    "log-linear": (ROWS, 0.5 + 0.02 * np.log(ROWS / 1e3), "compounding"),
    "power law, ceiling reached": (ROWS, 0.80 - 0.3 * (ROWS / 1e3) ** -0.8, "plateau"),
    "saturating exponential": (WEEKS, 0.9 - 0.5 * np.exp(-WEEKS / 6), "plateau"),
    "logistic, top of the S": (WEEKS, 0.3 + 0.5 / (1 + np.exp(-(WEEKS - 12) / 3)), "plateau"),
    "flat": (WEEKS, np.full(40, 0.7), "plateau"),
    "rise then fall": (WEEKS, 0.5 + 0.3 * np.minimum(WEEKS, 25) / 25 - 0.02 * np.maximum(WEEKS - 25, 0), "backward"),
    "steady decline": (WEEKS, 0.9 - 0.01 * WEEKS, "backward"),
}


@pytest.mark.parametrize("noise", [0.0, 0.002, 0.01])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_judge_curve_gives_each_shape_its_verdict(shape: str, noise: float) -> None:
    x, clean, expected = SHAPES[shape]
    y = clean + np.random.default_rng(7).normal(0, noise, len(x))
    report = judge_curve(x, y)
    assert report.verdict == expected, report.reason
    assert 0.0 < report.confidence <= 1.0
    assert report.rule == "aicc"


def test_judge_curve_lower_is_better_flips_the_direction() -> None:
    loss = 0.3 + 0.4 * (ROWS / 1e3) ** -0.8  # falling loss that has levelled off
    report = judge_curve(ROWS, loss, higher_is_better=False)
    assert report.verdict == "plateau"
    assert report.asymptote == pytest.approx(0.3, abs=0.01)
    assert report.headroom is not None and report.headroom >= 0
    assert judge_curve(WEEKS, 0.3 + 0.01 * WEEKS, higher_is_better=False).verdict == "backward"


def test_judge_curve_perplexity_queries_are_growth_not_a_plateau() -> None:
    queries = [312e6, 780e6, 1.4e9]  # May 2024, May 2025, June 2025
    by_month = judge_curve([0, 12, 13], queries)
    by_step = judge_curve([1, 2, 3], queries)
    for report in (by_month, by_step):
        assert report.verdict == "compounding", report.reason
        assert report.rule == "few_points" and report.confidence < 0.9  # three points: it says how little it knows
        assert report.bounds is None and report.material == pytest.approx(0.1 * 1.4e9, rel=0.5)


def test_judge_curve_gaussian_refitted_on_its_own_samples_spins_backward() -> None:
    rng = np.random.default_rng(3)
    chains, sample, generations = 200, 10, 60
    mu, sd = np.zeros(chains), np.ones(chains)
    variance = []
    for _ in range(generations):
        draws = rng.normal(mu[:, None], sd[:, None], (chains, sample))
        mu, sd = draws.mean(axis=1), draws.std(axis=1)  # refit on its own samples
        variance.append(float(np.mean(sd**2)))
    report = judge_curve(np.arange(1, generations + 1), variance)
    assert variance[-1] < 0.05 * variance[0]
    assert report.verdict == "backward", report.reason


def test_judge_curve_aicc_prefers_the_true_model_with_little_noise() -> None:
    rng = np.random.default_rng(1)
    x = np.linspace(1, 30, 30)
    logistic = 0.2 + 0.6 / (1 + np.exp(-(x - 15) / 2.5)) + rng.normal(0, 0.003, 30)
    straight = 1.0 + 0.5 * x + rng.normal(0, 0.05, 30)
    assert judge_curve(x, logistic).model == "logistic"
    assert judge_curve(x, straight).model == "linear"
    weights = [c.weight for c in judge_curve(x, logistic).candidates]
    assert sum(weights) == pytest.approx(1.0)


def test_fit_model_matches_or_beats_scipy_curve_fit() -> None:
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(5)
    y = 0.85 - 0.4 * (ROWS / 1e3) ** -0.35 + rng.normal(0, 0.005, len(ROWS))
    ours = fit_model("power", ROWS, y)
    popt, _ = curve_fit(lambda x, a, b, c: a - b * x ** (-c), ROWS, y, p0=[0.8, 1.0, 0.3], maxfev=20000)
    theirs = float(np.sum((y - (popt[0] - popt[1] * ROWS ** (-popt[2]))) ** 2))
    assert ours.rss <= theirs * 1.01
    assert ours.params()["c"] == pytest.approx(popt[2], rel=0.05)


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        ([1, 2], [0.1, 0.2], InsufficientDataError, "at least 3 points"),
        ([1, 2, 3], [0.1, float("nan"), 0.3], DataValidationError, "missing or not finite"),
        ([1, 2, 3], [0.1, float("inf"), 0.3], DataValidationError, "row 2"),
        ([1, 3, 2, 4], [0.1, 0.2, 0.3, 0.4], DataValidationError, "strictly increasing"),
        ([1, 2, 2, 4], [0.1, 0.2, 0.3, 0.4], DataValidationError, "strictly increasing"),
        ([1, 2, 3], [0.1, 0.2], DataValidationError, "x has 3 values but y has 2"),
        (["a", "b", "c"], [1, 2, 3], DataValidationError, "must be numbers"),
    ],
)
def test_judge_curve_rejects_bad_series(x, y, error, match) -> None:
    with pytest.raises(error, match=match):
        judge_curve(x, y)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
anything = st.one_of(finite, st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, 1e-300]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(anything, min_size=0, max_size=25),
    st.lists(anything, min_size=0, max_size=25),
    st.booleans(),
    st.booleans(),
)
def test_judge_curve_returns_a_verdict_or_raises_a_flywheel_error(xs, ys, sort_x, higher) -> None:
    if sort_x:
        xs = sorted(set(xs))
        ys = (ys * (len(xs) // max(len(ys), 1) + 1))[: len(xs)] if ys else ys
    try:
        report = judge_curve(xs, ys, higher_is_better=higher)
    except FlywheelError:
        return
    assert report.verdict in VERDICTS
    assert 0.0 <= report.confidence <= 1.0
    assert isinstance(report.reason, str) and report.reason
    assert all(v is None or math.isfinite(v) for v in report.to_json()["params"].values())


def test_forecast_band_brackets_the_curve_and_widens_beyond_the_data() -> None:
    y = 0.9 - 0.5 * (ROWS / 1e3) ** -0.3 + np.random.default_rng(2).normal(0, 0.01, len(ROWS))
    report = judge_curve(ROWS, y)
    xf = np.geomspace(ROWS[-1], ROWS[-1] * 100, 5)
    forecast = forecast_curve(report, xf)
    assert np.all(forecast.low <= forecast.y + 1e-9) and np.all(forecast.y <= forecast.high + 1e-9)
    width = forecast.high - forecast.low
    assert width[-1] > width[0] > 0


def test_x_for_target_reachable_unreachable_and_already_reached() -> None:
    y = 0.9 - 0.5 * (ROWS / 1e3) ** -0.3
    report: CurveReport = judge_curve(ROWS, y)
    goal = 0.9 - 0.5 * (4_000) ** -0.3  # the true curve reaches it at 4M rows
    hit = x_for_target(report, goal)
    assert hit.reachable and hit.x == pytest.approx(4e6, rel=0.05)
    assert "Reaches" in hit.message
    ceiling = x_for_target(report, 0.95)
    assert not ceiling.reachable and ceiling.message.startswith("Not reachable: the fitted ceiling is at 0.9")
    assert x_for_target(report, 0.5).message.startswith("Already reached")


def test_judge_model_versions_uses_rows_and_the_metric_direction() -> None:
    versions = [
        SimpleNamespace(
            version=k + 1,
            train_rows=1000 * 2**k,
            metrics={"auc": 0.8 - 0.2 * 2 ** (-k), "log_loss": 0.3 + 0.4 * 2 ** (-k)},
        )
        for k in range(7)
    ]
    versions.append(SimpleNamespace(version=9, train_rows=64_000, metrics={"auc": 0.99, "note": "x"}))
    assert version_metrics(versions)[0] == "auc" and "note" not in version_metrics(versions)
    assert metric_is_lower_better("log_loss") and metric_is_lower_better("brier") and not metric_is_lower_better("auc")
    report = judge_model_versions(versions).report
    assert report is not None and report.y[-1] == 0.99  # the later version wins a tie on training rows
    loss = judge_model_versions(versions, metric="log_loss").report
    assert loss is not None and not loss.higher_is_better
    few = judge_model_versions(versions[:2])
    assert few.verdict == "insufficient_data" and few.report is None and "a verdict needs 3" in few.reason


def test_dataset_verdict_leaves_out_unscored_versions_and_uses_their_intervals() -> None:
    def version(k: int, auc: float | None, half: float) -> SimpleNamespace:
        return SimpleNamespace(
            version=k,
            turn=k,
            train_rows=1000 * 2**k,
            metrics={"holdout_auc": auc},
            intervals={} if auc is None else {"holdout_auc": (auc - half, auc + half)},
            unscored={"holdout_auc": "not enough feedback to score (1 positive in the holdout; needs 10)"}
            if auc is None
            else {},
        )

    one_positive = [version(k, None, 0) for k in range(1, 4)] + [version(4, 0.9, 0.3), version(5, 0.55, 0.3)]
    judged = judge_model_versions(one_positive, metric="holdout_auc")
    assert judged.verdict == "insufficient_data" and judged.left_out == 3 and judged.points == 2
    assert "1 positive in the holdout" in judged.reason
    rising = [version(k, 0.60 + 0.03 * k, 0.004) for k in range(1, 7)]
    sure = judge_model_versions(rising, metric="holdout_auc")
    wide = judge_model_versions([version(k, 0.60 + 0.03 * k, 0.25) for k in range(1, 7)], metric="holdout_auc")
    assert sure.verdict == "compounding"
    assert sure.report is not None and wide.report is not None
    assert (wide.report.gain_high - wide.report.gain_low) > (sure.report.gain_high - sure.report.gain_low)


def test_read_series_defaults_and_errors() -> None:
    data = read_series(b"rows,auc,other\n1,0.5,x\n2,0.6,y\n4,0.65,z\n")
    assert (data.x_name, data.y_name) == ("rows", "auc") and list(data.x) == [1, 2, 4]
    only_y = read_series(b"auc\n0.5\n0.6\n")
    assert only_y.x_name == "row" and list(only_y.x) == [1, 2]
    with pytest.raises(DataValidationError, match="no column 'nope'"):
        read_series(b"a,b\n1,2\n", y_column="nope")
    with pytest.raises(DataValidationError, match="not numbers \\(first: line 3"):
        read_series(b"a,b\n1,2\n2,oops\n")


def test_judge_curve_rarely_calls_pure_noise_compounding() -> None:
    rng = np.random.default_rng(11)
    verdicts = [judge_curve(WEEKS[:20], 0.7 + rng.normal(0, 0.01, 20)).verdict for _ in range(100)]
    assert verdicts.count("plateau") >= 85
    assert verdicts.count("compounding") <= 8
