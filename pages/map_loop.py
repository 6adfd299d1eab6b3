"""Map the loop: a worksheet per component, the diagram and diagnosis beside it, versions, export, import."""

from __future__ import annotations

import streamlit as st

from flywheel_core.data import api as data_api
from flywheel_core.exceptions import ConflictError, DataValidationError
from flywheel_core.loop import api as loop_api
from flywheel_core.loop.diagnosis import diagnose, to_markdown
from flywheel_core.loop.diff import diff_loops
from flywheel_core.loop.model import STAGES, TEMPLATES, LoopMap, empty_map, template_map
from ui.context import current, kept, show_error, user_errors
from ui.loop_diagram import loop_dot
from ui.loop_widgets import (
    cold_start_card,
    component_card,
    confirm_discard,
    diagnosis_panel,
    diff_rows,
    draft_changed,
    ensure_draft,
    lint_rows,
    load_into_state,
    network_card,
    parse_draft,
    risks_table,
    signals_table,
    velocity_card,
    version_caption,
    version_rows,
)
from ui.text import md_escape

ctx = current()
store, state = ctx.store, st.session_state
ws, actor = ctx.workspace_id, ctx.actor
st.title("Map the loop")
st.caption(
    "\"Before you write a line of code, map the loop on paper. If you can't complete it on paper, you won't "
    'complete it in production." Fill one card per stage; the diagnosis on the right updates as you type.'
)
loops = loop_api.list_loops(store, workspace_id=ws, actor=actor)
latest = {loop.name: loop.latest_version for loop in loops}


def open_version(name: str) -> None:
    version = state["map.history.version"]
    saved = loop_api.get_loop_version(store, workspace_id=ws, name=name, version=version, actor=actor)
    load_into_state(saved.require_map(), base_version=latest.get(name), saved_name=name)


def ask(kind: str) -> None:  # a map replaces the draft only once the page knows the draft has no unsaved edits
    state["map.request"] = (kind, {"saved": state.get("map.open"), "template": state.get("map.template")}.get(kind))


def saved_map(name: str) -> tuple[LoopMap, int | None, str | None]:
    saved = loop_api.get_loop_version(store, workspace_id=ws, name=name, actor=actor)
    return saved.require_map(), saved.version, name


def requested() -> tuple[LoopMap, int | None, str | None]:
    kind, arg = state.pop("map.request")
    if kind == "saved":
        return saved_map(arg)
    return template_map(arg) if kind == "template" else empty_map(), None, None


if "map.name" not in state and loops:  # first visit: open the first saved map
    state["map.pending"] = saved_map(loops[0].name)
ensure_draft(ctx.workspace_id)
bar = st.columns(3, vertical_alignment="bottom")
with bar[0]:
    if loops:
        st.selectbox("Open a saved map", list(latest), key="map.open")
        st.button("Open", key="map.open_button", on_click=ask, args=("saved",))
    else:
        st.caption("No saved maps in this workspace yet: start from a seed case or a blank sheet.")
with bar[1]:
    st.selectbox("Start from a seed case", TEMPLATES, key="map.template", format_func=str.capitalize)
    st.button("Start from template", key="map.template_button", on_click=ask, args=("template",))
with bar[2]:
    st.button("New blank map", key="map.blank", on_click=ask, args=("blank",))
asking = st.container()

locked = not ctx.can_edit
left, right = st.columns([1, 1], gap="large")
with left:  # name and product one above the other: side by side, a seed's name is cut off at 1280 px
    draft: dict[str, object] = {
        "name": st.text_input("Map name", key="map.name", disabled=locked),
        "product": st.text_input("Product", key="map.product", disabled=locked),
    }
    st.subheader("The five components")
    draft["components"] = {stage: component_card(stage, disabled=locked) for stage in STAGES}
with st.container():  # full width, so the tables show their columns
    st.subheader("Signals, learning and risks")
    draft["signals"] = signals_table(disabled=locked)
    a, b = st.columns(2)
    with a:
        draft["network_learning"] = network_card(disabled=locked)
    with b:
        draft["cold_start"] = cold_start_card(disabled=locked)
    draft["risks"] = risks_table(disabled=locked)
    draft["velocity"] = velocity_card(disabled=locked)

loop_map = parse_draft(draft)
if (request := state.get("map.request")) is not None:
    if not draft_changed(loop_map):  # the widgets are drawn already: load it from the top of a rerun
        state["map.pending"] = requested()
        st.rerun()
    what = {"saved": f"Opening '{request[1]}'", "template": f"The {str(request[1]).capitalize()} template"}
    with asking:
        confirm_discard(
            what.get(request[0], "A blank map"),
            on_confirm=lambda: state.update({"map.pending": requested()}),
            on_cancel=lambda: state.pop("map.request"),
        )
