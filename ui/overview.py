"""Overview widgets: the verdict of every loop map in the workspace."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from flywheel_core.curves.sources import judge_model_versions
from flywheel_core.learning import api as learning_api
from flywheel_core.loop import api as loop_api
from flywheel_core.loop.diagnosis import label
from flywheel_core.loop.findings import LoopVerdict
from ui.context import AppContext


def render_verdicts(ctx: AppContext) -> None:
    st.subheader("Loop maps")
    rows = loop_api.summarize_loops(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    if not rows:
        st.caption("No loop maps yet.")
        st.page_link("pages/map_loop.py", label="Map your loop", icon=":material/account_tree:")
        return
    counts = Counter(LoopVerdict(r.verdict).label.lower() for r in rows)
    st.caption(", ".join(f"{n} {label}{'s' if n > 1 and label != 'unreadable' else ''}" for label, n in counts.items()))
    st.dataframe(
        [
            {
                "Loop map": r.name,
                "Version": r.version,
                "Verdict": LoopVerdict(r.verdict).label,
                "Moat": r.moat.capitalize(),
                "Weakest stage": label(r.weakest) if r.weakest else "—",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )


def render_learning_verdicts(ctx: AppContext) -> None:
    """Per dataset: how many model versions, and whether their metric compounds, plateaus or declines."""
    st.subheader("Model versions")
    rows = []
    for dataset, versions in learning_api.versions_by_dataset(
        ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor
    ):
        if not versions:
            continue
        judged = judge_model_versions(versions)
        verdict = judged.verdict.label + ("" if judged.report is None else f" ({judged.confidence:.0%})")
        rows.append(
            {
                "Dataset": dataset.name,
                "Versions": len(versions),
                "Scored": judged.points,
                "Verdict": verdict,
                "Why": judged.reason,
            }
        )
    if not rows:
        st.caption("No model versions yet: train versions turn by turn to see whether the loop compounds.")
        st.page_link("pages/train_compare.py", label="Train & compare", icon=":material/model_training:")
        return
    st.table(rows, hide_index=True)  # a table wraps the reasons, a data grid would cut them off
