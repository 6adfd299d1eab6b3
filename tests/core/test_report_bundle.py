"""The HTML report stays small: a partial plotly.js bundle that draws every trace type the report uses."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import plotly.graph_objects as go
import pytest

from flywheel_core.demo import DEMO_WORKSPACE, load_demo_workspace
from flywheel_core.report.api import build_report
from flywheel_core.report.html import render_html
from flywheel_core.storage.store import Store
from tests.core.test_report import embedded_figures

REPO = Path(__file__).resolve().parents[2]
MAX_REPORT_BYTES = 1_500_000


def test_the_demo_report_is_under_one_and_a_half_megabytes_and_its_bundle_draws_every_chart(store: Store) -> None:
    from flywheel_core.report.plotly_bundle import BUNDLE_TRACE_TYPES, BUNDLE_VERSION, bundle_js

    load_demo_workspace(store, actor="local")  # the demo at the size the app loads, as a newcomer downloads it
    demo = next(w for w in store.list_workspaces(username="local") if w.name == DEMO_WORKSPACE)
    assert demo.id is not None
    page = render_html(build_report(store, workspace_id=demo.id, actor="local")).encode("utf-8")
    assert len(page) < MAX_REPORT_BYTES, f"the demo report is {len(page):,} bytes"
    text = page.decode("utf-8")
    assert text.count(bundle_js()) == 1
    assert f"plotly.js (basic - minified) v{BUNDLE_VERSION}" in bundle_js()[:200]
    figures = embedded_figures(text)
    assert len(figures) >= 9  # cycle times, two charts per demo dataset, the learning curves
    drawn = {trace.get("type", "scatter") for figure in figures for trace in figure["data"]}
    assert drawn <= BUNDLE_TRACE_TYPES, drawn - BUNDLE_TRACE_TYPES
    assert all("template" not in figure["layout"] for figure in figures[1:])  # the template is written once
    assert text.count('"annotationdefaults"') == 1  # a key of plotly's template, written once


def test_the_bundle_names_its_trace_types_and_licence() -> None:
    from flywheel_core.report.plotly_bundle import BUNDLE_TRACE_TYPES, bundle_js

    js = bundle_js()
    registered = set(re.findall(r'name:"([a-z]+)",basePlotModule', js))  # each trace module names itself
    assert registered == BUNDLE_TRACE_TYPES
    vendor = REPO / "flywheel_core" / "report" / "vendor"
    assert "MIT License" in (vendor / "plotly-basic.LICENSE").read_text()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "report/vendor/*" in package_data["flywheel_core"]


def test_a_chart_the_bundle_cannot_draw_is_refused() -> None:
    from flywheel_core.report.plotly_bundle import chart_div

    with pytest.raises(ValueError, match="cannot draw heatmap traces"):
        chart_div(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])), "chart-1", None)