with right:
    if loop_map is None:
        st.info("Fix the fields above to see the diagram and the diagnosis.", icon=":material/edit:")
        st.stop()
    diagnosis = diagnose(loop_map)
    st.graphviz_chart(loop_dot(loop_map, diagnosis), width="content")  # natural size: text 12.8 px (see loop_diagram)
    st.caption("Green: the link flows. Orange dashed: weak or carried by hand. Red dashed: missing.")
    diagnosis_panel(diagnosis, loop_map)
    st.divider()
    same_map = state.get("map.saved_name") == loop_map.name
    base = state.get("map.base_version") if same_map else None
    about_versions = st.empty()  # filled after a save attempt, so it names the version a save would make now
    if state.pop("map.note_clear", False):
        state["map.note"] = ""
    note = st.text_input("Note for this version", key="map.note", disabled=locked, placeholder="What changed?")
    if st.button("Save version", key="map.save", type="primary", disabled=locked):
        try:
            saved = loop_api.save_loop(
                store, workspace_id=ws, loop_map=loop_map, actor=actor, base_version=base, note=note
            )
        except ConflictError as error:
            show_error(error)  # show what changed meanwhile; offer to keep the draft on top of it
            row = loop_api.get_loop_version(store, workspace_id=ws, name=loop_map.name, actor=actor)
            latest[loop_map.name] = row.version
            st.caption(f"Your draft compared with version {row.version} by {md_escape(row.author)}:")
            st.dataframe(diff_rows(diff_loops(row.require_map(), loop_map)), hide_index=True)
            st.button(
                f"Keep my draft on top of version {row.version}", key="map.rebase",
                on_click=state.update, args=({"map.base_version": row.version, "map.saved_name": loop_map.name},),
            )  # fmt: skip
        else:
            state["map.base_version"], state["map.saved_name"] = saved.version, loop_map.name
            state["map.flash"], state["map.note_clear"] = f"Saved '{loop_map.name}' as version {saved.version}.", True
            st.rerun()  # so the history, the captions and the Overview all show the new version
    about_versions.caption(version_caption(loop_map.name, base, latest.get(loop_map.name)))
    if flash := state.pop("map.flash", None):
        st.success(md_escape(flash), icon=":material/check:")

history, files, lint = st.tabs(["Version history", "Export and import", "Canvas lint"], **kept("map.tab"))
with history:
    if loop_map.name not in latest:
        st.caption(f"'{md_escape(loop_map.name)}' has no saved versions yet: save it to start its history.")
    else:
        versions = loop_api.list_loop_versions(store, workspace_id=ws, name=loop_map.name, actor=actor)
        st.dataframe(version_rows(versions), hide_index=True, width="stretch")
        numbers = [v.version for v in versions]
        a, b, c = st.columns(3, vertical_alignment="bottom")
        a.selectbox("Version", numbers[::-1], key="map.history.version")
        b.button("Open this version", key="map.history.open", on_click=open_version, args=(loop_map.name,))
        if len(numbers) > 1:
            a, b = st.columns(2)
            older = a.selectbox("Compare version", numbers, index=len(numbers) - 2, key="map.diff.from")
            newer = b.selectbox("with version", numbers, index=len(numbers) - 1, key="map.diff.to")
            by_number = {v.version: v for v in versions}
            with user_errors():
                diff = diff_loops(by_number[older].require_map(), by_number[newer].require_map())
                if diff.is_empty:
                    st.caption(f"Versions {older} and {newer} are the same.")
                else:
                    st.dataframe(diff_rows(diff), hide_index=True, width="stretch", key="map.diff.table")

with files:
    slug = "".join(ch if ch.isalnum() else "-" for ch in loop_map.name.lower()).strip("-") or "loop-map"
    a, b = st.columns(2)
    a.download_button("Download JSON", loop_map.to_json_text(), f"{slug}.json", "application/json", key="map.json")
    b.download_button("Download Markdown brief", to_markdown(loop_map), f"{slug}.md", "text/markdown", key="map.md")
    upload = st.file_uploader(
        "Import a map (JSON, or a Markdown brief exported here)", type=["json", "md"], key="map.import",
        help="The imported map becomes the draft; nothing is saved until you press Save version.",
    )  # fmt: skip
    if upload is not None and state.get("map.imported") != upload.file_id:
        state["map.imported"] = upload.file_id
        try:
            imported = LoopMap.from_json_text(upload.getvalue())
        except DataValidationError as error:
            show_error(error)
        else:
            state["map.pending"] = (imported, latest.get(imported.name), imported.name)
            st.rerun()

with lint:
    datasets = data_api.list_datasets(store, workspace_id=ws, actor=actor)
    if not datasets:
        st.caption("No datasets in this workspace: upload an interaction log to hold this map against real data.")
        st.page_link("pages/interaction_data.py", label="Upload an interaction log", icon=":material/upload:")
    else:
        st.caption("Hold the map's claims against a dataset: signals listed vs logged, volumes, feedback coverage.")
        name = st.selectbox("Dataset", [d.name for d in datasets], key="map.lint.dataset")
        if st.button("Check the map against the data", key="map.lint.run"):
            with st.spinner("Profiling the dataset…"), user_errors():
                report = loop_api.lint_loop_against_dataset(
                    store, workspace_id=ws, loop_map=loop_map, dataset=name, actor=actor
                )
                st.markdown(
                    f"**{len(report.problems)} claim(s) do not match** {report.events:,} events over {report.days} days."
                )
                st.dataframe(lint_rows(report), hide_index=True, width="stretch")
