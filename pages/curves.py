"""Compounding vs plateau: judge a metric series, and simulate a flywheel component by component."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from flywheel_core.charts.curves import curve_figure, simulation_figure, tornado_figure
from flywheel_core.charts.train import metric_label
from flywheel_core.curves.forecast import forecast_curve, x_for_target
from flywheel_core.curves.judge import CandidateFit, CurveReport, judge_curve
from flywheel_core.curves.sources import (
    SeriesVerdict,
    csv_columns,
    judge_model_versions,
    read_series,
    version_metrics,
)
from flywheel_core.curves.terms import XKind
from flywheel_core.learning import api as learning_api
from flywheel_core.numbers import compact, percent
from flywheel_core.simulate import api as simulate_api
from flywheel_core.simulate.flywheel import KNOBS, knob_value, with_overrides
from flywheel_core.simulate.scenarios import PRESETS
from ui.context import current, kept, user_errors
from ui.curve_cache import judged_series_file, sensitivity_of, simulated
from ui.text import md_escape

ctx = current()
versioned = learning_api.versions_by_dataset(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
st.title("Compounding vs plateau")
st.caption(
    "A verdict answers *what will the next stretch of data or turns buy?* in the metric's own units: over the next "
    "three doublings of x when x is a data size, or the next span as long as the observed one when x is time or "
    "turns. **Compounding**: the projected gain reaches the material gain (2 points for a metric in [0, 1], else "
    "10% of its level). **Plateau**: it does not, and no material decline is expected. **Backward**: the metric "
    "declines beyond noise by at least the material gain. **Not enough evidence**: the band is too wide to tell. "
    "The confidence is the forecast's probability that the true gain lies on the verdict's side of the line."
)
ICONS = {
    "compounding": ":material/trending_up:",
    "plateau": ":material/trending_flat:",
    "backward": ":material/trending_down:",
    "insufficient_data": ":material/help:",
}
BOXES = {"compounding": st.success, "plateau": st.warning, "backward": st.error, "insufficient_data": st.info}
judge_tab, sim_tab = st.tabs(["Judge a series", "Simulate a flywheel"], **kept("curves.tab"))


def scenario_label(name: str) -> str:
    """A preset's name for people: "tesla-uncurated" reads "Tesla uncurated"."""
    return name.replace("-", " ").capitalize()


def show_verdict(report: CurveReport, x_label: str, y_label: str) -> None:
    BOXES[report.verdict](
        f"**{report.verdict.label}** · confidence {percent(report.confidence, 0)}. {md_escape(report.reason)}",
        icon=ICONS[report.verdict],
    )
    in_points = report.bounds == (0.0, 1.0)

    def gain(value: float) -> str:
        if in_points:
            return f"{100 * value if abs(value) >= 5e-4 else 0.0:+.1f} pts"
        return f"{'+' if value >= 0 else '−'}{compact(abs(value))}"

    cols = st.columns(4)
    cols[0].metric(
        "Projected gain",
        gain(report.projected_gain),
        help=md_escape(f"Over {report.horizon.text}; 90% band {gain(report.gain_low)} to {gain(report.gain_high)}."),
    )
    cols[1].metric("Material gain", gain(report.material).lstrip("+"), help="The gain that matters over the horizon.")
    reach = compact(report.horizon.x_to)
    cols[2].metric(
        "Horizon",
        f"to {reach} {x_label}" if report.horizon.kind is XKind.SIZE else f"to {x_label} {reach}",
        help=md_escape(report.horizon.text),
    )
    cols[3].metric("Evidence", f"{len(report.x)} points", help=f"Best-fitting curve: {report.model.replace('_', ' ')}")
    steps = [report.x[-1] + (report.horizon.x_to - report.x[-1]) * i / 24 for i in range(25)]
    forecast = forecast_curve(report, steps)
    st.plotly_chart(curve_figure(report, forecast, x_label=x_label, y_label=y_label), key="curves.chart")
    st.caption(f"Band: {forecast.level:.0%} residual bootstrap of the best-fitting curve, out to the horizon.")
    left, right = st.columns([1, 2])
    last = float(report.predict(report.x[-1:])[0])
    default = last + report.projected_gain / 2
    series_id = f"{y_label}:{report.x[0]:g}:{report.x[-1]:g}:{len(report.x)}"  # a new series gets a new default
    target = left.number_input(
        f"Target {md_escape(y_label)}", value=default, format="%.4g", key=f"curves.target.{series_id}"
    )
    right.markdown(f"**Target calculator.** {x_for_target(report, target).message}")
    with st.expander("All candidates"):
        st.dataframe([c_row(c, gain) for c in report.candidates], hide_index=True, width="stretch")


