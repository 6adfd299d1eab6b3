"""The main journeys, in a real browser."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import choose, no_errors, open_page, settle

PAGES = ["Overview", "Map the loop", "Interaction data", "Train & compare", "Compounding vs plateau", "Workspace"]


def test_newcomer_loads_the_demo_and_visits_every_page(app, page: Page) -> None:
    page.goto(app.url)
    settle(page)
    expect(page.get_by_text("Does your data flywheel compound?")).to_be_visible()
    page.get_by_role("button", name="Load the demo workspace").click()
    settle(page, timeout=240)
    # The load may start after settle() saw a quiet page: wait for its outcome, not for a quiet spell.
    expect(page.locator("[data-testid='stMetricValue']").nth(1)).to_have_text("4", timeout=240_000)  # four datasets
    settle(page)
    for title in PAGES:
        open_page(page, title)
        no_errors(page)
        if title == "Interaction data":
            page.get_by_role("tab", name="Explore").click()
            settle(page)
            expect(page.locator(".js-plotly-plot").first).to_be_visible()
            expect(page.locator(".js-plotly-plot").nth(5)).to_be_visible()  # charts render one by one
        if title == "Map the loop":
            expect(page.locator("[data-testid='stGraphVizChart']").first).to_be_visible()
        no_errors(page)


def test_product_manager_maps_a_loop_from_a_template(app, page: Page) -> None:
    page.goto(f"{app.url}/map_loop")
    settle(page)
    choose(page, "Start from a seed case", "Klarna")
    page.get_by_role("button", name="Start from template").click()
    settle(page)
    diagnosis = page.locator("[data-testid='stMain']")
    expect(diagnosis.get_by_text("Feedback loop", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Save version").click()
    settle(page)
    expect(page.get_by_text("as version 1", exact=False).first).to_be_visible()
    # Break the Feedback stage: empty what it is, its system and owner; the diagnosis turns to "broken".
    for field in ("What it is here", "System", "Owner", "Evidence"):
        box = page.get_by_label(field, exact=True).nth(4)  # the fifth card is Feedback
        box.fill("")
        box.press("Tab")
        settle(page)
    expect(page.get_by_text("Broken", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Save version").click()
    settle(page)
    expect(page.get_by_text("as version 2", exact=False).first).to_be_visible()
    page.get_by_role("tab", name="Export and import").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download Markdown brief").click()
    brief = download.value.path().read_text()
    assert "Klarna" in brief and "broken" in brief.lower()
    no_errors(page)


def test_bad_file_upload_shows_a_clear_message_and_changes_nothing(app, page: Page, tmp_path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("user,timestamp,event\nu1,2026-01-01,click\nu2,2026-01-02,skip\n")
    app.cli("ingest", str(good), "--dataset", "earlier")
    bad = tmp_path / "bad.csv"
    bad.write_text("user,timestamp,event\nu1,2026-01-01,click\nu2,the day after,click\n")
    page.goto(f"{app.url}/interaction_data")
    settle(page)
    page.locator("input[type='file']").set_input_files(str(bad))
    settle(page)
    page.get_by_role("button", name="Check and import").click()
    settle(page)
    error = page.locator("[data-testid='stAlertContentError']").first
    expect(error).to_contain_text("'bad.csv' was not stored")
    expect(error).to_contain_text("row 2: 'the day after'")
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    datasets = json.loads(app.cli("datasets", "--json").stdout)["datasets"]
    assert [d["name"] for d in datasets] == ["earlier"]
    page.get_by_role("tab", name="Datasets", exact=True).click()
    settle(page)
    expect(page.get_by_text("1 dataset in this workspace.")).to_be_visible()  # the list still holds only 'earlier'


def test_analyst_uploads_trains_compares_and_reads_the_verdict(app, page: Page, tmp_path) -> None:
    from flywheel_core.demo import make_demo_events

    frame = make_demo_events("music", 6_000).rename(columns={"user": "listener"})
    log = tmp_path / "plays.csv"
    frame.to_csv(log, index=False)
    page.goto(f"{app.url}/interaction_data")
    settle(page)
    page.locator("input[type='file']").set_input_files(str(log))
    settle(page)
    choose(page, "user *", "listener")  # not a common name: the analyst maps it
    name = page.get_by_label("Dataset name")
    name.fill("plays")
    name.press("Enter")
    settle(page)
    page.get_by_role("button", name="Check and import").click()
    settle(page, timeout=180)
    expect(page.locator("[data-testid='stAlertContentSuccess']").first).to_contain_text("as dataset plays")
    page.get_by_role("tab", name="Explore").click()
    settle(page)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.locator(".js-plotly-plot").nth(5)).to_be_visible()  # charts render one by one
    no_errors(page)

    open_page(page, "Train & compare")
    page.get_by_role("button", name="Train versions").click()
    settle(page)
    deadline = time.monotonic() + 300  # the run is a background job: wait for its five versions
    while len(json.loads(app.cli("versions", "plays", "--json").stdout)["versions"]) < 5:
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(2)
    page.reload()
    settle(page)
    page.get_by_role("tab", name="Registry & compare").click()
    settle(page)
    expect(page.get_by_text("Compare versions")).to_be_visible()
    expect(page.get_by_text("By segment", exact=False)).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(
        page.locator(".js-plotly-plot").nth(1)
    ).to_be_visible()  # metric by version, and ROC/PR/calibration  # charts render one by one
    no_errors(page)
    versions = json.loads(app.cli("versions", "plays", "--json").stdout)["versions"]
    assert len(versions) == 5

    open_page(page, "Compounding vs plateau")
    page.get_by_text("Model versions", exact=True).click()
    settle(page)
    # The page and the CLI gate judge the same versions from the same evidence: they must agree.
    from flywheel_core.curves.terms import Verdict

    expected = json.loads(app.cli("verdict", "plays", "--json").stdout)
    verdict = page.locator("[data-testid='stAlert']").first
    expect(verdict).to_contain_text(Verdict(expected["verdict"]).label)
    if expected["verdict"] != "insufficient_data":
        expect(verdict).to_contain_text(f"confidence {expected['confidence']:.0%}")
    no_errors(page)


@pytest.mark.parametrize("app", ["accounts"], indirect=True)
def test_a_hosted_instance_shows_only_a_sign_in_card_until_sign_in(app, page: Page) -> None:
    from flywheel_core.config import load_settings
    from flywheel_core.storage.store import Store

    store = Store(load_settings(app.env))
    store.add_user(username="ana@example.com", password="a long enough pass")
    store.create_workspace(name="Growth", actor="ana@example.com")
    store.engine.dispose()
    page.goto(app.url)
    settle(page)
    expect(page.get_by_label("E-mail or username")).to_be_visible()
    password = page.get_by_role("textbox", name="Password")
    assert password.get_attribute("autocomplete") == "current-password"
    assert page.locator("[data-testid='stSidebarNav']").count() == 0  # no map of the product before sign-in
    page.get_by_label("E-mail or username").fill("ana@example.com")
    password.fill("a long enough pass")
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    expect(page.locator("[data-testid='stSidebarNav']")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_be_visible()
    no_errors(page)
