"""OIDC end to end: Chromium, `streamlit run` with st.login, and a real local OpenID Connect provider.

The provider is ``oidc-provider-mock`` (a Flask/Authlib server, started here on a free port) with two
predefined people: one whose e-mail the provider verified and one whose it did not. The app is started
here rather than by the ``app`` fixture because its ``[auth]`` secrets must name its own port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO, App, _free_port
from tests.e2e.helpers import settle

PEOPLE = [
    {"sub": "ana", "email": "ana@example.com", "email_verified": True},
    {"sub": "mallory", "email": "bo@example.com", "email_verified": False},  # claims bo's address, unverified
]


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def _start(args: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    out = log.open("w")
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait(health, proc, log)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def oidc_app(env: dict[str, str], tmp_path: Path) -> Iterator[App]:
    """A hosted instance signing in through a local OpenID Connect provider."""
    provider_port, app_port = _free_port(), _free_port()
    provider = f"http://127.0.0.1:{provider_port}"
    claims = [arg for person in PEOPLE for arg in ("--user-claims", json.dumps(person))]
    idp = _start(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(provider_port), *claims],
        {**os.environ},
        tmp_path / "provider.log",
        f"{provider}/.well-known/openid-configuration",
    )
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{"c" * 40}"\n'
        'client_id = "flywheel-studio"\n'
        'client_secret = "a client secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        'client_kwargs = { scope = "openid email profile" }\n'
    )
    full_env = {
        **os.environ,
        **env,
        "FLYWHEEL_AUTH": "oidc",
        "FLYWHEEL_HOSTED": "on",
        "AUTHLIB_INSECURE_TRANSPORT": "1",  # the local provider speaks plain http
    }
    url = f"http://127.0.0.1:{app_port}"
    streamlit = _start(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.port",
            str(app_port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--secrets.files",
            str(secrets),
        ],
        full_env,
        tmp_path / "streamlit.log",
        f"{url}/_stcore/health",
    )
    try:
        yield App(url, Path(env["FLYWHEEL_DATA_DIR"]), full_env)
    finally:
        _stop(streamlit)
        _stop(idp)


def _team(app: App) -> None:
    from flywheel_core.config import load_settings
    from flywheel_core.storage.store import Store

    store = Store(load_settings(app.env))
    growth = store.create_workspace(name="Growth", actor="ana@example.com")
    store.set_member(workspace_id=growth.id, username="bo@example.com", role="viewer", actor="ana@example.com")
    store.engine.dispose()


def _through_the_provider(page: Page, app: App, sub: str) -> None:
    page.goto(app.url)
    sign_in = page.get_by_role("button", name="Sign in")
    expect(sign_in).to_be_visible()
    settle(page)
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    sign_in.click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()  # the provider's own page
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(f"{app.url}/**")
    settle(page)


def test_a_verified_identity_signs_in_through_the_provider_and_lands_in_its_workspace(oidc_app, page: Page) -> None:
    _team(oidc_app)
    _through_the_provider(page, oidc_app, "ana")
    expect(page.locator("[data-testid='stSidebarNav']")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_contain_text("ana@example.com")
    expect(page.get_by_text("role owner")).to_be_visible()
    page.reload()  # Streamlit's identity cookie keeps the sign-in
    settle(page)
    expect(page.get_by_text("Signed in as")).to_contain_text("ana@example.com")
    oidc_app_cli = oidc_app.cli("user", "disable", "ana@example.com")
    assert "disabled" in oidc_app_cli.stdout
    page.reload()
    settle(page)
    expect(page.get_by_text("This account is disabled")).to_be_visible()
    assert page.locator("[data-testid='stSidebarNav']").count() == 0


def test_an_identity_without_a_verified_email_is_refused(oidc_app, page: Page) -> None:
    _team(oidc_app)
    _through_the_provider(page, oidc_app, "mallory")
    expect(page.get_by_text("did not confirm a verified e-mail address")).to_be_visible()
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    assert page.get_by_text("Signed in as").count() == 0
