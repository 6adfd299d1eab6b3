"""The saved HTML report opens with no network and draws every chart (the vendored partial plotly.js)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, Route, expect

from flywheel_core.demo import DEMO_WORKSPACE
from flywheel_core.report.api import build_report
from flywheel_core.report.html import render_html
from flywheel_core.storage.store import Store
from tests.core.test_report import embedded_figures
from tests.core.test_report_bundle import MAX_REPORT_BYTES
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import no_errors, settle


def assert_opens_offline(browser: Browser, saved: Path, screenshot: str) -> None:
    """Open ``saved`` with networking off and every request but the file refused; every chart must draw."""
    charts = len(embedded_figures(saved.read_text(encoding="utf-8")))
    assert charts > 0
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
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    context.close()
    assert not errors, errors
    assert not asked, asked


def test_the_saved_report_draws_every_chart_offline(store: Store, demo_instance: str, browser, tmp_path: Path) -> None:
    demo = next(w for w in store.list_workspaces(username="local") if w.name == DEMO_WORKSPACE)
    assert demo.id is not None
    saved = tmp_path / "Demo-report.html"
    saved.write_text(render_html(build_report(store, workspace_id=demo.id, actor="local")), encoding="utf-8")
    assert_opens_offline(browser, saved, "report_offline.png")


def test_the_report_downloaded_from_the_overview_is_small_and_opens_offline(
    app, page: Page, browser, tmp_path: Path
) -> None:
    app.cli("demo")
    page.goto(f"{app.url}/?workspace=Demo")
    settle(page)
    page.get_by_role("button", name="Prepare report").click()
    settle(page, timeout=240)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download HTML").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "flywheel-report-Demo.html"
    assert saved.stat().st_size < MAX_REPORT_BYTES, f"{saved.stat().st_size:,} bytes"
    no_errors(page)
    assert_opens_offline(browser, saved, "report_downloaded_offline.png")
