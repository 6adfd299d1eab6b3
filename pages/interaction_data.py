"""Interaction data: upload and map a log, keep the datasets, explore what the signals look like."""

from __future__ import annotations

import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.numbers import counted, day, when
from ui.context import current, kept, user_errors
from ui.data_explore import render_explore
from ui.data_meanings import render_meanings
from ui.data_upload import render_upload
from ui.text import md_escape

ctx = current()
st.title("Interaction data")
st.caption(
    "Clicks, views, skips, saves, thumbs up/down, accept/reject, ratings, purchases: the raw material of the "
    "loop. Upload a log, say what each event means, and see whether the signals can carry a flywheel."
)

datasets = data_api.list_datasets(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
upload_tab, datasets_tab, explore_tab = st.tabs(["Upload", "Datasets", "Explore"], **kept("data.tab"))

with upload_tab:
    render_upload(ctx)

with datasets_tab:
    if not datasets:
        st.info(
            "No datasets yet: upload a log in the Upload tab, or load the demo workspace from the Overview.",
            icon=":material/info:",
        )
    else:
        st.caption(f"{counted(len(datasets), 'dataset')} in this workspace.")
        st.dataframe(
            [
                {
                    "Dataset": d.name,
                    "Events": d.rows,
                    "Users": d.users,
                    "Items": d.items,
                    "From": day(d.first_event),
                    "To": day(d.last_event),
                    "Source": d.source_name,
                    "Imported by": d.created_by,
                    "Imported": when(d.created_at),
                }
                for d in datasets
            ],
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.NumberColumn(format="localized") for c in ("Events", "Users", "Items")},
        )
        left, right = st.columns(2, vertical_alignment="bottom")
        doomed = left.selectbox(
            "Delete a dataset",
            [d.name for d in datasets],
            index=None,
            key="data.delete.name",
            placeholder="Choose a dataset to delete",
        )
        confirm = right.checkbox("Also delete its model versions and experiments", key="data.delete.confirm")
        if (
            st.button("Delete dataset", key="data.delete", disabled=not (doomed and confirm and ctx.can_edit))
            and doomed
        ):
            with user_errors():
                data_api.delete_dataset(ctx.store, workspace_id=ctx.workspace_id, name=doomed, actor=ctx.actor)
                st.toast(f"Deleted dataset '{md_escape(doomed)}'.")
                st.rerun()
        with st.expander("What the events mean (re-map without importing again)"):
            render_meanings(ctx, datasets)

with explore_tab:
    if not datasets:
        st.info("Nothing to explore yet: import a dataset first.", icon=":material/info:")
    elif explore_tab.open is not False:  # computed only when open (a bound tab: opening it reruns the page)
        with user_errors():
            render_explore(ctx, datasets)
