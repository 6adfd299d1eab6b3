"""Server-side sessions, the sign-in throttle shared through the database, disabled accounts, the cookie secret."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flywheel_core.accounts import SignInThrottle, sign_token, unsign_token
from flywheel_core.config import load_settings
from flywheel_core.exceptions import ConfigurationError, PermissionDeniedError
from flywheel_core.storage.people import SECRET_FILE
from flywheel_core.storage.store import Store
from flywheel_core.workspaces import api

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def stores(env: dict[str, str]) -> tuple[Store, Store]:
    """Two stores over one database and data folder: two app processes."""
    first = Store(load_settings(env))
    first.add_user(username="ana@example.com", password=PASSWORD)
    first.add_user(username="bo@example.com", password=PASSWORD)
    return first, Store(load_settings(env))


def test_a_session_started_by_one_process_is_resumed_by_another(stores) -> None:
    one, two = stores
    cookie = api.sign_in(one, username="ana@example.com", password=PASSWORD)
    assert cookie is not None
    assert api.resume_session(two, cookie=cookie).username == "ana@example.com"
    token, _, signature = cookie.rpartition(".")
    assert api.resume_session(two, cookie=f"{token}.{signature[::-1]}").ended == "unknown"  # tampered
    assert api.resume_session(two, cookie=sign_token(token[::-1], b"x" * 40)).ended == "unknown"  # other secret
    assert api.resume_session(two, cookie=None).ended == "unknown"
    assert api.sign_in(one, username="ana@example.com", password="a wrong guess") is None


def test_a_session_ends_when_idle_or_too_old_and_activity_keeps_it(env: dict[str, str]) -> None:
    store = Store(load_settings({**env, "FLYWHEEL_SESSION_IDLE_MINUTES": "30", "FLYWHEEL_SESSION_MAX_HOURS": "2"}))
    store.add_user(username="ana@example.com", password=PASSWORD)
    cookie = store.start_session(username="ana@example.com", now=T0)
    for minutes in (25, 50, 75, 100):  # a request every 25 minutes keeps it alive
        assert store.resume_session(cookie=cookie, now=T0 + timedelta(minutes=minutes)).username == "ana@example.com"
    assert store.resume_session(cookie=cookie, now=T0 + timedelta(minutes=131)).ended == "expired"  # 31 idle
    other = store.start_session(username="ana@example.com", now=T0)
    for minutes in range(20, 120, 20):
        assert store.resume_session(cookie=other, now=T0 + timedelta(minutes=minutes)).username
    assert store.resume_session(cookie=other, now=T0 + timedelta(minutes=121)).ended == "expired"  # past 2 h


def test_sign_out_ends_one_session_and_sign_out_everywhere_ends_all(stores) -> None:
    one, two = stores
    laptop, phone, tablet = (api.sign_in(one, username="ana@example.com", password=PASSWORD) for _ in range(3))
    bo = api.sign_in(one, username="bo@example.com", password=PASSWORD)
    api.sign_out(two, cookie=laptop)
    assert api.resume_session(one, cookie=laptop).ended == "signed_out"
    assert api.resume_session(one, cookie=phone).username == "ana@example.com"
    assert api.sign_out_everywhere(two, username="ana@example.com") == 2
    assert {api.resume_session(one, cookie=c).ended for c in (laptop, phone, tablet)} == {"signed_out"}
    assert api.resume_session(one, cookie=bo).username == "bo@example.com"  # someone else's stay
    fresh = api.sign_in(one, username="ana@example.com", password=PASSWORD)
    assert api.resume_session(two, cookie=fresh).username == "ana@example.com"


def test_a_disabled_account_cannot_sign_in_and_its_sessions_stop(stores) -> None:
    one, two = stores
    cookie = api.sign_in(one, username="bo@example.com", password=PASSWORD)
    api.disable_user(two, username="bo@example.com", actor="cli:admin")
    assert api.resume_session(one, cookie=cookie).ended == "disabled"
    with pytest.raises(PermissionDeniedError, match="This account is disabled"):
        api.sign_in(one, username="bo@example.com", password=PASSWORD)
    assert api.sign_in(one, username="bo@example.com", password="a wrong guess") is None  # says nothing more
    api.enable_user(one, username="bo@example.com", actor="cli:admin")
    assert api.resume_session(one, cookie=cookie).ended == "signed_out"  # disabling ended it for good
    assert api.sign_in(one, username="bo@example.com", password=PASSWORD)


def test_offboarding_and_a_new_password_end_the_sessions(stores) -> None:
    one, two = stores
    ana = api.sign_in(one, username="ana@example.com", password=PASSWORD)
    bo = api.sign_in(one, username="bo@example.com", password=PASSWORD)
    api.reset_password(two, username="ana@example.com", password="another long passphrase")
    assert api.resume_session(one, cookie=ana).username is None
    api.offboard_user(two, username="bo@example.com", actor="cli:admin")
    assert api.resume_session(one, cookie=bo).ended == "disabled"  # offboarded: no password any more


def test_failed_sign_ins_are_counted_across_processes(stores) -> None:
    one, two = stores
    for store in (one, two, one, two, one):  # five failures, spread over two processes
        assert api.sign_in(store, username="Ana@example.com ", password="a wrong guess") is None
    for store in (one, two):
        with pytest.raises(PermissionDeniedError, match=r"Too many failed sign-ins: try again in 15 minutes\."):
            api.sign_in(store, username="ana@example.com", password=PASSWORD)  # even the right password waits
    assert api.sign_in(two, username="bo@example.com", password=PASSWORD)  # another account is not locked


def test_concurrent_guesses_in_several_processes_get_one_allowance(stores) -> None:
    one, two = stores
    outcomes: list[str] = []

    def guess(store: Store) -> None:
        try:
            outcomes.append(str(api.sign_in(store, username="bo@example.com", password="a wrong guess")))
        except PermissionDeniedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(store,)) for store in (one, two) * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["None"] * 5 + ["refused"] * 7  # five passwords checked in all, not 5 per process


def test_an_address_is_throttled_across_accounts_and_the_window_forgets(stores) -> None:
    one, two = stores
    for i in range(20):
        assert one.authenticate(username=f"guess{i}", password="a wrong guess", address="10.0.0.7", now=T0) is None
    with pytest.raises(PermissionDeniedError, match="try again in 15 minutes"):
        two.authenticate(username="ana@example.com", password=PASSWORD, address="10.0.0.7", now=T0)
    assert two.authenticate(username="ana@example.com", password=PASSWORD, address="10.0.0.8", now=T0)
    later = T0 + timedelta(minutes=16)
    assert two.authenticate(username="ana@example.com", password=PASSWORD, address="10.0.0.7", now=later)


def test_the_throttle_rule_says_when_to_try_again() -> None:
    rule = SignInThrottle(per_account=3, per_address=5, window_seconds=600)
    now = T0 + timedelta(seconds=100)
    assert rule.refusal(account=(2, T0), address=(4, T0), now=now) is None
    assert rule.refusal(account=(3, T0), address=None, now=now) == "Too many failed sign-ins: try again in 8 minutes."
    assert "try again in 1 minute." in str(
        rule.refusal(account=(0, None), address=(5, T0), now=T0 + timedelta(minutes=9.9))
    )


def test_an_owner_disables_only_people_of_workspaces_they_own(env: dict[str, str]) -> None:
    store = Store(load_settings({**env, "FLYWHEEL_AUTH": "accounts"}), enforce_roles=True)
    alpha = store.create_workspace(name="Alpha", actor="ana@example.com")
    beta = store.create_workspace(name="Beta", actor="cy@example.com")
    assert alpha.id and beta.id
    for name, workspace in (("bo@example.com", alpha.id), ("dee@example.com", alpha.id), ("dee@example.com", beta.id)):
        store.set_member(
            workspace_id=workspace,
            username=name,
            role="viewer",
            actor="ana@example.com" if workspace == alpha.id else "cy@example.com",
        )
    api.disable_user(store, username="bo@example.com", actor="ana@example.com")  # an OIDC identity: no account yet
    assert [m.disabled for m in api.list_people(store, workspace_id=alpha.id, actor="ana@example.com")] == [
        m.username == "bo@example.com" for m in api.list_people(store, workspace_id=alpha.id, actor="ana@example.com")
    ]
    assert (
        api.sign_in_refusal(store, username="bo@example.com")
        == "This account is disabled. Ask your workspace's owner or your administrator."
    )
    with pytest.raises(PermissionDeniedError, match="1 workspace\\(s\\) you do not own"):
        api.disable_user(store, username="dee@example.com", actor="ana@example.com")
    with pytest.raises(PermissionDeniedError, match="your own account"):
        api.disable_user(store, username="ana@example.com", actor="ana@example.com")
    api.enable_user(store, username="bo@example.com", actor="ana@example.com")
    assert api.sign_in_refusal(store, username="bo@example.com") is None
    details = [(a.entity_id, a.detail) for a in api.list_audit(store, workspace_id=alpha.id, actor="ana@example.com")]
    assert details[:2] == [("bo@example.com", "enabled"), ("bo@example.com", "disabled")]


def test_the_cookie_secret_is_made_once_private_and_shared(env: dict[str, str]) -> None:
    one = Store(load_settings(env))
    one.add_user(username="ana@example.com", password=PASSWORD)
    cookie = one.start_session(username="ana@example.com")
    path = Path(env["FLYWHEEL_DATA_DIR"]) / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Store(load_settings(env)).resume_session(cookie=cookie).username == "ana@example.com"
    keyed = Store(load_settings({**env, "FLYWHEEL_SECRET_KEY": "k" * 40}))
    assert keyed.resume_session(cookie=cookie).ended == "unknown"  # signed with the file's secret, not this key
    assert unsign_token(keyed.start_session(username="ana@example.com"), b"k" * 40)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("FLYWHEEL_SESSION_IDLE_MINUTES", "an hour", "whole number"),
        ("FLYWHEEL_SESSION_IDLE_MINUTES", "0", "positive"),
        ("FLYWHEEL_SESSION_IDLE_MINUTES", "50000", "at most 43200"),
        ("FLYWHEEL_SESSION_MAX_HOURS", "-1", "positive"),
        ("FLYWHEEL_SECRET_KEY", "short", "at least 32 characters"),
    ],
)
def test_session_settings_are_parsed_strictly(tmp_path: Path, name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path), name: value})
    settings = load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path), "FLYWHEEL_SESSION_IDLE_MINUTES": "90"})
    assert (settings.session_idle_minutes, settings.session_max_hours) == (90, 12)
    assert "k" * 40 not in repr(load_settings({"FLYWHEEL_DATA_DIR": str(tmp_path), "FLYWHEEL_SECRET_KEY": "k" * 40}))
