"""The upload flow: preview, column mapping, signal dictionary, import with progress, the report."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from flywheel_core.data import api as data_api
from flywheel_core.data.ingest import OPTIONAL_ROLES, REQUIRED_ROLES, IngestReport, preview_file
from flywheel_core.data.signals import KINDS, POLARITIES, SignalSpec, default_dictionary
from ui.context import AppContext, user_errors

NONE = "— not in this file —"
ROLE_HELP = {
    "user": "Who acted: a user, customer, vehicle or session id. Kept as text (leading zeros and 'NA' stay).",
    "timestamp": "When: ISO dates or times, or Unix seconds or milliseconds. Stored in UTC.",
    "event": "What happened: click, skip, save, thumbs_up, purchase, rating…; mapped to signals below.",
    "item": "What it happened to: a track, product, document, intent…",
    "value": "A number carried by the event: a rating, seconds listened, an amount.",
    "session": "A visit or session id.",
    "model_version": "Which model served the interaction.",
    "score": "The model's score or uncertainty for the interaction.",
    "propensity": "The probability the serving policy gave the item it showed (for off-policy estimates).",
}


def _mapping_form(columns: list[str], detected: dict[str, str], features: tuple[str, ...]) -> dict[str, str]:
    st.markdown("**2 · Map the columns** — required roles first; detected from common names.")
    mapping: dict[str, str] = {}
    grid = st.columns(4)
    for i, role in enumerate((*REQUIRED_ROLES, *OPTIONAL_ROLES)):
        options = ([] if role in REQUIRED_ROLES else [NONE]) + columns
        default = detected.get(role)
        index = options.index(default) if default in options else 0
        label = role.replace("_", " ") + (" *" if role in REQUIRED_ROLES else "")
        choice = grid[i % 4].selectbox(label, options, index=index, key=f"data.role.{role}", help=ROLE_HELP[role])
        if choice != NONE:
            mapping[role] = choice
    used = set(mapping.values())
    chosen = st.multiselect(
        "Feature columns (model inputs)",
        [c for c in columns if c not in used],
        default=[f for f in features if f not in used],
        key="data.features",
        help="Extra columns the model may learn from, e.g. device, hour, message length.",
    )
    if chosen:
        mapping["feature"] = ",".join(chosen)
    return mapping


def _signal_editor(events: list[str]) -> dict[str, SignalSpec]:
    st.markdown(
        "**3 · Say what each event means** — explicit (the user rated or corrected) or implicit "
        "(inferred from behaviour), its polarity and weight. Explicit feedback is simple but biased toward "
        "extremes; implicit is noisier but far more abundant."
    )
    dictionary = default_dictionary(events)
    frame = pd.DataFrame(
        [{"event": e, "kind": s.kind, "polarity": s.polarity, "weight": s.weight} for e, s in dictionary.events.items()]
    )
    edited = st.data_editor(
        frame,
        key="data.signals",
        hide_index=True,
        width="stretch",
        disabled=["event"],
        column_config={
            "kind": st.column_config.SelectboxColumn("Kind", options=list(KINDS), required=True),
            "polarity": st.column_config.SelectboxColumn("Polarity", options=list(POLARITIES), required=True),
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, max_value=100.0, step=0.5),
        },
    )
    if dictionary.rules:
        st.caption(
            "Rules on value: "
            + "; ".join(f"{r.event} with value {r.op} {r.threshold:g} counts as {r.polarity}" for r in dictionary.rules)
        )
    return {
        str(event): SignalSpec(str(kind), str(polarity), float(weight))
        for event, kind, polarity, weight in zip(
            edited["event"], edited["kind"], edited["polarity"], edited["weight"], strict=True
        )
    }


def _advance(bar: DeltaGenerator, fraction: float, message: str) -> None:
    bar.progress(fraction, text=message)


def render_upload(ctx: AppContext) -> None:
    limits = data_api.import_limits(ctx.store)
    upload = st.file_uploader(
        "**1 · Choose an interaction log** (CSV, gzip CSV or Parquet)",
        type=["csv", "gz", "parquet", "pq", "tsv"],
        key="data.upload",
        help=f"Up to {limits.max_bytes / 1e6:,.0f} MB and {limits.max_rows:,} rows.",
    )
    if upload is None:
        st.caption("Each row is one interaction: who, when, what happened, and optionally to which item.")
        return
    data = upload.getvalue()
    if render_append_choice(ctx, upload.name, data):  # appending: the batch uses the dataset's stored mapping
        return
    with user_errors():
        columns, rows, detected = preview_file(data, limits=limits, label=f"'{upload.name}'")
        st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True, height=210)
        mapping = _mapping_form(columns, detected.roles, detected.features)
        event_column = mapping.get("event") or ""
        events = sorted({str(r.get(event_column)) for r in rows if r.get(event_column) not in (None, "")})
        signals = _signal_editor(events) if events else {}
        st.markdown("**4 · Import**")
        left, right = st.columns([2, 1])
        name = left.text_input("Dataset name", value=PurePath(upload.name).name.split(".")[0], key="data.name")
        skip = right.checkbox(
            "Skip invalid rows",
            key="data.skip_invalid",
            help="Store the valid rows and report the rest. Off: any invalid row refuses the file.",
        )
        if st.button("Check and import", type="primary", key="data.import", disabled=not ctx.can_edit):
            bar = st.progress(0.0, text="Starting…")
            try:
                report = data_api.ingest_file(
                    ctx.store,
                    workspace_id=ctx.workspace_id,
                    source=data,
                    dataset=name,
                    actor=ctx.actor,
                    columns=mapping,
                    signals=signals,
                    skip_invalid=skip,
                    source_name=upload.name,
                    progress=lambda fraction, message: _advance(bar, fraction, message),
                )
            finally:
                bar.empty()  # a refusal shows its message alone, not a bar stopped half-way
            st.session_state["data.last_report"] = report
            st.rerun()  # the dataset list, the Explore tab and the Overview now include the new dataset
    last = st.session_state.get("data.last_report")
    if isinstance(last, IngestReport):
        render_report(last)


def render_report(report: IngestReport) -> None:
    st.success(
        f"Stored **{report.rows_stored:,}** of {report.rows_read:,} rows as dataset "
        f"**{report.dataset}** in {report.seconds:.2f} s.",
        icon=":material/check_circle:",
    )
    if report.rejected_reasons:
        rows: list[dict[str, Any]] = [
            {
                "Reason": reason,
                "Rows": count,
                "Examples": "; ".join(
                    f"row {e['row']}: {e['value']!r}" if e.get("row") else repr(e["value"])
                    for e in report.examples.get(reason, [])
                ),
            }
            for reason, count in report.rejected_reasons.items()
        ]
        st.warning(f"{report.rows_rejected:,} rows were skipped:")
        st.dataframe(rows, hide_index=True, width="stretch")
    for warning in report.warnings:
        st.info(warning, icon=":material/info:")


# --- appending a batch to an existing dataset ------------------------------------------------------------


def render_append_choice(ctx: AppContext, file_name: str, data: bytes) -> bool:
    """The upload's second choice: add the file to an existing dataset as a new batch. True when chosen
    (this block then renders the whole step: no mapping form, the dataset's own mapping is used)."""
    from flywheel_core.numbers import count, day
    from ui.text import md_escape

    datasets = data_api.list_datasets(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    if not datasets:
        return False
    choice = st.radio(
        "Import as",
        ["A new dataset", "Append to an existing dataset"],
        horizontal=True,
        key="data.mode",
        help="Append adds this week's events to a dataset as a new batch; earlier batches are never rewritten.",
    )
    if choice == "A new dataset":
        return False
    names = [d.name for d in datasets]
    target = st.selectbox("Dataset to append to", names, key="data.append_to")
    info = datasets[names.index(target)]
    st.caption(
        f"**{md_escape(info.name)}** holds {count(info.rows)} events, {day(info.first_event)} to "
        f"{day(info.last_event)}. The file is read with the columns the dataset was imported with; events inside "
        "that time range are stored and counted in the report."
    )
    skip = st.checkbox("Skip invalid rows", key="data.append_skip_invalid")
    if st.button("Check and append", type="primary", key="data.append", disabled=not ctx.can_edit):
        bar = st.progress(0.0, text="Starting…")
        with user_errors():
            try:
                result = data_api.append_file(
                    ctx.store,
                    workspace_id=ctx.workspace_id,
                    source=data,
                    dataset=info.name,
                    actor=ctx.actor,
                    skip_invalid=skip,
                    source_name=file_name,
                    progress=lambda fraction, message: _advance(bar, fraction, message),
                )
            finally:
                bar.empty()
            st.session_state["data.last_append"] = result
            st.rerun()
    last = st.session_state.get("data.last_append")
    if isinstance(last, data_api.AppendReport):
        report = last.report
        st.success(
            f"Appended **{report.rows_stored:,}** of {report.rows_read:,} rows to **{md_escape(last.dataset.name)}** "
            f"as batch {last.batch} in {report.seconds:.2f} s; it now holds {count(last.dataset.rows)} events "
            f"({day(last.dataset.first_event)} to {day(last.dataset.last_event)}).",
            icon=":material/check_circle:",
        )
        for warning in report.warnings:
            st.info(md_escape(warning), icon=":material/info:")
    return True
