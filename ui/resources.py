"""Process-wide resources of the running app: the settings and the opened store (cached once per process)."""

from __future__ import annotations

import streamlit as st

from flywheel_core.config import Settings, load_settings
from flywheel_core.workspaces import api as workspaces_api
from flywheel_core.workspaces.api import Store


@st.cache_resource(show_spinner="Opening the database…")
def _store(database_url: str, data_location: str, enforce_roles: bool) -> Store:
    return workspaces_api.open_store(load_settings(), enforce_roles=enforce_roles)


def get_settings() -> Settings:
    return load_settings()


def get_store() -> Store:
    """The instance's store; roles are enforced whenever people sign in."""
    settings = get_settings()
    return _store(settings.database_url, settings.data_location, settings.auth_mode != "none")
