"""The upload flow: preview, column mapping, signal dictionary, import with progress, the report."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

from flywheel_core.data import api as data_api
from flywheel_core.data.ingest import (
    OPTIONAL_ROLES,
    REQUIRED_ROLES,
    ColumnMap,
    EventValues,
    IngestReport,
    Limits,
    QualityWarning,
    detect_columns,
    event_values,
    prepare_import,
    preview_file,
)
from flywheel_core.data.signals import KINDS, POLARITIES, SignalSpec, default_dictionary
from ui.context import AppContext, user_errors
from ui.text import md_escape

NONE = "— not in this file —"
SEVERAL = "— several columns (one key) —"
FROM_SESSION = "— each session is a user —"
ANONYMOUS = "— one anonymous user for all rows —"
ROLE_HELP = {
    "user": "Who acted: a user, customer, vehicle or session id. Kept as text (leading zeros and 'NA' stay). "
    "No user column? Build one from several columns, take each session as a user, or one anonymous user.",
    "timestamp": "When: ISO dates or times, or Unix seconds or milliseconds. Stored in UTC.",
    "event": "What happened: click, skip, save, thumbs_up, purchase, a 0/1 click or label, a rating…; "
    "mapped to signals below.",
    "item": "What it happened to: a track, product, document, intent…",
    "value": "A number carried by the event: a rating, seconds listened, an amount.",
    "session": "A visit or session id.",
    "model_version": "Which model served the interaction.",
    "score": "The model's score or uncertainty for the interaction.",
    "propensity": "The probability the serving policy gave the item it showed (for off-policy estimates).",
}


def _default(role: str, detected: ColumnMap, options: list[str]) -> int | None:
    if role == "user" and detected.user_from == "session":
        return options.index(FROM_SESSION)
    if role == "user" and "user" in detected.keys:
        return options.index(SEVERAL)
    column = detected.roles.get(role)
    if column in options:
        return options.index(column)
    return None if role in REQUIRED_ROLES else 0  # a required role is chosen, never the first column by default


def _mapping_form(columns: list[str], detected: ColumnMap) -> tuple[dict[str, str], str | None]:
    """Role -> column (an optional role left out maps to "", so it is not detected again) and where users come from."""
    st.markdown(
        "**2 · Map the columns** — required roles first; detected from common names and the first rows. "
        "A column holds one role."
    )
    mapping: dict[str, str] = {}
    user_from = None
    grid = st.columns(4)
    for i, role in enumerate((*REQUIRED_ROLES, *OPTIONAL_ROLES)):
        options = [*columns, SEVERAL, FROM_SESSION, ANONYMOUS] if role == "user" else columns
        options = options if role in REQUIRED_ROLES else [NONE, *options]
        label = role.replace("_", " ") + (" *" if role in REQUIRED_ROLES else "")
        choice = grid[i % 4].selectbox(
            label,
            options,
            index=_default(role, detected, options),
            key=f"data.role.{role}",
            help=ROLE_HELP.get(role),
            placeholder="Choose a column",
        )
        if choice == SEVERAL:
            parts = st.multiselect(
                "Columns that make up the user key",
                columns,
                default=list(detected.keys.get("user", ())),
                key="data.role.user.parts",
                help="Their values are joined, in this order, with the ASCII unit separator (0x1F) between them: "
                "a readable key that no two different rows can share.",
            )
            if parts:
                mapping["user"] = "+".join(parts)
        elif choice in (FROM_SESSION, ANONYMOUS):
            user_from = "session" if choice == FROM_SESSION else "anonymous"
        elif choice == NONE:
            mapping[role] = ""
        elif choice is not None:
            mapping[role] = choice
    used = {part for column in mapping.values() for part in column.split("+") if column}
    chosen = st.multiselect(
        "Feature columns (model inputs)",
        [c for c in columns if c not in used],
        default=[f for f in detected.features if f not in used],
        key="data.features",
        help="Extra columns the model may learn from, e.g. device, hour, message length.",
    )
    if chosen:
        mapping["feature"] = ",".join(chosen)
    return mapping, user_from


def _event_values(upload: UploadedFile, data: bytes, column: str, limits: Limits) -> EventValues:
    """The event column's distinct values over the whole file, read once per upload and column."""
    cache: dict[tuple[str, str], EventValues] = st.session_state.setdefault("data.event_values", {})
    key = (upload.file_id, column)
    if key not in cache:
        cache.clear()  # one upload at a time: keep only the latest reads
        with st.spinner("Reading every event value…"):
            cache[key] = event_values(data, column=column, limits=limits, label=f"'{upload.name}'")
    return cache[key]


