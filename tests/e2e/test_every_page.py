"""Every page and tab after loading the demo (1280 px; FLYWHEEL_E2E_ALL_WIDTHS=1 adds 1920); choices kept in the URL over a reload.

Screenshots go to the journey artifacts (``FLYWHEEL_E2E_ARTIFACTS``) as ``every_page-<width>-<view>.png``;
the ``app`` fixture fails a journey whose server log shows a warning or a stack trace.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import choose, no_errors, settle

DEMO = "workspace=Demo"
# (page path, query, tab to see, name of the screenshot)
VIEWS = [
    ("", "", None, "overview"),
    ("map_loop", "", "Version history", "map-history"),
    ("map_loop", "map.tab=Export+and+import", "Export and import", "map-export"),
    ("map_loop", "map.tab=Canvas+lint", "Canvas lint", "map-lint"),
    ("interaction_data", "", "Upload", "data-upload"),
    ("interaction_data", "data.tab=Datasets", "Datasets", "data-datasets"),
    ("interaction_data", "data.tab=Explore", "Explore", "data-explore"),
    ("train_compare", "", "Train", "train"),
    ("train_compare", "train_compare.tab=Registry+%26+compare", "Registry & compare", "train-registry"),
    ("train_compare", "train_compare.tab=Experiments", "Experiments", "train-experiments"),
    ("train_compare", "train_compare.tab=In+production", "In production", "train-production"),
    ("curves", "", "Judge a series", "curves-typed"),
    ("curves", "curves.source=Model+versions", "Judge a series", "curves-versions"),
    ("curves", "curves.source=Simulation", "Judge a series", "curves-simulation"),
    ("curves", "curves.tab=Simulate+a+flywheel", "Simulate a flywheel", "curves-simulate"),
    ("workspace", "", None, "workspace"),
]


def _open(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("h1").first).to_be_visible()
    _drawn(page)


def _drawn(page: Page) -> None:
    """Wait until every widget has replaced its loading skeleton (they are fetched lazily) and the run is over."""
    expect(page.locator("[data-testid='stSkeleton']")).to_have_count(0)
    settle(page, quiet_seconds=0.5)


def _screenshot(page: Page, width: int, name: str) -> None:
    """The whole page: Streamlit scrolls an inner container, so the viewport is made as tall as the page."""
    settle(page)  # Streamlit shows 'Running' only after a moment: a slow chart (the tornado) may still come
    height = page.evaluate("document.querySelector(\"[data-testid='stMainBlockContainer']\").scrollHeight")
    page.set_viewport_size({"width": width, "height": max(900, int(height) + 160)})
    expect(page.locator("[data-testid='stSkeleton']")).to_have_count(0)  # a taller viewport only lays out again
    page.screenshot(path=str(ARTIFACTS / f"every_page-{width}-{name}.png"), full_page=True)
    page.set_viewport_size({"width": width, "height": 1200})


def _selected_tab(page: Page, name: str) -> None:
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")


# The narrower desktop width by default (cut-off labels show there first); FLYWHEEL_E2E_ALL_WIDTHS=1 adds 1920,
# as before a release (each width takes about a minute).
WIDTHS = [1280, 1920] if os.environ.get("FLYWHEEL_E2E_ALL_WIDTHS") == "1" else [1280]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_and_tab_renders_at_desktop_widths(app, browser, width: int) -> None:
    app.cli("demo")
    context = browser.new_context(viewport={"width": width, "height": 1200})
    context.set_default_timeout(60_000)
    page = context.new_page()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        for path, query, tab, shot in VIEWS:
            _open(page, f"{app.url}/{path}?{DEMO}" + (f"&{query}" if query else ""))
            if tab is not None:
                _selected_tab(page, tab)
            if shot == "data-explore" or shot.startswith("curves"):
                expect(page.locator(".js-plotly-plot:visible").first).to_be_visible()
            no_errors(page)
            _screenshot(page, width, shot)
    finally:
        context.close()


def test_choices_survive_a_reload_and_unknown_ones_fall_back(app, page: Page) -> None:
    app.cli("demo")
    _open(page, f"{app.url}/train_compare?{DEMO}")
    choose(page, "Dataset", "Vehicle fleet (demo)")
    page.get_by_role("tab", name="Registry & compare", exact=True).click()
    settle(page)
    shared = page.url
    query = parse_qs(urlparse(shared).query)
    assert query["workspace"] == ["Demo"], shared
    assert query["train_compare.dataset"] == ["Vehicle fleet (demo)"], shared
    assert query["train_compare.tab"] == ["Registry & compare"], shared
    page.reload()
    settle(page)
    expect(page.get_by_role("combobox", name="Dataset")).to_have_value("Vehicle fleet (demo)")
    _selected_tab(page, "Registry & compare")
    expect(page.get_by_text("Compare versions")).to_be_visible()
    no_errors(page)

    # A shared link opens the same view in a new session.
    other = page.context.new_page()
    _open(other, shared)
    expect(other.get_by_role("combobox", name="Dataset")).to_have_value("Vehicle fleet (demo)")
    _selected_tab(other, "Registry & compare")
    other.close()

    # The curves page keeps its source and dataset.
    _open(page, f"{app.url}/curves?{DEMO}")
    page.get_by_text("Model versions", exact=True).click()
    settle(page)
    choose(page, "Dataset", "Support assistant (demo)")
    page.reload()
    settle(page)
    expect(page.get_by_role("radio", name="Model versions")).to_be_checked()
    expect(page.get_by_role("combobox", name="Dataset")).to_have_value("Support assistant (demo)")
    no_errors(page)

    # Values nobody can have chosen fall back to the defaults with no error, and leave the URL.
    bad = quote("A deleted dataset")
    _open(page, f"{app.url}/train_compare?workspace=Nowhere&train_compare.dataset={bad}&train_compare.tab=Nope")
    no_errors(page)
    expect(page.get_by_role("combobox", name="Dataset")).to_have_value("Music streaming (demo)")
    _selected_tab(page, "Train")
    settle(page)
    query = parse_qs(urlparse(page.url).query)
    assert query.get("workspace") == ["Demo"], page.url
    assert "train_compare.dataset" not in query and "train_compare.tab" not in query, page.url


def test_creating_a_workspace_switches_to_it_with_a_clean_log(app, page: Page) -> None:
    _open(page, f"{app.url}/workspace")
    page.get_by_label("Name", exact=True).fill("Growth team")
    page.get_by_role("button", name="Create workspace").click()
    settle(page)
    expect(page.get_by_role("combobox", name="Workspace")).to_have_value("Growth team")
    assert parse_qs(urlparse(page.url).query).get("workspace") == ["Growth team"], page.url
    no_errors(page)
