"""Re-map a stored dataset's meanings on the page: each event's kind, polarity and weight, and value rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.data.api import DatasetInfo
from flywheel_core.data.signals import KINDS, POLARITIES, SignalSpec, parse_rule_option
from ui.context import AppContext, user_errors
from ui.text import md_escape


def render_meanings(ctx: AppContext, datasets: list[DatasetInfo]) -> None:
    """Edit what a dataset's events mean without importing it again (a new signal dictionary version)."""
    name = st.selectbox("Dataset", [d.name for d in datasets], key="data.meanings.dataset")
    dataset = next(d for d in datasets if d.name == name)
    signals = dataset.signals
    st.caption(
        f"Signal dictionary **v{signals.version}**. Saving makes v{signals.version + 1}: the stored events are not "
        "rewritten, and versions trained before keep the dictionary they used (the registry says which)."
    )
    table = pd.DataFrame(
        [{"event": e, "kind": s.kind, "polarity": s.polarity, "weight": s.weight} for e, s in signals.events.items()]
    )
    edited = st.data_editor(
        table,
        hide_index=True,
        disabled=["event"] if ctx.can_edit else True,
        column_config={
            "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True),
            "polarity": st.column_config.SelectboxColumn("polarity", options=list(POLARITIES), required=True),
            "weight": st.column_config.NumberColumn("weight", min_value=0.0, max_value=100.0, step=0.5),
        },
        key=f"data.meanings.table.{dataset.content_hash}",
    )
    rules_text = st.text_area(
        "Value rules, one per line",
        value="\n".join(f"{r.event}: value {r.op} {r.threshold:g} -> {r.polarity}:{r.weight:g}" for r in signals.rules),
        help="EVENT: value OP NUMBER -> POLARITY[:WEIGHT], e.g. 'stream: value < 30 -> negative'.",
        key=f"data.meanings.rules.{dataset.content_hash}",
        disabled=not ctx.can_edit,
    )
    if st.button("Save meanings", key="data.meanings.save", disabled=not ctx.can_edit):
        with user_errors():
            rules = [parse_rule_option(line) for line in rules_text.splitlines() if line.strip()]
            new = {
                str(event): SignalSpec(str(kind), str(polarity), float(weight))
                for event, kind, polarity, weight in zip(
                    edited["event"], edited["kind"], edited["polarity"], edited["weight"], strict=True
                )
            }
            saved = data_api.remap_dataset(
                ctx.store, workspace_id=ctx.workspace_id, name=name, actor=ctx.actor, signals=new, rules=rules
            )
            st.success(
                f"Saved signal dictionary v{saved.signals.version} of {md_escape(name)}. Train again to learn from it.",
                icon=":material/check:",
            )
