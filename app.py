"""Flywheel Studio: the router. Page config and navigation; each page sets up its own context."""

from __future__ import annotations

import streamlit as st

from flywheel_core.exceptions import FlywheelError
from ui.auth import is_signed_in
from ui.resources import get_settings

st.set_page_config(page_title="Flywheel Studio", page_icon=":material/cyclone:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/map_loop.py", title="Map the loop", icon=":material/account_tree:"),
    st.Page("pages/interaction_data.py", title="Interaction data", icon=":material/table_chart:"),
    st.Page("pages/train_compare.py", title="Train & compare", icon=":material/model_training:"),
    st.Page("pages/curves.py", title="Compounding vs plateau", icon=":material/trending_up:"),
    st.Page("pages/workspace.py", title="Workspace", icon=":material/group:"),
]

try:
    signed_in = is_signed_in(get_settings())
except FlywheelError:  # bad settings: the page shows why (ui.context.current)
    signed_in = False
# Before sign-in the page list is hidden: a visitor sees the sign-in card, not the product's map.
st.navigation(PAGES, position="sidebar" if signed_in else "hidden").run()
