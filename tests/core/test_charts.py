"""One chart module: the report embeds the app's figures in the app's palette; one label and colour per verdict."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flywheel_core.charts.data import ACTIVITY_TRACES, activity, events_over_time
from flywheel_core.charts.palette import ACTIVITY_COLORS, SIGNAL_COLORS, VERDICT_COLORS, verdict_color
from flywheel_core.curves.terms import Verdict
from flywheel_core.data.api import ingest_file
from flywheel_core.data.signals import KINDS, POLARITIES
from flywheel_core.report.api import build_report
from flywheel_core.report.contents import DatasetSection
from flywheel_core.report.html import render_html
from flywheel_core.storage.store import Store
from tests.core.test_report import _events_csv, embedded_figures

REPO = Path(__file__).resolve().parents[2]
VERDICT_TABLE = re.compile(r"""["'](?:compounding|plateau|backward|insufficient_data)["']\s*:\s*["'][#A-Z]""")
COLOR_LITERAL = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")


def _values(encoded: Any) -> list[float]:
    """Numbers of a plotly JSON array: a list, or a typed array ``{"dtype": ..., "bdata": base64}``."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).astype(float).tolist()
    return [float(v) for v in encoded]


def _traces(figure: dict[str, Any]) -> list[tuple[str, str | None, list[float]]]:
    """(name, colour, y values) of each trace, from a figure's plotly JSON."""
    out = []
    for trace in figure["data"]:
        style = trace.get("line") or trace.get("marker") or {}
        out.append((trace.get("name"), style.get("color"), _values(trace.get("y", []))))
    return out


@pytest.fixture
def drawn(store: Store, workspace_id: int) -> tuple[DatasetSection, list[dict[str, Any]]]:
    """A one-dataset report: its section, and the figures its HTML embeds."""
    ingest_file(store, workspace_id=workspace_id, source=_events_csv(seed=7), dataset="Clicks", actor="alice")
    report = build_report(store, workspace_id=workspace_id, actor="alice")
    return report.datasets[0], embedded_figures(render_html(report))


def _titled(figures: list[dict[str, Any]], start: str) -> dict[str, Any]:
    found = [f for f in figures if f["layout"]["title"]["text"].startswith(start)]
    assert len(found) == 1, [f["layout"]["title"]["text"] for f in figures]
    return found[0]


def test_report_embeds_the_apps_active_users_figure(drawn: tuple[DatasetSection, list[dict[str, Any]]]) -> None:
    section, figures = drawn
    assert section.activity is not None
    embedded = _titled(figures, "Active users: Clicks · DAU/MAU stickiness")
    app = json.loads(activity(section.activity, subject="Clicks").to_json())
    assert _traces(embedded) == _traces(app)
    assert embedded["layout"]["title"] == app["layout"]["title"]
    assert [(name, color) for name, color, _ in _traces(embedded)] == [
        (name, ACTIVITY_COLORS[column]) for column, name in ACTIVITY_TRACES
    ]
    assert _traces(embedded)[-1][2] == [float(v) for v in section.activity.daily["dau"]]


def test_report_draws_signal_classes_in_the_apps_palette(drawn: tuple[DatasetSection, list[dict[str, Any]]]) -> None:
    section, figures = drawn
    assert section.signal_weeks is not None
    embedded = _titled(figures, "Events per week by signal: Clicks")
    app = json.loads(events_over_time(section.signal_weeks, "week", subject="Clicks").to_json())
    assert _traces(embedded) == _traces(app)
    colors = {name: color for name, color, _ in _traces(embedded)}
    assert {"implicit positive", "implicit negative"} <= set(colors)  # clicks and purchases, skips
    assert colors == {name: SIGNAL_COLORS[name] for name in colors}


def test_the_palette_covers_every_signal_class() -> None:
    classes = {f"{kind} {polarity}" for kind in KINDS for polarity in POLARITIES} | {"unknown neutral"}
    assert set(SIGNAL_COLORS) == classes
    assert len(set(SIGNAL_COLORS.values())) == len(SIGNAL_COLORS)


def test_every_verdict_has_one_label_and_one_colour() -> None:
    labels = [v.label for v in Verdict]
    assert all(label and label[0].isupper() for label in labels) and len(set(labels)) == len(labels)
    assert set(VERDICT_COLORS) == set(Verdict)
    assert len(set(VERDICT_COLORS.values())) == len(VERDICT_COLORS)
    assert all(verdict_color(v.value) == VERDICT_COLORS[v] for v in Verdict)
    with pytest.raises(ValueError, match="sideways"):
        verdict_color("sideways")


def test_no_other_module_keeps_its_own_verdict_words_or_colours() -> None:
    own = {REPO / "flywheel_core/curves/terms.py", REPO / "flywheel_core/charts/palette.py"}
    files = [*REPO.glob("flywheel_core/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py"), REPO / "app.py"]
    offenders = [str(p.relative_to(REPO)) for p in files if p not in own and VERDICT_TABLE.search(p.read_text())]
    assert offenders == []


def test_the_app_draws_only_with_the_core_charts_and_palette() -> None:
    """ui/ and pages/ build no figure of their own (no plotly import) and name no colour of their own."""
    offenders = []
    for path in [*REPO.glob("ui/*.py"), *REPO.glob("pages/*.py"), REPO / "app.py"]:
        text = path.read_text()
        if re.search(r"^\s*(?:import|from) plotly\b", text, flags=re.MULTILINE) or COLOR_LITERAL.search(text):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_charts_load_plotly_only_when_drawing() -> None:
    code = (
        "import sys\n"
        "import flywheel_core.charts.curves, flywheel_core.charts.data, flywheel_core.charts.loops\n"
        "import flywheel_core.charts.palette, flywheel_core.charts.train\n"
        "print('plotly' in sys.modules, 'streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"]


# --- charts to the conventions people know: one layout, clean ticks, a reason instead of a misleading chart ---


def _cohorts() -> pd.DataFrame:
    """Three weekly cohorts: week 0 is 100% by definition; later weeks are known only for older cohorts."""
    nan = float("nan")
    return pd.DataFrame(
        {
            "cohort": pd.to_datetime(["2019-11-04", "2019-11-11", "2019-11-18"], utc=True),
            "users": [100, 50, 10],
            "week 0": [1.0, 1.0, 1.0],
            "week 1": [0.3, 0.2, nan],
            "week 2": [0.12, nan, nan],
        }
    )


def _layout(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())["layout"]


def _figures() -> dict[str, Any]:
    """One of every figure the app and the report draw, from small literal results."""
    from flywheel_core.charts import curves, data, loops
    from flywheel_core.curves.judge import judge_curve
    from flywheel_core.data.analytics import LongTailResult
    from flywheel_core.loop.diagnosis import LoopSummary
    from flywheel_core.simulate.flywheel import simulate_flywheel
    from flywheel_core.simulate.scenarios import PRESETS, sensitivity

    days = pd.date_range("2019-11-01", periods=60, freq="D", tz="UTC")
    counts = pd.DataFrame({"period": days[::7], "signal": "implicit positive", "events": range(9)})
    daily = pd.DataFrame({"date": days, "dau": 5, "wau": 20, "mau": 40})
    curve = pd.DataFrame({"item_share": [0.2, 0.6, 1.0], "event_share": [0.5, 0.8, 1.0]})
    tail = LongTailResult(curve, 10, 0.5, 0.4, pd.DataFrame({"item": ["a"], "events": [5]}))
    ratings = _ratings(pd.DataFrame({"value": [1, 5], "count": [3, 4], "share": [0.4, 0.6]}))
    users = pd.DataFrame({"events": range(1, 301), "outlier": [False] * 299 + [True]})  # 300 users
    weekly = pd.DataFrame({"week": days[::7], "new": range(9), "returning": range(9)})
    report = judge_curve([1, 2, 4, 8, 16, 32, 64], [0.5, 0.6, 0.66, 0.7, 0.72, 0.73, 0.735], x_name="rows")
    params = PRESETS["spotify"].params
    run = simulate_flywheel(params, weeks=26, runs=20, scenario="spotify")
    summary = LoopSummary("Loop", 1, "alice", datetime(2026, 1, 1, tzinfo=UTC), "flywheel", "network", None, 530.0, "")
    return {
        "events_over_time": data.events_over_time(counts, "week"),
        "signal_mix": data.signal_mix(counts),
        "activity": data.activity(_activity(daily)),
        "retention": data.retention(_cohorts()),
        "retention_curve": data.retention_curve(_cohorts()),
        "new_vs_returning": data.new_vs_returning(weekly),
        "long_tail": data.long_tail(tail),
        "rating_distribution": data.rating_distribution(ratings),
        "events_per_user": data.events_per_user(users),
        "curve": curves.curve_figure(report, x_label="rows", y_label="accuracy"),
        "simulation": curves.simulation_figure([run], series="users"),
        "tornado": curves.tornado_figure(sensitivity(params, weeks=26, runs=20)),
        "cycle_time": loops.cycle_time_figure([summary], verdict_words={"flywheel": "Flywheel"}),
    }


def _ratings(distribution: pd.DataFrame) -> Any:
    from flywheel_core.data.analytics import RatingBiasResult

    fields: dict[str, Any] = dict.fromkeys(RatingBiasResult.__dataclass_fields__)
    fields.update(distribution=distribution, extreme_share=0.9, bias=2.1)
    return RatingBiasResult(**fields)


def _activity(daily: pd.DataFrame) -> Any:
    from flywheel_core.data.analytics import ActivityResult

    fields: dict[str, Any] = dict.fromkeys(ActivityResult.__dataclass_fields__)
    fields.update(daily=daily, dau_mau=0.125)
    return ActivityResult(**fields)


def test_retention_colours_leave_week_0_out_and_every_cell_shows_its_percentage() -> None:
    from flywheel_core.charts.data import retention, retention_scale

    spec = json.loads(retention(_cohorts()).to_json())
    week0, later = spec["data"]
    assert retention_scale(_cohorts()) == (0.0, 30.0)  # the highest after week 0 is 30%, not week 0's 100%
    assert (later["zmin"], later["zmax"]) == (0.0, 30.0) and later["x"] == [1, 2]
    assert week0["x"] == [0] and "zmax" not in week0  # week 0 is drawn aside, in grey
    assert later["texttemplate"] == week0["texttemplate"] == "%{text}"
    assert week0["text"] == [["100%"], ["100%"], ["100%"]]
    assert later["text"] == [["30%", "12%"], ["20%", ""], ["", ""]]  # blank only where the week has not come


def test_retention_curve_weighs_cohorts_by_users_and_counts_only_cohorts_that_reached_the_week() -> None:
    from flywheel_core.charts.data import retention_curve

    trace = json.loads(retention_curve(_cohorts()).to_json())["data"][0]
    assert _values(trace["x"]) == [0, 1, 2]
    # week 1: (100·0.3 + 50·0.2) / 150 users; week 2: only the oldest cohort has reached it
    assert _values(trace["y"]) == pytest.approx([100.0, 40 / 150 * 100, 12.0])


def test_retention_of_a_single_week_says_why_instead_of_drawing() -> None:
    from flywheel_core.charts.data import retention, retention_curve
    from flywheel_core.exceptions import InsufficientDataError

    one_week = _cohorts()[["cohort", "users", "week 0"]]
    for builder in (retention, retention_curve):
        with pytest.raises(InsufficientDataError, match="at least two different weeks"):
            builder(one_week)


def test_a_long_tail_of_one_item_says_why_instead_of_drawing_a_flat_line() -> None:
    from flywheel_core.charts.data import long_tail
    from flywheel_core.data.analytics import LongTailResult
    from flywheel_core.exceptions import InsufficientDataError

    one = LongTailResult(pd.DataFrame({"item_share": [1.0], "event_share": [1.0]}), 1, 1.0, 1.0, pd.DataFrame())
    with pytest.raises(InsufficientDataError, match="touch 1 item, and a popularity curve needs at least 5"):
        long_tail(one)


def test_catalog_coverage_is_defined_where_the_figure_shows_it() -> None:
    layout = _layout(_figures()["long_tail"])
    assert "catalog coverage 40%: items with a positive interaction" in layout["title"]["subtitle"]["text"]


def test_no_figure_title_sits_under_the_toolbar() -> None:
    from flywheel_core.charts.layout import MODEBAR_PX

    for name, fig in _figures().items():
        layout = _layout(fig)
        title = layout["title"]
        assert (title["yref"], title["yanchor"], title["y"]) == ("container", "top", 1), name
        assert title["pad"]["t"] >= MODEBAR_PX, name  # the title starts below the toolbar's row
        lines = 1 + ("subtitle" in title)
        assert layout["margin"]["t"] >= title["pad"]["t"] + 18 * lines, name  # and the margin holds it


def test_log_axes_tick_at_1_2_5_with_compact_labels() -> None:
    figures = _figures()
    y = _layout(figures["events_per_user"])["yaxis"]
    assert y["type"] == "log" and y["tickvals"] == [1, 2, 5, 10, 20, 50, 100, 200]
    assert y["ticktext"] == ["1", "2", "5", "10", "20", "50", "100", "200"]
    sim = _layout(figures["simulation"])["yaxis"]
    assert sim["type"] == "log" and all(t[-1] in "0123456789kMB" for t in sim["ticktext"])
    x = _layout(figures["curve"])["xaxis"]
    assert x["type"] == "log" and x["ticktext"][:4] == ["1", "2", "5", "10"]
    cycle = _layout(figures["cycle_time"])["xaxis"]
    assert "1 week" in cycle["ticktext"] and "30 days" in cycle["ticktext"]


def test_log_ticks_read_k_m_b_never_mixed_digits() -> None:
    from flywheel_core.charts.layout import log_ticks

    values, text = log_ticks(1_000, 20_000)
    assert values == [1_000, 2_000, 5_000, 10_000, 20_000] and text == ["1k", "2k", "5k", "10k", "20k"]
    values, text = log_ticks(1, 1e9)  # too many for 1-2-5: one per decade
    assert text == ["1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1B"]


def test_date_axes_read_as_dates_without_a_time_of_day() -> None:
    figures = _figures()
    for name in ("events_over_time", "activity", "new_vs_returning"):
        axis = _layout(figures[name])["xaxis"]
        assert axis["tickformat"] == "%b %d, %Y" and "%H" not in axis["hoverformat"], name


def test_a_forecast_far_beyond_the_data_does_not_squash_the_measured_points() -> None:
    from flywheel_core.charts.curves import curve_figure
    from flywheel_core.curves.forecast import forecast_curve
    from flywheel_core.curves.judge import judge_curve

    report = judge_curve([0, 12, 13], [312e6, 780e6, 1.4e9], x_name="months", y_name="queries")
    forecast = forecast_curve(report, [13 + i for i in range(14)])
    assert forecast.y[-1] > 100 * 1.4e9  # an exponential fit runs off to trillions
    layout = _layout(curve_figure(report, forecast, x_label="months", y_label="queries"))
    low, high = layout["yaxis"]["range"]
    assert (1.4e9 - 312e6) / (high - low) > 0.3  # the measured span fills a third of the axis at least
    assert low < 312e6 and high > 1.4e9
    assert "Off the chart: the forecast reaches" in layout["title"]["subtitle"]["text"]
    assert layout["yaxis"]["exponentformat"] == "B"  # 1.5B, not plotly's 1.5G


def test_numbers_in_figures_are_never_in_scientific_notation() -> None:
    from flywheel_core.charts.curves import curve_figure
    from flywheel_core.curves.judge import judge_curve

    x = [1, 2, 3, 4, 6, 8, 11, 15, 20, 26]
    y = [2.097e9 * (1 - np.exp(-v / 4)) for v in x]
    text = curve_figure(judge_curve(x, y, x_name="x", y_name="y"), x_label="weeks", y_label="queries").to_json()
    assert "e+0" not in json.dumps([a.get("text") for a in json.loads(text)["layout"].get("annotations", [])])
    assert "fitted ceiling 2.0" in text or "fitted ceiling 2.1" in text


def test_one_number_formatter_for_counts_durations_and_compact_values() -> None:
    from flywheel_core.numbers import compact_number, counted, hours

    assert counted(1, "loop map") == "1 loop map" and counted(2, "loop map") == "2 loop maps"
    assert (hours(336), hours(168), hours(6.5), hours(0.25), hours(0.01)) == (
        "14 days",
        "7 days",
        "6.5 h",
        "15 min",
        "36 s",
    )
    assert (compact_number(2.097e9), compact_number(999_960), compact_number(1_500, k_from=1e3)) == (
        "2.1B",
        "1M",
        "1.5k",
    )


def test_the_model_version_figures_keep_their_titles_clear_of_the_toolbar_too() -> None:
    from flywheel_core.charts.layout import MODEBAR_PX
    from flywheel_core.charts.train import calibration_chart, pr_chart, roc_chart

    for build in (roc_chart, pr_chart, calibration_chart):
        title = _layout(build({}))["title"]
        assert (title["yref"], title["yanchor"]) == ("container", "top") and title["pad"]["t"] >= MODEBAR_PX


def test_events_per_user_is_binned_before_plotting_and_counts_every_user() -> None:
    from flywheel_core.charts.data import events_per_user

    rng = np.random.default_rng(3)
    events = rng.integers(1, 5_000, 20_000)
    users = pd.DataFrame({"events": events, "outlier": events > 4_500})
    fig = events_per_user(users)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert sum(len(t.y) for t in fig.data) <= 120  # a bar per bin and kind, not a value per user
    typical, flagged = fig.data
    assert (int(np.sum(typical.y)), int(np.sum(flagged.y))) == (
        int((events <= 4_500).sum()),
        int((events > 4_500).sum()),
    )
    assert typical.customdata[0][0] == events.min() and flagged.customdata[-1][1] == events.max()
    assert fig.layout.barmode == "stack"
