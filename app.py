"""Flywheel Studio: the router. Page config and navigation; each page sets up its own context."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Flywheel Studio", page_icon=":material/cyclone:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/map_loop.py", title="Map the loop", icon=":material/account_tree:"),
    st.Page("pages/interaction_data.py", title="Interaction data", icon=":material/table_chart:"),
    st.Page("pages/train_compare.py", title="Train & compare", icon=":material/model_training:"),
    st.Page("pages/curves.py", title="Compounding vs plateau", icon=":material/trending_up:"),
    st.Page("pages/workspace.py", title="Workspace", icon=":material/group:"),
]

st.navigation(PAGES).run()
