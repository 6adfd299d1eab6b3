"""A built-in account's session in a real browser: it survives a reload and a new tab, and ends on the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import open_page, settle

PASSWORD = "a long enough pass"


def _team(app) -> None:
    from flywheel_core.config import load_settings
    from flywheel_core.storage.store import Store

    store = Store(load_settings(app.env))
    for name in ("ana@example.com", "bo@example.com"):
        store.add_user(username=name, password=PASSWORD)
    growth = store.create_workspace(name="Growth", actor="ana@example.com")
    store.set_member(workspace_id=growth.id, username="bo@example.com", role="viewer", actor="ana@example.com")
    store.engine.dispose()


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    settle(page)
    page.get_by_label("E-mail or username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    expect(page.get_by_text("Signed in as")).to_be_visible()


def _signed_in(page: Page) -> None:
    expect(page.locator("[data-testid='stSidebarNav']")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def _signed_out(page: Page) -> None:
    expect(page.get_by_label("E-mail or username")).to_be_visible()
    assert page.locator("[data-testid='stSidebarNav']").count() == 0


@pytest.mark.parametrize("app", ["accounts"], indirect=True)
def test_a_session_survives_a_reload_and_a_new_tab_and_sign_out_ends_it(app, page: Page) -> None:
    _team(app)
    _sign_in(page, app.url, "ana@example.com")
    cookie = next(c for c in page.context.cookies() if c["name"] == "flywheel_session")
    assert (cookie["path"], cookie["sameSite"], cookie["secure"]) == ("/", "Strict", False)  # http: not Secure
    assert cookie["expires"] > 0  # a lifetime, not a cookie that dies with the window
    page.reload()
    settle(page)
    _signed_in(page)
    other = page.context.new_page()  # a new tab of the same browser
    other.goto(app.url)
    settle(other)
    _signed_in(other)
    open_page(other, "Workspace")
    other.get_by_role("button", name="Sign out", exact=True).click()
    settle(other)
    _signed_out(other)
    expect(other.get_by_text("Signed out.")).to_be_visible()
    assert not [c for c in other.context.cookies() if c["name"] == "flywheel_session"]  # cleared in the browser
    page.reload()  # the first tab's session ended on the server too
    settle(page)
    _signed_out(page)


@pytest.mark.parametrize("app", ["accounts"], indirect=True)
def test_sign_out_everywhere_and_disabling_end_other_browsers_sessions(app, page: Page, browser) -> None:
    _team(app)
    _sign_in(page, app.url, "ana@example.com")
    stolen = [c for c in page.context.cookies() if c["name"] == "flywheel_session"]
    laptop = browser.new_context(viewport={"width": 1400, "height": 2000})
    try:
        second = laptop.new_page()
        _sign_in(second, app.url, "ana@example.com")
        second.get_by_role("button", name="Sign out everywhere").click()
        settle(second)
        _signed_out(second)
        expect(second.get_by_text("Signed out everywhere.")).to_be_visible()
    finally:
        laptop.close()
    open_page(page, "Workspace")  # the next rerun of the first browser: its session is gone
    _signed_out(page)
    expect(page.get_by_text("You were signed out")).to_be_visible()
    thief = browser.new_context()  # a copied cookie opens nothing once the session is revoked
    try:
        thief.add_cookies(stolen)
        copy = thief.new_page()
        copy.goto(app.url)
        settle(copy)
        _signed_out(copy)
    finally:
        thief.close()

    _sign_in(page, app.url, "bo@example.com")
    app.cli("user", "disable", "bo@example.com")
    open_page(page, "Overview")
    _signed_out(page)
    expect(page.get_by_text("This account is disabled")).to_be_visible()
    page.get_by_label("E-mail or username").fill("bo@example.com")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    expect(page.get_by_text("This account is disabled")).to_be_visible()
    app.cli("user", "enable", "bo@example.com")
    page.get_by_role("button", name="Sign in").click()
    settle(page)
    _signed_in(page)
