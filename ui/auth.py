"""Who is using the app: the local user, a built-in account, or an OIDC identity through st.login.

A built-in account's sign-in is a server-side session (``flywheel_core.workspaces.api.sign_in``) named by a
signed cookie, ``flywheel_session``. Streamlit reads cookies (``st.context.cookies``, sent when the page's
connection opens) but cannot set them, so a small script run by ``st.html`` writes it: ``Path=/``,
``SameSite=Strict``, ``Secure`` over https, a ``Max-Age`` of the session's lifetime. A script cannot set
``HttpOnly``, so the README says what guards the cookie instead. Every rerun checks the session on the
server: an expired, signed-out or disabled one ends there and then, whatever the browser still holds.
"""

from __future__ import annotations

import re

import streamlit as st

from flywheel_core.config import Settings
from flywheel_core.exceptions import FlywheelError
from flywheel_core.workspaces import api as workspaces_api
from ui.resources import get_store

ACTOR_KEY = "app.actor"
COOKIE = "flywheel_session"
_SESSION_KEY = "app.session"  # this tab's cookie value (the connection's cookies are read once, when it opens)
_WRITE_KEY = "app.write_cookie"  # a cookie value to write into the browser on this run
_LEFT_KEY = "app.signed_out"  # this tab signed out: the cookie its connection opened with is dead
_NOTICE_KEY = "app.session_notice"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def _cookie_script(value: str, max_age: int) -> str:
    """A script that sets (or, with ``max_age=0``, clears) the session cookie for the whole app."""
    assert _COOKIE_VALUE.match(value) or (value == "" and max_age == 0)  # nothing else is ever written
    return (
        "<script>(function(){var s=location.protocol==='https:'?'; Secure':'';"
        f"document.cookie='{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Strict'+s;}})();</script>"
    )


def _write_cookie(value: str, max_age: int) -> None:
    st.sidebar.html(_cookie_script(value, max_age), unsafe_allow_javascript=True, width="content")


def _sign_out_button(label: str = "Sign out") -> bool:
    return st.sidebar.button(label, key="app.sign_out", icon=":material/logout:")


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _oidc_user() -> str | None:
    if not _oidc_configured():
        st.error(
            "Sign-in is set to OIDC (FLYWHEEL_AUTH=oidc) but `.streamlit/secrets.toml` has no `[auth]` section. "
            "Add the provider's client id, secret and metadata URL (see the README's 'Deploying for a team').",
            icon=":material/key_off:",
        )
        return None
    if not st.user.is_logged_in:
        st.title("Flywheel Studio")
        st.write("Sign in with your organisation's account to open your team's workspaces.")
        if st.button("Sign in", type="primary", key="app.sign_in", icon=":material/login:"):
            st.login()
        return None
    email = str(st.user.get("email") or "")
    if not email or st.user.get("email_verified") is not True:
        st.error(
            "Your identity provider did not confirm a verified e-mail address, so you cannot be signed in. "
            "Verify your e-mail with the provider, or ask your administrator.",
            icon=":material/mark_email_unread:",
        )
        if _sign_out_button():
            st.logout()
        return None
    refusal = workspaces_api.sign_in_refusal(get_store(), username=email)  # disabled: checked on every rerun
    if refusal:
        st.error(refusal, icon=":material/person_off:")
        if _sign_out_button():
            st.logout()
        return None
    if _sign_out_button():
        st.logout()
    return email


def _address() -> str | None:
    """The client's address as the connection saw it (a proxy's, behind one; None on localhost)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def _session_cookie() -> str | None:
    """This tab's session cookie: the one it signed in with, else the one its connection opened with."""
    value = st.session_state.get(_SESSION_KEY)
    if value is None and not st.session_state.get(_LEFT_KEY):
        value = st.context.cookies.get(COOKIE)
    return str(value) if value else None


def _resume() -> str | None:
    """The signed-in user of this run (checked on the server), without drawing anything."""
    cookie = _session_cookie()
    if cookie is None:
        st.session_state.pop(ACTOR_KEY, None)
        return None
    status = workspaces_api.resume_session(get_store(), cookie=cookie)
    if status.username is None:
        for key in (_SESSION_KEY, ACTOR_KEY):
            st.session_state.pop(key, None)
        st.session_state[_LEFT_KEY] = True
        if status.ended != "unknown":
            st.session_state[_NOTICE_KEY] = status.message
            st.session_state[_WRITE_KEY] = ""  # clear the dead cookie from the browser too
        return None
    st.session_state[_SESSION_KEY] = cookie
    st.session_state[ACTOR_KEY] = status.username
    return status.username


def _account_user(settings: Settings) -> str | None:
    store = get_store()
    actor = _resume()
    pending = st.session_state.pop(_WRITE_KEY, None)
    if pending is not None:
        _write_cookie(pending, settings.session_max_hours * 3600 if pending else 0)
    if actor:
        out = _sign_out_button()
        everywhere = st.sidebar.button(
            "Sign out everywhere",
            key="app.sign_out_everywhere",
            icon=":material/devices_off:",
            help="Ends your sessions in every browser and tab, this one included.",
        )
        if out or everywhere:
            if everywhere:
                workspaces_api.sign_out_everywhere(store, username=actor)
            else:
                workspaces_api.sign_out(store, cookie=st.session_state.get(_SESSION_KEY))
            for key in (_SESSION_KEY, ACTOR_KEY):
                st.session_state.pop(key, None)
            st.session_state[_LEFT_KEY] = True
            st.session_state[_WRITE_KEY] = ""
            st.session_state[_NOTICE_KEY] = "Signed out everywhere." if everywhere else "Signed out."
            st.rerun()
        return actor
    st.title("Flywheel Studio")
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/logout:")
    with st.form("app.sign_in_form"):
        st.subheader("Sign in")
        username = st.text_input("E-mail or username", key="app.username", autocomplete="username")
        password = st.text_input("Password", type="password", key="app.password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            cookie = workspaces_api.sign_in(store, username=username, password=password, address=_address())
        except FlywheelError as error:  # too many failed sign-ins (says when to try again), or disabled
            st.error(str(error), icon=":material/lock_clock:")
            return None
        if cookie is None:
            st.error(
                "Unknown e-mail or username, or a wrong password. No account yet? Ask your workspace's owner.",
                icon=":material/lock:",
            )
            return None
        st.session_state[_SESSION_KEY] = cookie
        st.session_state[_WRITE_KEY] = cookie
        st.session_state.pop(_LEFT_KEY, None)
        st.rerun()
    return None


def is_signed_in(settings: Settings) -> bool:
    """Whether this session has a user, without drawing anything (the router hides the pages until then)."""
    if settings.auth_mode == "none":
        return True
    if settings.auth_mode == "oidc":
        if not (_oidc_configured() and st.user.is_logged_in and st.user.get("email_verified") is True):
            return False
        return workspaces_api.sign_in_refusal(get_store(), username=str(st.user.get("email") or "")) is None
    return _resume() is not None


def signed_in_user(settings: Settings) -> str | None:
    """The signed-in username, or None after rendering a sign-in screen."""
    if settings.auth_mode == "none":
        st.session_state[ACTOR_KEY] = "local"
        return "local"
    if settings.auth_mode == "oidc":
        return _oidc_user()
    return _account_user(settings)
