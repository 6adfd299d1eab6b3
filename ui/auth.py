"""Who is using the app: the local user, a built-in account, or an OIDC identity through st.login."""

from __future__ import annotations

import streamlit as st

from flywheel_core.config import Settings
from flywheel_core.exceptions import FlywheelError
from flywheel_core.workspaces import api as workspaces_api
from ui.resources import get_store

ACTOR_KEY = "app.actor"


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
    username = email
    if _sign_out_button():
        st.logout()
    return username or None


def _account_user() -> str | None:
    actor = st.session_state.get(ACTOR_KEY)
    if actor:
        if _sign_out_button():
            del st.session_state[ACTOR_KEY]
            st.rerun()
        return str(actor)
    st.title("Flywheel Studio")
    with st.form("app.sign_in_form"):
        st.subheader("Sign in")
        username = st.text_input("E-mail or username", key="app.username", autocomplete="username")
        password = st.text_input("Password", type="password", key="app.password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            found = workspaces_api.authenticate(
                get_store(), username=username, password=password, address=st.context.ip_address
            )
        except FlywheelError as error:  # too many failed attempts: says when to try again
            st.error(str(error), icon=":material/lock_clock:")
            return None
        if found is None:
            st.error(
                "Unknown e-mail or username, or a wrong password. No account yet? Ask your workspace's owner.",
                icon=":material/lock:",
            )
            return None
        st.session_state[ACTOR_KEY] = found
        st.rerun()
    return None


def is_signed_in(settings: Settings) -> bool:
    """Whether this session has a user, without drawing anything (the router hides the pages until then)."""
    if settings.auth_mode == "none":
        return True
    if settings.auth_mode == "oidc":
        return bool(_oidc_configured() and st.user.is_logged_in and st.user.get("email_verified") is True)
    return bool(st.session_state.get(ACTOR_KEY))


def signed_in_user(settings: Settings) -> str | None:
    """The signed-in username, or None after rendering a sign-in screen."""
    if settings.auth_mode == "none":
        st.session_state[ACTOR_KEY] = "local"
        return "local"
    if settings.auth_mode == "oidc":
        return _oidc_user()
    return _account_user()
