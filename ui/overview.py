"""Overview widgets: the verdict of every loop map in the workspace."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from flywheel_core.diagnosis import summarize_loops
from ui.context import AppContext

VERDICT_LABEL = {"flywheel": "flywheel", "feedback_loop": "feedback loop", "broken": "broken", "invalid": "unreadable"}


def render_verdicts(ctx: AppContext) -> None:
    st.subheader("Loop maps")
    rows = summarize_loops(ctx.store, workspace_id=ctx.workspace_id)
    if not rows:
        st.caption("No loop maps yet.")
        st.page_link("pages/map_loop.py", label="Map your loop", icon=":material/account_tree:")
        return
    counts = Counter(VERDICT_LABEL.get(r.verdict, r.verdict) for r in rows)
    st.caption(", ".join(f"{n} {label}{'s' if n > 1 and label != 'unreadable' else ''}" for label, n in counts.items()))
    st.dataframe(
        [
            {
                "Loop map": r.name,
                "Version": r.version,
                "Verdict": VERDICT_LABEL.get(r.verdict, r.verdict),
                "Moat": r.moat,
                "Weakest stage": r.weakest,
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
