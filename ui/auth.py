"""Who is using the app: the local user when sign-in is off."""

from __future__ import annotations

import streamlit as st

from flywheel_core.config import Settings


def signed_in_user(settings: Settings) -> str | None:
    """The signed-in username, or None after rendering a sign-in form."""
    if settings.auth_mode == "none":
        st.session_state["app.actor"] = "local"
        return "local"
    st.error(f"Sign-in mode '{settings.auth_mode}' is configured but not available in this build.")
    return None