def series_row(v: SeriesVerdict) -> dict[str, object]:
    if v.report is None:
        return {"series": v.name, "points": v.n_points, "verdict": "not judged", "confidence": None, "why": v.problem}
    r = v.report
    return {
        "series": v.name,
        "points": v.n_points,
        "verdict": r.verdict.label,
        "confidence": percent(r.confidence, 0),
        "why": r.reason,
    }


def c_row(c: CandidateFit, gain: Callable[[float], str]) -> dict[str, object]:
    return {
        "curve": c.model.replace("_", " "),
        "AICc": c.aicc,
        "Akaike weight": round(c.weight, 3),
        "projected gain": gain(c.gain),
        "votes": "yes" if c.votes else "no (nonsense for this x)",
    }


with judge_tab:
    source = st.radio(
        "Series source",
        ["Typed values", "Model versions", "Simulation", "CSV upload"],
        horizontal=True,
        **kept("curves.source"),
    )
    series: tuple[Any, Any, bool, str, str] | None = None  # x, y, higher is better, x label, y label
    with user_errors():
        if source == "Typed values":
            st.caption("Seeded with Perplexity: 312M queries in May 2024, 780M by May 2025, 1.4B by June 2025.")
            table = st.data_editor(
                {"x": [0.0, 12.0, 13.0], "y": [312e6, 780e6, 1.4e9]},
                num_rows="dynamic",
                key="curves.typed",
                column_config={"y": st.column_config.NumberColumn(format="localized")},  # 312,000,000
            )
            lower = st.checkbox("Lower is better (a loss or an error)", key="curves.typed_lower")
            series = (table["x"], table["y"], not lower, "months since May 2024", "queries per month")
        elif source == "Model versions":
            by_name = {d.name: vs for d, vs in versioned}
            name = st.selectbox("Dataset", list(by_name), **kept("curves.dataset")) if by_name else None
            versions = by_name[name] if name else []
            metrics = version_metrics(versions)
            if not metrics:
                st.info(
                    "No model versions with metrics here yet. Train versions turn by turn first, then come back.",
                    icon=":material/info:",
                )
                st.page_link("pages/train_compare.py", label="Train & compare", icon=":material/model_training:")
            else:
                metric = st.selectbox("Metric", metrics, format_func=metric_label, **kept("curves.metric"))
                dataset_verdict = judge_model_versions(versions, metric=metric)  # unscored left out; intervals weigh
                if dataset_verdict.report is None:
                    st.warning(
                        f"**{dataset_verdict.verdict.label}**. {md_escape(dataset_verdict.reason)}",
                        icon=":material/help:",
                    )
                else:
                    show_verdict(dataset_verdict.report, "training rows", metric_label(metric))
                    if dataset_verdict.left_out:
                        st.caption(
                            md_escape(
                                f"{dataset_verdict.left_out} version(s) left out: {dataset_verdict.left_out_reason}."
                            )
                        )
        elif source == "Simulation":
            scenario = st.selectbox("Scenario", list(PRESETS), key="curves.sim_source")
            result = simulated(PRESETS[scenario].params, weeks=260, runs=300, scenario=scenario)
            series = (result.weeks, result.median("product_quality"), True, "week", "median product quality")
        else:
            upload = st.file_uploader("CSV with an x and a y column", type=["csv"], key="curves.upload")
            if upload is None:
                st.info(
                    "Upload a CSV: the first column is x (e.g. training rows), the second the metric.",
                    icon=":material/upload:",
                )
            else:
                found = csv_columns(upload.getvalue(), name=upload.name)
                numeric = list(found.numeric) or list(found.columns)
                cols = st.columns(4)
                x_name = cols[0].selectbox("x column", numeric, index=0, key="curves.csv_x")
                y_name = cols[1].selectbox("y column", numeric, index=min(1, len(numeric) - 1), key="curves.csv_y")
                others = [c for c in found.columns if c not in (x_name, y_name)]
                texts = [c for c in others if c not in found.numeric]  # a text column names the series
                by = cols[2].selectbox(
                    "Series column (long format)",
                    [None, *others],
                    index=1 + others.index(texts[0]) if texts else 0,
                    format_func=lambda c: "one series" if c is None else c,
                    key="curves.csv_by",
                )
                lower = cols[3].checkbox("Lower is better", key="curves.csv_lower")
                if by is None:
                    data = read_series(upload.getvalue(), x_column=x_name, y_column=y_name, name=upload.name)
                    series = (data.x, data.y, not lower, x_name, y_name)
                else:
                    verdicts = judged_series_file(
                        upload.getvalue(), by=by, x_column=x_name, y_column=y_name, higher_is_better=not lower,
                        name=upload.name,
                    )  # fmt: skip
                    st.dataframe([series_row(v) for v in verdicts], hide_index=True, width="stretch")
                    judged = [v for v in verdicts if v.report is not None]
                    if judged:
                        pick = st.selectbox("Show series", [v.name for v in judged], key="curves.by_pick")
                        chosen = next(v.report for v in judged if v.name == pick)
                        if chosen is not None:
                            show_verdict(chosen, x_name, y_name)
        if series is not None:
            x, y, higher, x_label, y_label = series
            show_verdict(judge_curve(x, y, higher_is_better=higher, x_name=x_label, y_name=y_label), x_label, y_label)

