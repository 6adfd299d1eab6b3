"""Small Playwright helpers for Streamlit pages."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

# A loaded 2-core machine (CI runs the suite on both cores) can take longer than Playwright's 5 s default
# to open the database on a first page: wait on what the user waits on, with room.
expect.set_options(timeout=30_000)


def settle(page: Page, quiet_seconds: float = 0.8, timeout: float = 120) -> None:
    """Wait until the app has finished its current run (the 'Running…' status is gone for a while)."""
    deadline = time.monotonic() + timeout
    status = page.locator("[data-testid='stStatusWidget']")
    quiet_since = None
    while time.monotonic() < deadline:
        if status.count() and status.first.is_visible():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(0.1)
    raise AssertionError("the app kept running for too long")


def open_page(page: Page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    settle(page)
    expect(page.locator("h1").first).to_be_visible()


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def no_errors(page: Page) -> None:
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)
