"""The saved HTML report opens with no network and draws every chart (the vendored partial plotly.js)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Route, expect

from flywheel_core.demo import DEMO_WORKSPACE
from flywheel_core.report.api import build_report
from flywheel_core.report.html import render_html
from flywheel_core.storage.store import Store
from tests.core.test_report import embedded_figures
from tests.e2e.conftest import ARTIFACTS


def test_the_saved_report_draws_every_chart_offline(store: Store, demo_instance: str, browser, tmp_path: Path) -> None:
    demo = next(w for w in store.list_workspaces(username="local") if w.name == DEMO_WORKSPACE)
    assert demo.id is not None
    page_text = render_html(build_report(store, workspace_id=demo.id, actor="local"))
    charts = len(embedded_figures(page_text))
    saved = tmp_path / "Demo-report.html"
    saved.write_text(page_text, encoding="utf-8")

    context = browser.new_context(viewport={"width": 1280, "height": 9000}, offline=True)
    asked: list[str] = []

    def refuse(route: Route) -> None:  # the document itself is the only thing the report may load
        if route.request.url != saved.as_uri():
            asked.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(saved.as_uri())
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(charts)
    expect(page.locator(".plot-container .main-svg .cartesianlayer")).to_have_count(charts)
    for i in range(charts):  # every chart drew its traces: bars or scatter lines/points
        expect(plots.nth(i).locator("g.trace").first).to_be_attached()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report_offline.png"), full_page=True)
    context.close()
    assert not errors, errors
    assert not asked, asked
