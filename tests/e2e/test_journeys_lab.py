"""Journeys through the lab, at 1280 and 1920 px: the simulator, an experiment, the report download, a
training refused before it is queued and one that fails while it runs, each with its screenshots."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import choose, no_errors, settle

WIDTHS = [1280, 1920]
# Each journey runs at one of the two widths (test_every_page.py draws every page and tab at both); set
# FLYWHEEL_E2E_ALL_WIDTHS=1 to run every journey at both, as before a release.
ALL_WIDTHS = os.environ.get("FLYWHEEL_E2E_ALL_WIDTHS") == "1"
JOURNEY_WIDTH = {
    "test_the_simulator_answers_a_knob_with_a_new_curve_and_verdict": 1920,
    "test_an_experiment_runs_to_its_result_sentence": 1280,
    "test_the_report_downloads_as_html_naming_the_workspace": 1920,
    "test_a_training_that_cannot_work_is_refused_before_it_is_queued": 1280,
    "test_a_training_that_fails_while_it_runs_shows_its_whole_reason_on_the_train_tab": 1920,
    "test_a_finished_training_opens_its_versions_in_the_registry": 1280,
    "test_failed_sign_ins_say_what_happened_and_then_when_to_try_again": 1920,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "wide_page" in metafunc.fixturenames:
        widths = WIDTHS if ALL_WIDTHS else [JOURNEY_WIDTH.get(metafunc.function.__name__, 1280)]
        metafunc.parametrize("page_width", widths, ids=[f"{w}px" for w in widths])


@pytest.fixture
def wide_page(browser, page_width: int) -> Iterator[Page]:
    """A page of the given width (tall: Streamlit scrolls an inner container, screenshots show the viewport)."""
    context = browser.new_context(viewport={"width": page_width, "height": 2000}, accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, request: pytest.FixtureRequest, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(ARTIFACTS / f"lab-{request.node.originalname}-{step}-{width}px.png"))


def _csv(tmp_path: Path, name: str, archetype: str = "music", n: int = 3_000) -> Path:
    from flywheel_core.demo import make_demo_events

    path = tmp_path / f"{name}.csv"
    make_demo_events(archetype, n).to_csv(path, index=False)
    return path


def _main(page: Page):
    return page.locator("[data-testid='stMain']")


def _jobs(app) -> list[dict[str, object]]:
    """The workspace's jobs as the worker left them (read from the instance's database)."""
    from flywheel_core.config import load_settings
    from flywheel_core.storage.store import Store

    store = Store(load_settings(app.env), migrate=False)
    try:
        workspace = store.get_workspace(name=store.settings.default_workspace)
        return [{"status": j.status, "error": j.error} for j in store.list_jobs(workspace_id=workspace.id)]
    finally:
        store.engine.dispose()


def _sim_alert(page: Page):
    return page.locator("[data-testid='stTabPanel']:visible [data-testid='stAlert']").first


def _curves(page: Page) -> str:
    """The simulator chart's traces' y values as plotly holds them in the page (a fingerprint of the curve)."""
    return str(
        page.locator("[data-testid='stTabPanel']:visible .js-plotly-plot").first.evaluate(
            "(el) => JSON.stringify(el.data.map((trace) => trace.y))"
        )
    )


def test_the_simulator_answers_a_knob_with_a_new_curve_and_verdict(app, wide_page: Page, request) -> None:
    page = wide_page
    page.goto(f"{app.url}/curves")
    settle(page)
    page.get_by_role("tab", name="Simulate a flywheel").click()
    settle(page)
    expect(_sim_alert(page)).to_contain_text(re.compile("spotify: compounding", re.IGNORECASE))
    before = _curves(page)
    shot(page, request, "compounding")
    page.locator("[data-testid='stExpander']").get_by_text("Application", exact=True).click()
    days = page.get_by_label("Cycle time, data to production (days)", exact=True)
    days.fill("365")
    days.press("Enter")
    settle(page)
    expect(_sim_alert(page)).to_contain_text(re.compile("spotify: plateau", re.IGNORECASE))  # a yearly cycle: no gain
    assert _curves(page) != before  # the curve moved with the knob
    no_errors(page)
    shot(page, request, "plateau")


def test_an_experiment_runs_to_its_result_sentence(app, wide_page: Page, request, tmp_path) -> None:
    page = wide_page
    app.cli("ingest", str(_csv(tmp_path, "plays")), "--dataset", "plays")
    page.goto(f"{app.url}/train_compare")
    settle(page)
    page.get_by_role("tab", name="Experiments").click()
    settle(page)
    choose(page, "Experiment", "curation")
    repeats = page.get_by_role("slider", name="Repeats")
    repeats.focus()
    for _ in range(3):  # 5 -> 2, the fewest: the journey waits on the run
        repeats.press("ArrowLeft")
    settle(page)
    page.get_by_role("button", name="Run experiment").click()
    settle(page)
    heading = _main(page).get_by_role("heading", name="Curation: bot-like users and duplicates kept vs removed")
    expect(heading).to_be_visible(timeout=240_000)  # the page reruns itself when the job is done
    settle(page)
    expect(page.locator("[data-testid='stTabPanel']:visible .js-plotly-plot").first).to_be_visible()
    sentence = _main(page).get_by_text("95% interval", exact=False).first
    expect(sentence).to_be_visible()
    scored = _main(page).locator("[data-testid='stMetric']").filter(has_text="Repeats scored")
    expect(scored.locator("[data-testid='stMetricValue']")).to_have_text(re.compile(r"^[0-2] of 2$"))
    no_errors(page)
    shot(page, request, "result")


def test_the_report_downloads_as_html_naming_the_workspace(app, wide_page: Page, request, tmp_path) -> None:
    from flywheel_core.config import load_settings

    page = wide_page
    app.cli("ingest", str(_csv(tmp_path, "plays")), "--dataset", "plays")
    workspace = load_settings(app.env).default_workspace
    page.goto(app.url)
    settle(page)
    page.get_by_role("button", name="Prepare report").click()
    settle(page, timeout=180)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download HTML").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.exists() and saved.suffix == ".html"
    html = saved.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert workspace in html and "plays" in html
    no_errors(page)
    shot(page, request, "downloaded")


def test_a_training_that_cannot_work_is_refused_before_it_is_queued(app, wide_page: Page, request, tmp_path) -> None:
    page = wide_page
    clicks = tmp_path / "clicks.csv"
    clicks.write_text("user,item,timestamp,event\n" + "".join(
        f"u{n % 30},i{n % 7},2026-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z,click\n" for n in range(300)
    ))  # fmt: skip
    app.cli("ingest", str(clicks), "--dataset", "clicks only")
    page.goto(f"{app.url}/train_compare")
    settle(page)
    page.get_by_role("button", name="Train versions").click()
    settle(page)
    error = page.locator("[data-testid='stAlertContentError']").first
    expect(error).to_contain_text("every one of the 300 feedback events of 'clicks only' is positive ('click')")
    expect(error).to_contain_text("Mark some events negative")
    expect(_main(page).get_by_text("Recent runs")).to_have_count(0)  # nothing was queued
    assert _jobs(app) == []
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    shot(page, request, "refused")


@pytest.fixture
def paused_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest):
    """The app, with every training worker holding after its first turn until ``release`` exists."""
    folder = tmp_path / "pause"
    folder.mkdir()
    monkeypatch.setenv("FLYWHEEL_PAUSE_AT", "after_training_turn")
    monkeypatch.setenv("FLYWHEEL_PAUSE_DIR", str(folder))
    app = request.getfixturevalue("app")  # started after the variables are set: its workers inherit them
    app.pause_dir = folder
    return app


def test_a_training_that_fails_while_it_runs_shows_its_whole_reason_on_the_train_tab(
    paused_app, wide_page: Page, request, tmp_path
) -> None:
    app, page = paused_app, wide_page
    app.cli("ingest", str(_csv(tmp_path, "doomed")), "--dataset", "doomed")
    app.cli("ingest", str(_csv(tmp_path, "kept", "support")), "--dataset", "kept")
    page.goto(f"{app.url}/train_compare")
    settle(page)
    choose(page, "Dataset", "doomed")
    page.get_by_role("button", name="Train versions").click()
    settle(page)
    reached = app.pause_dir / "after_training_turn.reached"
    deadline = time.monotonic() + 180
    while not reached.exists():
        assert time.monotonic() < deadline, "the training never reached its first turn"
        time.sleep(0.2)
    app.cli("dataset", "delete", "doomed", "--yes")  # a colleague deletes the dataset while it trains
    (app.pause_dir / "after_training_turn.release").write_text("")
    deadline = time.monotonic() + 180
    while not any(j["status"] == "failed" for j in _jobs(app)):
        assert time.monotonic() < deadline, "the training did not fail"
        time.sleep(0.5)
    reason = "The dataset was deleted while the training ran; no version of this run was stored."
    assert [j["error"] for j in _jobs(app)] == [reason]
    page.reload()
    settle(page)
    error = page.locator("[data-testid='stTabPanel']:visible [data-testid='stAlertContentError']").first
    expect(error).to_contain_text("Run 1 (training on 'doomed', started")
    expect(error).to_contain_text(f"failed: {reason}")  # whole, in words, where the run was started
    page.get_by_text("Why this run failed").click()
    settle(page)
    expect(_main(page).get_by_text(reason).last).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    shot(page, request, "failed")
    assert json.loads(app.cli("datasets", "--json").stdout)["datasets"][0]["name"] == "kept"


def test_a_finished_training_opens_its_versions_in_the_registry(app, wide_page: Page, request, tmp_path) -> None:
    page = wide_page
    app.cli("ingest", str(_csv(tmp_path, "plays")), "--dataset", "plays")
    page.goto(f"{app.url}/train_compare")
    settle(page)
    page.get_by_role("button", name="Train versions").click()
    settle(page)
    opener = page.get_by_role("button", name="Open versions 1–5 in the registry")
    expect(opener).to_be_visible(timeout=240_000)  # the page reruns itself when the job is done
    expect(_main(page).get_by_text("made versions 1–5", exact=False)).to_be_visible()
    shot(page, request, "made")
    opener.click()
    settle(page)
    expect(page.get_by_role("tab", name="Registry & compare")).to_have_attribute("aria-selected", "true")
    picked = page.locator("[data-testid='stMultiSelect']").filter(has_text="Versions")
    for version in range(1, 6):
        expect(picked.get_by_text(f"v{version}", exact=True)).to_be_visible()
    assert "train_compare.tab=Registry" in page.url  # the registry view is a link that survives a reload
    no_errors(page)
    shot(page, request, "registry")


@pytest.mark.parametrize("app", ["accounts"], indirect=True)
def test_failed_sign_ins_say_what_happened_and_then_when_to_try_again(app, wide_page: Page, request) -> None:
    from flywheel_core.config import load_settings
    from flywheel_core.storage.store import Store

    store = Store(load_settings(app.env))
    store.add_user(username="ana@example.com", password="a long enough pass")
    store.create_workspace(name="Growth", actor="ana@example.com")
    store.engine.dispose()
    page = wide_page
    page.goto(app.url)
    settle(page)
    error = page.locator("[data-testid='stAlertContentError']")
    for attempt in range(5):  # the account's allowance in the window
        page.get_by_label("E-mail or username").fill("ana@example.com")
        page.get_by_role("textbox", name="Password").fill(f"a wrong guess {attempt}")
        page.get_by_role("button", name="Sign in").click()
        settle(page)
        expect(error.locator("p")).to_have_text(
            "Unknown e-mail or username, or a wrong password. No account yet? Ask your workspace's owner."
        )
        assert page.locator("[data-testid='stSidebarNav']").count() == 0  # nothing of the product shown
    shot(page, request, "wrong-password")
    page.get_by_label("E-mail or username").fill("ana@example.com")
    page.get_by_role("textbox", name="Password").fill("a long enough pass")  # right, but too late
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    expect(error.locator("p")).to_have_text(re.compile(r"^Too many failed sign-ins: try again in 1[45] minutes\.$"))
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    shot(page, request, "locked")
