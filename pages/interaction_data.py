"""Interaction data: not built yet."""

from __future__ import annotations

import streamlit as st

from ui.context import current

current()
st.title("Interaction data")
st.info("This page is not built yet.", icon=":material/construction:")
