"""Sessions in the app (AppTest): the cookie is written, every rerun asks the server, sign-out and disabling end it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from flywheel_core.config import load_settings
from flywheel_core.storage.engine import session_scope
from flywheel_core.storage.models import UserSession, as_utc
from flywheel_core.storage.store import Store
from tests.app.conftest import REPO

PASSWORD = "correct horse battery"


@pytest.fixture
def team(app_env, monkeypatch) -> Store:
    """ana owns Alpha, where bo views; dee is also in Beta, which cy owns."""
    monkeypatch.setenv("FLYWHEEL_AUTH", "accounts")
    store = Store(load_settings({**app_env, "FLYWHEEL_AUTH": "accounts"}))
    alpha = store.create_workspace(name="Alpha", actor="ana@example.com")
    beta = store.create_workspace(name="Beta", actor="cy@example.com")
    for name in ("ana@example.com", "bo@example.com", "dee@example.com"):
        store.add_user(username=name, password=PASSWORD)
    store.set_member(workspace_id=alpha.id, username="bo@example.com", role="viewer", actor="ana@example.com")
    store.set_member(workspace_id=alpha.id, username="dee@example.com", role="viewer", actor="ana@example.com")
    store.set_member(workspace_id=beta.id, username="dee@example.com", role="viewer", actor="cy@example.com")
    return store


def _signed_in(username: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    at.text_input(key="app.username").set_value(username)
    at.text_input(key="app.password").set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox, [e.value for e in at.error]
    return at


def _cookie_scripts(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.sidebar.get("html") if "document.cookie" in h.proto.body]


def _signed_out(at: AppTest) -> bool:
    return at.text_input(key="app.username") is not None and not at.sidebar.selectbox


def test_sign_in_writes_a_signed_strict_cookie_and_the_session_is_on_the_server(team) -> None:
    at = _signed_in("ana@example.com")
    (script,) = _cookie_scripts(at)
    value = re.search(r"flywheel_session=([^;]+);", script).group(1)
    assert "Path=/" in script and "SameSite=Strict" in script and "Max-Age=43200" in script
    assert "location.protocol==='https:'?'; Secure'" in script
    assert team.resume_session(cookie=value).username == "ana@example.com"  # another process accepts it
    at.run()
    assert not _cookie_scripts(at)  # written once, not on every rerun
    at.sidebar.button(key="app.sign_out").click().run()
    assert _signed_out(at) and any(i.value == "Signed out." for i in at.info)
    (cleared,) = _cookie_scripts(at)
    assert "flywheel_session=; Path=/; Max-Age=0" in cleared
    assert team.resume_session(cookie=value).ended == "signed_out"  # ended on the server, not only here


def test_sign_out_everywhere_ends_the_other_tabs_at_their_next_rerun(team) -> None:
    first, second = _signed_in("ana@example.com"), _signed_in("ana@example.com")
    second.sidebar.button(key="app.sign_out_everywhere").click().run()
    assert _signed_out(second) and any(i.value == "Signed out everywhere." for i in second.info)
    first.run()
    assert _signed_out(first)
    assert any("You were signed out" in i.value for i in first.info)


def test_an_idle_session_expires_on_the_server(team, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_SESSION_IDLE_MINUTES", "5")
    at = _signed_in("ana@example.com")
    with session_scope(team.engine) as session:  # ten minutes pass without a request
        (row,) = session.exec(select(UserSession)).all()
        row.last_seen_at = as_utc(row.last_seen_at) - timedelta(minutes=10)
        session.add(row)
    at.run()
    assert _signed_out(at) and any(i.value == "Your session expired. Sign in again." for i in at.info)


def test_an_owner_disables_a_member_who_is_signed_out_at_once_and_cannot_sign_in(team) -> None:
    bo = _signed_in("bo@example.com")
    ana = _signed_in("ana@example.com")
    ana.switch_page("pages/workspace.py").run()
    assert not ana.exception, ana.exception
    ana.selectbox(key="workspace.disable_name").set_value("bo@example.com").run()
    ana.button(key="workspace.disable").click().run()
    assert not ana.exception and not ana.error, [e.value for e in ana.error]
    assert ana.button(key="workspace.disable").label == "Enable sign-in"
    bo.run()
    assert _signed_out(bo) and any("This account is disabled" in i.value for i in bo.info)
    bo.text_input(key="app.username").set_value("bo@example.com")
    bo.text_input(key="app.password").set_value(PASSWORD)
    bo.button[0].click().run()
    assert any(e.value.startswith("This account is disabled") for e in bo.error) and not bo.sidebar.selectbox
    ana.selectbox(key="workspace.disable_name").set_value("dee@example.com").run()
    ana.button(key="workspace.disable").click().run()  # dee is also in Beta, which ana does not own
    assert any("you do not own" in e.value for e in ana.error)
