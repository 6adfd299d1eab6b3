"""Map the loop: not built yet."""

from __future__ import annotations

import streamlit as st

from ui.context import current

current()
st.title("Map the loop")
st.info(
    "This page is not built yet: the loop-map worksheet (components, signals, network-learning test, cold start, risks) and its diagnosis arrive in a coming release.",
    icon=":material/construction:",
)