with sim_tab:
    top = st.columns([2, 2, 1, 1])
    preset_name = top[0].selectbox(
        "Scenario preset", list(PRESETS), format_func=scenario_label, **kept("curves.sim.preset")
    )
    preset = PRESETS[preset_name]
    others = [p for p in PRESETS if p != preset_name]
    compare = top[1].multiselect(
        "Compare with", others, default=[], format_func=scenario_label, key="curves.sim.compare"
    )
    weeks = top[2].number_input("Weeks", 26, 1040, 520, step=26, key="curves.sim.weeks")
    runs = top[3].selectbox("Runs", [100, 500, 1000, 5000], index=2, key="curves.sim.runs")
    st.caption(f"**{scenario_label(preset_name)}** — {preset.story} The story predicts **{preset.expected}**.")
    overrides = {}
    groups = list(dict.fromkeys(k.group for k in KNOBS))
    columns = st.columns(len(groups))
    for col, group in zip(columns, groups, strict=True):
        with col.expander(group, expanded=False):
            for knob in (k for k in KNOBS if k.group == group):
                value = knob_value(preset.params, knob.path)
                key = f"curves.sim.{preset_name}.{knob.path}"
                if knob.high > 1.5:
                    overrides[knob.path] = st.number_input(
                        knob.label, float(knob.low), float(knob.high), value, help=knob.help, key=key
                    )
                else:
                    overrides[knob.path] = st.slider(
                        knob.label, float(knob.low), float(knob.high), value, help=knob.help, key=key
                    )
    with user_errors():
        params = with_overrides(preset.params, overrides)
        with st.spinner("Simulating…"):
            results = [simulated(params, weeks=int(weeks), runs=int(runs), scenario=preset_name)]
            results += [simulated(PRESETS[n].params, weeks=int(weeks), runs=int(runs), scenario=n) for n in compare]
        for result in results:
            v = result.verdict
            BOXES[v.verdict](
                f"**{scenario_label(result.scenario)}: {v.verdict.label.lower()}** ({percent(v.confidence, 0)}). "
                f"{v.reason}",
                icon=ICONS[v.verdict],
            )
        shown = st.radio(
            "Series",
            ["product_quality", "users", "usable_rows", "model_quality"],
            horizontal=True,
            format_func=lambda s: s.replace("_", " "),
            key="curves.sim.series",
        )
        st.plotly_chart(simulation_figure(results, series=shown), key="curves.sim.chart")
        if st.toggle("Which component drags most? (tornado)", value=True, key="curves.sim.tornado"):
            with st.spinner("Weakening each component in turn…"):
                tornado = sensitivity_of(params, weeks=int(weeks), runs=200)
            st.plotly_chart(tornado_figure(tornado), key="curves.sim.tornado_chart")
            st.caption(f"Weakest link: **{tornado.weakest_label}** — halving it costs the most product quality.")
    calibratable = {d.name: vs for d, vs in versioned if vs}
    with st.expander("Calibrate from your data", expanded=False):
        if not calibratable:
            st.caption("Needs a dataset with model versions: train versions on Train & compare first.")
        else:
            with user_errors():
                ds = st.selectbox("Dataset", list(calibratable), key="curves.cal.ds")
                m = st.selectbox("Quality metric (0–1)", version_metrics(calibratable[ds]), key="curves.cal.metric")
                if st.button("Calibrate and simulate", key="curves.cal.run"):
                    with st.spinner("Measuring retention and fitting the learning curve…"):
                        run = simulate_api.calibrate_from_dataset(
                            ctx.store, workspace_id=ctx.workspace_id, dataset=ds, metric=m, actor=ctx.actor,
                            base=params, weeks=int(weeks), runs=int(runs),
                        )  # fmt: skip
                    for note in run.calibration.notes:
                        st.markdown(f"- {note}")
                    st.plotly_chart(simulation_figure([run.result, results[0]]), key="curves.cal.chart")
