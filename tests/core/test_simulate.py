"""The flywheel simulator: presets tell their stories, bands, sensitivity, calibration, validation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.analytics import retention_cohorts
from flywheel_core.exceptions import DataValidationError, NotFoundError
from flywheel_core.simulate.flywheel import KNOBS, SimulationParams, knob_value, simulate_flywheel, with_overrides
from flywheel_core.simulate.scenarios import PRESETS, calibrate_simulation, get_preset, sensitivity, weekly_retention


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_produces_the_outcome_its_story_tells(name: str) -> None:
    preset = PRESETS[name]
    result = simulate_flywheel(preset.params, weeks=520, runs=200, random_state=1, scenario=name)
    assert result.verdict.verdict == preset.expected, result.verdict.reason


def test_presets_cover_the_seed_cases() -> None:
    assert set(PRESETS) == {
        "spotify",
        "klarna",
        "tesla-uncurated",
        "model-collapse",
        "netflix-velocity",
        "bank-velocity",
        "note-taking",
        "harvey",
    }
    assert PRESETS["netflix-velocity"].params.application.cycle_days == pytest.approx(15 / 1440)
    assert PRESETS["bank-velocity"].params.application.cycle_days == 270
    with pytest.raises(NotFoundError, match="Known scenarios: spotify"):
        get_preset("myspace")


def test_netflix_velocity_ends_clearly_ahead_of_the_bank() -> None:
    netflix = simulate_flywheel(PRESETS["netflix-velocity"].params, runs=200)
    bank = simulate_flywheel(PRESETS["bank-velocity"].params, runs=200)
    assert netflix.final("product_quality") > bank.final("product_quality") + 0.15
    assert netflix.final("users") > 5 * bank.final("users")
    # Beyond the band: the bank's best run stays below Netflix's worst.
    assert netflix.bands["product_quality"][0, -1] > bank.bands["product_quality"][2, -1]


def test_tesla_uncurated_plateaus_while_its_data_keeps_growing() -> None:
    result = simulate_flywheel(PRESETS["tesla-uncurated"].params, runs=200)
    rows = result.median("usable_rows")
    assert rows[-1] > 5 * rows[51]
    assert result.verdict.verdict == "plateau"
    curated = simulate_flywheel(replace(PRESETS["tesla-uncurated"].params, curation_share=0.9), runs=200)
    assert curated.final("product_quality") > result.final("product_quality") + 0.1


def test_harvey_expert_seeding_starts_higher() -> None:
    harvey = PRESETS["harvey"].params
    seeded = simulate_flywheel(harvey, weeks=52, runs=100)
    cold = simulate_flywheel(replace(harvey, seed_rows=0.0), weeks=52, runs=100)
    assert seeded.median("product_quality")[0] > cold.median("product_quality")[0] + 0.1


def test_note_taking_individual_learning_does_not_improve_with_scale() -> None:
    note = simulate_flywheel(PRESETS["note-taking"].params, runs=100)
    networked = simulate_flywheel(replace(PRESETS["note-taking"].params, network_share=1.0), runs=100)
    q = note.median("product_quality")
    assert q[-1] - q[0] < 0.01
    assert networked.final("product_quality") > q[-1] + 0.1


def test_model_collapse_quality_falls_below_where_it_started() -> None:
    result = simulate_flywheel(PRESETS["model-collapse"].params, runs=100)
    q = result.median("product_quality")
    assert q[-1] < 0.5 * q[0]


def test_simulation_bands_are_ordered_and_seeded() -> None:
    params = SimulationParams()
    a = simulate_flywheel(params, weeks=104, runs=300, random_state=4)
    b = simulate_flywheel(params, weeks=104, runs=300, random_state=4)
    c = simulate_flywheel(params, weeks=104, runs=300, random_state=5)
    for band in a.bands.values():
        assert band.shape == (3, 104)
        assert np.all(band[0] <= band[1]) and np.all(band[1] <= band[2])
    assert np.array_equal(a.bands["users"], b.bands["users"])
    assert not np.array_equal(a.bands["users"], c.bands["users"])
    assert np.any(a.bands["users"][2] > a.bands["users"][0])  # Monte Carlo spread exists
    one = simulate_flywheel(params, weeks=26, runs=1)
    assert one.runs == 1 and len(one.weeks) == 26


def test_simulation_to_json_thins_weeks_but_keeps_the_last() -> None:
    payload = simulate_flywheel(PRESETS["klarna"].params, weeks=100, runs=50, scenario="klarna").to_json(every=7)
    assert payload["scenario"] == "klarna" and payload["verdict"] == "plateau"
    assert payload["weeks"][0] == 1 and payload["weeks"][-1] == 100
    assert len(payload["series"]["product_quality"]["p50"]) == len(payload["weeks"])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"curation_share": 1.5}, "curation_share = 1.5"),
        ({"initial_users": 0.0}, "initial_users = 0"),
        ({"drift_rate_week": -0.1}, "drift_rate_week"),
    ],
)
def test_simulate_rejects_impossible_settings(change, match) -> None:
    with pytest.raises(DataValidationError, match=match):
        simulate_flywheel(replace(SimulationParams(), **change), runs=10)


def test_simulate_rejects_out_of_range_weeks_and_runs() -> None:
    with pytest.raises(DataValidationError, match=r"The 'weeks' parameter of simulate_flywheel .*\[8, 5200\]"):
        simulate_flywheel(SimulationParams(), weeks=2)
    with pytest.raises(DataValidationError, match="The 'runs' parameter of simulate_flywheel"):
        simulate_flywheel(SimulationParams(), runs=0)


def test_with_overrides_sets_dotted_paths_and_rejects_unknown_ones() -> None:
    params = with_overrides(SimulationParams(), {"application.cycle_days": 270.0, "network_share": 0.2})
    assert params.application.cycle_days == 270.0 and params.network_share == 0.2
    assert all(isinstance(knob_value(params, k.path), float) for k in KNOBS)
    with pytest.raises(DataValidationError, match=r"No simulator parameter 'analysis\.magic'"):
        with_overrides(params, {"analysis.magic": 1.0})


def test_sensitivity_finds_the_slow_application_stage_of_the_bank() -> None:
    report = sensitivity(PRESETS["bank-velocity"].params, runs=100)
    assert report.weakest_link == "application" and report.weakest_label == "Application"
    from flywheel_core.charts.curves import tornado_figure

    shown = set(tornado_figure(report).data[0].y)  # the chart names stages as the loop map does, not by id
    assert shown == {r.label for r in report.rows} and "Network learning" in shown and "network" not in shown
    drags = [r.weakened - report.baseline for r in report.rows]
    assert drags == sorted(drags)
    assert {r.component for r in report.rows} >= {"collection", "storage", "analysis", "application", "feedback"}
    with pytest.raises(DataValidationError, match="between 0 and 1"):
        sensitivity(PRESETS["spotify"].params, factor=2.0)


def test_calibrate_simulation_seeds_learning_curve_and_retention() -> None:
    rows = 1_000 * 2.0 ** np.arange(8)
    auc = 0.82 - 0.3 * (rows / 1_000) ** -0.45
    cal = calibrate_simulation(rows, auc, weekly_retention=0.9)
    a = cal.params.analysis
    assert a.ceiling == pytest.approx(0.82, abs=0.01)
    assert a.learning_exponent == pytest.approx(0.45, rel=0.1)
    assert a.start_quality == pytest.approx(auc[0], abs=0.01)
    assert a.data_scale_rows == 1_000 and cal.params.seed_rows == rows[-1]
    fb = cal.params.feedback
    assert fb.churn_base * (1 - fb.churn_per_quality * auc[-1]) == pytest.approx(0.1)
    result = simulate_flywheel(cal.params, weeks=52, runs=50)
    assert result.median("model_quality")[0] == pytest.approx(auc[-1], abs=0.02)


def test_calibrate_simulation_rejects_metrics_outside_zero_one() -> None:
    with pytest.raises(DataValidationError, match="between 0 and 1"):
        calibrate_simulation([1, 2, 4, 8], [1.2, 1.0, 0.9, 0.85], weekly_retention=0.9)
    with pytest.raises(DataValidationError, match="weekly_retention"):
        calibrate_simulation([1, 2, 4, 8], [0.5, 0.6, 0.65, 0.66], weekly_retention=0.0)


def test_weekly_retention_from_measured_cohorts() -> None:
    start = pd.Timestamp("2026-01-05", tz="UTC")
    rows = []
    for user in range(100):
        last_week = 1 + user % 10  # user u stays active until week 1 + u % 10
        rows += [
            {"user": f"u{user}", "item": "i", "timestamp": start + pd.Timedelta(weeks=w), "event": "play"}
            for w in range(last_week + 1)
        ]
    events = pd.DataFrame(rows)
    retention = weekly_retention(retention_cohorts(events))
    assert 0.75 < retention < 0.95
