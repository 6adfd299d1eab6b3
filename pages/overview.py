"""Overview: what the workspace holds, and a one-click demo on an empty install."""

from __future__ import annotations

import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.demo import DEMO_WORKSPACE, load_demo_workspace
from flywheel_core.numbers import count, day
from flywheel_core.workspaces import api as workspaces_api
from ui.context import current, request_workspace, user_errors
from ui.overview import render_learning_verdicts, render_verdicts
from ui.report_widgets import render_report_downloads
from ui.text import md_escape

ctx = current()
st.title("Does your data flywheel compound?")
st.caption(
    "Product quality → users → interactions → training data → model quality → product quality. "
    "Map the loop on paper, then prove it on your own data."
)

summary = workspaces_api.summarize_workspace(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
cols = st.columns(5)
cols[0].metric("Loop maps", count(summary.loops))
cols[1].metric("Datasets", count(summary.datasets))
cols[2].metric("Events", count(summary.events))
cols[3].metric("Model versions", count(summary.model_versions))
cols[4].metric("Experiments", count(summary.experiments))

empty = summary.loops == 0 and summary.datasets == 0
if empty:
    st.info(
        f"**{md_escape(ctx.workspace.name)}** is empty. Load the demo workspace to see four loops from the seed "
        "cases (a compounding music service, a plateauing support assistant, Tesla-style fleet capture, "
        "and a loop that feeds on its own outputs), or start with your own data.",
        icon=":material/info:",
    )
    left, right, _ = st.columns([1, 1, 2])
    demo_exists = ctx.workspace.name != DEMO_WORKSPACE and any(
        w.name == DEMO_WORKSPACE for w in workspaces_api.list_workspaces(ctx.store, actor=ctx.actor)
    )
    if demo_exists:
        if left.button("Open the demo workspace", type="primary", key="overview.open_demo"):
            request_workspace(DEMO_WORKSPACE)
            st.rerun()
    elif left.button("Load the demo workspace", type="primary", key="overview.load_demo", disabled=not ctx.can_edit):
        with st.spinner("Generating four demo datasets, the seed loop maps and their model versions…"), user_errors():
            load_demo_workspace(ctx.store, actor=ctx.actor)
            request_workspace(DEMO_WORKSPACE)
            st.rerun()
    right.page_link("pages/interaction_data.py", label="Upload your own log", icon=":material/upload:")
else:
    st.subheader("Datasets")
    datasets = data_api.list_datasets(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    if datasets:
        st.dataframe(
            [
                {
                    "Dataset": d.name,
                    "Events": d.rows,
                    "Users": d.users,
                    "Items": d.items,
                    "From": day(d.first_event),
                    "To": day(d.last_event),
                }
                for d in datasets
            ],
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.NumberColumn(format="localized") for c in ("Events", "Users", "Items")},
        )
    else:
        st.caption("No datasets yet.")
        st.page_link("pages/interaction_data.py", label="Upload an interaction log", icon=":material/upload:")
    render_verdicts(ctx)
    render_learning_verdicts(ctx)
    render_report_downloads(ctx)
