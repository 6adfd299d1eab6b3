"""Overview widgets: loop verdicts and model-version verdicts as far as they are built."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext


def render_verdicts(ctx: AppContext) -> None:
    st.subheader("Loop maps")
    loops = ctx.store.list_loops(workspace_id=ctx.workspace_id)
    if not loops:
        st.caption("No loop maps yet.")
        st.page_link("pages/map_loop.py", label="Map your loop", icon=":material/account_tree:")
        return
    st.dataframe(
        [{"Loop map": loop.name, "Versions": loop.latest_version} for loop in loops],
        hide_index=True,
        width="stretch",
    )
