"""Compounding vs plateau: not built yet."""

from __future__ import annotations

import streamlit as st

from ui.context import current

current()
st.title("Compounding vs plateau")
st.info(
    "This page is not built yet: curve fitting with a verdict and the flywheel simulator arrive in a coming release.",
    icon=":material/construction:",
)