def _signal_editor(found: EventValues) -> dict[str, SignalSpec]:
    st.markdown(
        "**3 · Say what each event means** — explicit (the user rated or corrected) or implicit "
        "(inferred from behaviour), its polarity and weight. Explicit feedback is simple but biased toward "
        "extremes; implicit is noisier but far more abundant."
    )
    st.caption(
        f"Every distinct value of '{md_escape(found.column)}' in the whole file: {found.distinct:,}"
        + (f" (the {len(found.values):,} most frequent are listed)" if found.truncated else "")
        + "."
    )
    if found.truncated:
        st.warning(
            f"'{md_escape(found.column)}' has {found.distinct:,} distinct values: an event column has a few. "
            "Is another column the event?",
            icon=":material/warning:",
        )
    dictionary = default_dictionary(list(found.values))
    frame = pd.DataFrame(
        [
            {"event": e, "rows": n, "kind": s.kind, "polarity": s.polarity, "weight": s.weight}
            for (e, n), s in zip(zip(found.values, found.counts, strict=True), dictionary.events.values(), strict=True)
        ]
    )
    edited = st.data_editor(
        frame,
        key="data.signals",
        hide_index=True,
        width="stretch",
        disabled=["event", "rows"],
        column_config={
            "rows": st.column_config.NumberColumn("Rows", format="%d"),
            "kind": st.column_config.SelectboxColumn("Kind", options=list(KINDS), required=True),
            "polarity": st.column_config.SelectboxColumn("Polarity", options=list(POLARITIES), required=True),
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, max_value=100.0, step=0.5),
        },
    )
    if dictionary.rules:
        st.caption(
            "Rules on value: "
            + "; ".join(
                f"{md_escape(r.event)} with value {r.op} {r.threshold:g} counts as {r.polarity}"
                for r in dictionary.rules
            )
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
    megabytes = max(1, limits.max_bytes // (1024 * 1024))
    upload = st.file_uploader(
        "**1 · Choose an interaction log** (CSV, gzip CSV or Parquet)",
        type=["csv", "gz", "parquet", "pq", "tsv"],
        key="data.upload",
        # the browser refuses exactly what the import would (FLYWHEEL_MAX_UPLOAD_MB), whatever Streamlit's own
        # server.maxUploadSize says; `flywheel app` sets that one from the same setting
        max_upload_size=megabytes,
        help=f"Up to {megabytes:,} MB and {limits.max_rows:,} rows.",
    )
    if upload is None:
        st.caption("Each row is one interaction: who, when, what happened, and optionally to which item.")
        return
    data = upload.getvalue()
    if render_append_choice(ctx, upload.name, data):  # appending: the batch uses the dataset's stored mapping
        return
    label = f"'{upload.name}'"
    if st.session_state.get("data.mapped_file") != upload.file_id:  # a new file: detect its mapping afresh
        for key in [k for k in st.session_state if str(k).startswith(("data.role.", "data.features", "data.signals"))]:
            del st.session_state[key]
        st.session_state["data.mapped_file"] = upload.file_id
    with user_errors():
        preview = preview_file(data, limits=limits, label=label)
        st.dataframe(pd.DataFrame(preview.rows), width="stretch", hide_index=True, height=210)
        for note in preview.notes:
            st.info(md_escape(note), icon=":material/info:")
        mapping, user_from = _mapping_form(preview.names, preview.mapping)
        unmapped = [r for r in REQUIRED_ROLES if r not in mapping and not (r == "user" and user_from)]
        if unmapped:
            st.info(f"Choose a column for: {', '.join(unmapped)}.", icon=":material/info:")
            return
        detect_columns(preview.names, mapping, user_from=user_from)  # two roles on one column: say so now
        signals = _signal_editor(_event_values(upload, data, mapping["event"], limits))
        st.markdown("**4 · Import**")
        left, middle, right = st.columns([2, 1, 1])
        name = left.text_input("Dataset name", value=PurePath(upload.name).name.split(".")[0], key="data.name")
        skip = middle.checkbox(
            "Skip invalid rows",
            key="data.skip_invalid",
            help="Store the valid rows and report the rest. Off: any invalid row refuses the file.",
        )
        drop = right.checkbox(
            "Drop exact duplicate rows",
            key="data.drop_duplicates",
            help="Leave out rows that repeat an earlier row in every mapped column; the report counts them.",
        )
        options: dict[str, Any] = {
            "columns": mapping,
            "signals": signals,
            "skip_invalid": skip,
            "drop_duplicates": drop,
            "user_from": user_from,
            "source_name": upload.name,
        }
        buttons = st.columns([1, 1, 3])
        if buttons[0].button("Check the whole file", key="data.check"):
            with st.spinner("Checking every row…"):
                prepared = prepare_import(data, dataset=name, limits=limits, **options)
            if prepared.refusal is not None:
                raise prepared.refusal
            st.success(
                f"All {prepared.report.rows_read:,} rows can be imported"
                + (f" ({prepared.report.rows_rejected:,} would be skipped)." if prepared.report.rows_rejected else ".")
                + " Nothing was stored yet.",
                icon=":material/check_circle:",
            )
            render_quality(prepared.report.quality)
        if buttons[1].button("Check and import", type="primary", key="data.import", disabled=not ctx.can_edit):
            bar = st.progress(0.0, text="Starting…")
            try:
                report = data_api.ingest_file(
                    ctx.store,
                    workspace_id=ctx.workspace_id,
                    source=data,
                    dataset=name,
                    actor=ctx.actor,
                    progress=lambda fraction, message: _advance(bar, fraction, message),
                    limits=limits,
                    **options,
                )
            finally:
                bar.empty()  # a refusal shows its message alone, not a bar stopped half-way
            st.session_state["data.last_report"] = report
            st.rerun()  # the dataset list, the Explore tab and the Overview now include the new dataset
    last = st.session_state.get("data.last_report")
    if isinstance(last, IngestReport):
        render_report(last)


def render_quality(warnings: tuple[QualityWarning, ...]) -> None:
    """The data-quality warnings, one box each, with their examples (user text escaped)."""
    for warning in warnings:
        examples = "; ".join(warning.examples)
        st.warning(
            md_escape(warning.message) + (f"  \nExamples: {md_escape(examples)}" if examples else ""),
            icon=":material/warning:",
        )


def render_report(report: IngestReport) -> None:
    dropped = f" ({report.duplicates_dropped:,} duplicates dropped)" if report.duplicates_dropped else ""
    st.success(
        f"Stored **{report.rows_stored:,}** of {report.rows_read:,} rows as dataset "
        f"**{md_escape(report.dataset)}** in {report.seconds:.2f} s{dropped}.",
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
    if report.quality:
        st.markdown(f"**Data quality** — {len(report.quality)} warning{'s' if len(report.quality) > 1 else ''}:")
        render_quality(report.quality)
    for warning in report.warnings:
        st.info(md_escape(warning), icon=":material/info:")


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
