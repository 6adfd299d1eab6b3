"""Sign-in modes in the app: built-in accounts, OIDC through st.login (AppTest's user simulation), hosted."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store
from tests.app.conftest import REPO, shown


@pytest.fixture
def team(app_env, monkeypatch) -> Store:
    """Two workspaces: alice owns Alpha, bob views Beta."""
    store = Store(load_settings(app_env))
    alpha = store.create_workspace(name="Alpha", actor="alice@example.com")
    beta = store.create_workspace(name="Beta", actor="carol@example.com")
    store.set_member(workspace_id=beta.id, username="bob@example.com", role="viewer", actor="carol@example.com")
    store.add_user(username="alice@example.com", password="correct horse battery")
    assert alpha.id and beta.id
    return store


def _app(**secrets) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.secrets.update(secrets)
    return at


def test_accounts_mode_signs_in_and_shows_only_my_workspaces(team, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_AUTH", "accounts")
    at = _app()
    at.run()
    assert at.text_input(key="app.username") is not None and not at.sidebar.selectbox
    at.text_input(key="app.username").set_value("alice@example.com")
    at.text_input(key="app.password").set_value("wrong password!")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    assert "flywheel user add" not in " ".join(e.value for e in at.error)  # no admin commands for end users
    at.text_input(key="app.password").set_value("correct horse battery")
    at.button[0].click().run()
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox[0].options == ["Alpha"]


def test_oidc_without_secrets_explains_what_to_configure(team, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_AUTH", "oidc")
    at = _app()
    at.run()
    assert any("[auth]" in e.value for e in at.error)
    assert not at.sidebar.selectbox


def test_oidc_user_sees_only_their_workspaces_with_their_role(team, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_AUTH", "oidc")
    at = _app(
        auth={
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "cookie_secret": "x" * 32,
            "client_id": "id",
            "client_secret": "s",
            "server_metadata_url": "https://id.example.com/.well-known/openid-configuration",
        }
    )
    at.user = {"is_logged_in": False}
    at.run()
    assert any(b.label == "Sign in" for b in at.button) and not at.sidebar.selectbox
    at.user = {"is_logged_in": True, "email": "bob@example.com"}  # the provider did not verify the address
    at.run()
    assert any("verified e-mail" in e.value for e in at.error) and not at.sidebar.selectbox
    at.user = {"is_logged_in": True, "email": "bob@example.com", "email_verified": True}
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox[0].options == ["Beta"]
    assert any("role **viewer**" in c.value for c in at.sidebar.caption)


def test_hosted_instance_refuses_to_start_without_sign_in(app_env, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_HOSTED", "1")
    at = _app()
    at.run()
    assert any("FLYWHEEL_HOSTED is set but sign-in is off" in shown(e.value) for e in at.error)
    assert not at.sidebar.selectbox


def test_sign_in_is_throttled_per_account_and_says_when_to_try_again(team, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_AUTH", "accounts")
    at = _app()
    at.run()
    for _ in range(5):
        at.text_input(key="app.username").set_value("alice@example.com")
        at.text_input(key="app.password").set_value("a wrong guess")
        at.button[0].click().run()
    at.text_input(key="app.password").set_value("correct horse battery")  # even the right one waits now
    at.button[0].click().run()
    assert any("Too many failed sign-ins: try again in 15 minutes." in e.value for e in at.error)
    assert not at.sidebar.selectbox
