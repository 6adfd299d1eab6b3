"""Widgets of the "Map the loop" worksheet: the draft in session state, the forms, the diagnosis panel.

The draft lives in the widgets' own session-state keys (``map.<stage>.<field>``, ``map.network.answer``…),
so it survives reruns, a refused save and page switches. Loading a map (template, saved version, import)
writes those keys from a callback or before the widgets are drawn; the two editable tables (signals,
risks) are re-created under a new key generation so they show the loaded rows. What was loaded is kept
(``map.loaded``), so the page can ask before a new map replaces edits that were never saved.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from flywheel_core.exceptions import DataValidationError
from flywheel_core.loop.api import SavedLoop
from flywheel_core.loop.diagnosis import LoopDiagnosis
from flywheel_core.loop.diff import LoopDiff, value_text
from flywheel_core.loop.findings import NO_OWNER_WHY, cold_start_label, risk_label
from flywheel_core.loop.markdown import cycle_time_text
from flywheel_core.loop.model import (
    AUTOMATION,
    COLD_START,
    HEADROOM,
    LEVELS,
    NETWORK_ANSWERS,
    RISKS,
    STAGES,
    LoopMap,
    empty_map,
)
from flywheel_core.numbers import hours
from ui.context import show_error
from ui.text import md_escape

_FIELDS = ("description", "system", "owner", "automated", "latency_hours", "health", "evidence")
_SIGNAL_COLUMNS = ("name", "kind", "polarity", "weight", "volume_per_day", "known_bias", "rule")
_RISK_COLUMNS = ("risk", "own", "likelihood", "impact", "mitigation")  # "own": a risk typed as free text
_HEALTH = {None: "not assessed", 1: "1 — broken", 2: "2 — weak", 3: "3 — works", 4: "4 — good", 5: "5 — strong"}
_NETWORK = {"yes": "Yes: others would notice", "no": "No: only that user", "unsure": "Not sure"}
_HEADROOM = {"grows": "Richer: more to learn", "saturates": "Saturates at the common cases", "unsure": "Not sure"}
_AUTOMATED = {"yes": "Yes, runs on its own", "partly": "Partly by hand", "no": "No, a person every cycle"}
_KINDS = {"explicit": "Explicit", "implicit": "Implicit"}
_POLARITIES = {"positive": "Positive", "negative": "Negative", "neutral": "Neutral"}
_LEVELS = {"low": "Low", "medium": "Medium", "high": "High"}


def load_into_state(loop_map: LoopMap, *, base_version: int | None, saved_name: str | None) -> None:
    """Make ``loop_map`` the draft (call from a callback or before the worksheet is drawn)."""
    state = st.session_state
    data = loop_map.to_json()
    state["map.name"], state["map.product"] = data["name"], data["product"]
    for stage, component in data["components"].items():
        for key in _FIELDS:
            state[f"map.{stage}.{key}"] = component[key]
    for key in ("answer", "why", "headroom"):
        state[f"map.network.{key}"] = data["network_learning"][key]
    for key, strategy in data["cold_start"].items():
        state[f"map.cold.{key}.used"] = strategy["used"]
        state[f"map.cold.{key}.notes"] = strategy["notes"]
    for key, value in data["velocity"].items():
        state[f"map.velocity.{key}"] = value
    state["map.signals_rows"] = data["signals"]
    state["map.risks_rows"] = [
        {**r, "risk": r["risk"] if r["risk"] in RISKS else None, "own": "" if r["risk"] in RISKS else r["risk"]}
        for r in data["risks"]
    ]
    state["map.generation"] = state.get("map.generation", 0) + 1
    state["map.base_version"] = base_version
    state["map.saved_name"] = saved_name
    state["map.loaded"] = data
    state["map.note"] = ""  # a version note belongs to one save, not to the next map


def draft_changed(loop_map: LoopMap | None) -> bool:
    """Whether the draft differs from the map last loaded (an unreadable draft counts as changed)."""
    return loop_map is None or loop_map.to_json() != st.session_state.get("map.loaded")


def confirm_discard(what: str, *, on_confirm: Any, on_cancel: Any) -> None:
    """Ask before ``what`` replaces a draft with unsaved changes: a warning and two buttons."""
    st.warning(f"The draft has changes that are not saved. {md_escape(what)} replaces them.", icon=":material/warning:")
    a, b, _ = st.columns([1, 1, 2])
    a.button("Discard my changes", key="map.discard.confirm", type="primary", on_click=on_confirm)
    b.button("Keep editing", key="map.discard.cancel", on_click=on_cancel)


def ensure_draft(workspace_id: int) -> bool:
    """Apply a pending load; a blank draft on first visit (returns True then); a draft carried into another
    workspace starts as unsaved there."""
    state = st.session_state
    pending = state.pop("map.pending", None)
    if pending is not None:
        load_into_state(pending[0], base_version=pending[1], saved_name=pending[2])
    first = "map.name" not in state
    if first:
        load_into_state(empty_map(), base_version=None, saved_name=None)
    if state.get("map.workspace_id") != workspace_id:
        if state.get("map.workspace_id") is not None:
            state["map.base_version"], state["map.saved_name"] = None, None
        state["map.workspace_id"] = workspace_id
    return first


def component_card(stage: str, *, disabled: bool) -> dict[str, Any]:
    info = STAGES[stage]
    with st.container(border=True):
        st.markdown(f"**{info.label}** — {info.does}")
        st.caption(f"What breaks without it: {info.breaks_without}")
        key = f"map.{stage}."
        out: dict[str, Any] = {
            "description": st.text_area(
                "What it is here", key=key + "description", height=68, disabled=disabled,
                placeholder="How does this stage work in your product?",
            ),
        }  # fmt: skip
        a, b = st.columns(2)
        out["system"] = a.text_input("System", key=key + "system", disabled=disabled)
        out["owner"] = b.text_input(
            "Owner", key=key + "owner", disabled=disabled, placeholder="Who acts on this stage?",
            help="A stage nobody owns is where insights die: the diagnosis lists it.",
        )  # fmt: skip
        a, b = st.columns(2)
        out["automated"] = a.selectbox(
            "Automated?", AUTOMATION, key=key + "automated", disabled=disabled, format_func=_AUTOMATED.__getitem__,
            help="'No' means a person is needed every cycle: that makes it a feedback loop, not a flywheel.",
        )  # fmt: skip
        out["health"] = b.selectbox(
            "Health", list(_HEALTH), format_func=_HEALTH.__getitem__, key=key + "health", disabled=disabled
        )
        a, b = st.columns(2)
        out["latency_hours"] = a.number_input(
            "Latency (hours)", min_value=0.0, step=1.0, format="%g", key=key + "latency_hours", disabled=disabled,
            help="How long one cycle spends in this stage; the cycle time is the sum over the five stages.",
        )  # fmt: skip
        if out["latency_hours"] is not None:
            b.caption(f"= {hours(out['latency_hours'])} per cycle")
        out["evidence"] = st.text_input(
            "Evidence", key=key + "evidence", disabled=disabled, placeholder="A number or a link that backs this up"
        )
    return out


def _words(labels: dict[str, str] | None) -> Callable[[str | int | float | bool], str]:
    """A table cell's option in words: from ``labels``, or a risk's name when None."""
    return lambda value: risk_label(str(value)) if labels is None else labels.get(str(value), str(value))


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).astype(object)


def _records(
    frame: Any, columns: tuple[str, ...], required: tuple[str, ...], defaults: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of an edited table as JSON records (NaN read as empty), and the numbers (from 1) of rows left out
    because none of ``required`` is filled although something else is: those are said, not dropped silently."""
    out, left_out = [], []
    for i, row in enumerate(pd.DataFrame(frame).to_dict("records"), start=1):
        clean = {c: (None if _missing(row.get(c)) else row.get(c)) for c in columns}
        if any(clean[r] is not None and str(clean[r]).strip() for r in required):
            out.append(clean)
        elif any(v not in (None, "", defaults.get(c)) for c, v in clean.items() if c not in required):
            left_out.append(i)
    return out, left_out


def _say_left_out(rows: list[int], table: str, fix: str) -> None:
    if rows:
        which = ", ".join(str(r) for r in rows)
        st.warning(f"Row{'s' if len(rows) > 1 else ''} {which} of the {table} left out of the map: {fix}")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def signals_table(*, disabled: bool) -> list[dict[str, Any]]:
    st.markdown("**Signal inventory** — what users give back, explicit (they rate or correct) or implicit (inferred).")
    st.caption(
        "Explicit is simple to interpret but biased toward extremes; implicit is noisier but far more abundant. "
        'Rules refine a signal, e.g. Spotify\'s "a stream under 30 s counts as a skip".'
    )
    edited = st.data_editor(
        _frame(st.session_state.get("map.signals_rows", []), _SIGNAL_COLUMNS),
        key=f"map.signals.{st.session_state.get('map.generation', 0)}",
        num_rows="dynamic",
        disabled=disabled,
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Signal", required=True, width="medium"),
            "kind": st.column_config.SelectboxColumn(
                "Kind", options=list(_KINDS), default="implicit", format_func=_words(_KINDS), width="small"
            ),
            "polarity": st.column_config.SelectboxColumn(
                "Polarity", options=list(_POLARITIES), default="positive", format_func=_words(_POLARITIES)
            ),
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, default=1.0, width="small"),
            "volume_per_day": st.column_config.NumberColumn(
                "Volume/day", min_value=0.0, format="localized", width="small"
            ),
            "known_bias": st.column_config.TextColumn("Known bias", width="medium"),
            "rule": st.column_config.TextColumn("Rule", width="medium"),
        },
    )
    rows, left_out = _records(
        edited, _SIGNAL_COLUMNS, ("name",), {"kind": "implicit", "polarity": "positive", "weight": 1.0}
    )
    _say_left_out(left_out, "signal inventory", "give each signal a name.")
    for row in rows:
        row["kind"] = row["kind"] or "implicit"
        row["polarity"] = row["polarity"] or "positive"
        row["weight"] = 1.0 if row["weight"] is None else float(row["weight"])
        row["volume_per_day"] = None if row["volume_per_day"] is None else float(row["volume_per_day"])
        row["known_bias"], row["rule"] = row["known_bias"] or "", row["rule"] or ""
    return rows


def risks_table(*, disabled: bool) -> list[dict[str, Any]]:
    st.markdown("**Risk register** — how the seeds say flywheels break down or spin backward.")
    st.caption("Pick a risk from the list, or write your own in the next column. " + " · ".join(RISKS.values()) + ".")
    edited = st.data_editor(
        _frame(st.session_state.get("map.risks_rows", []), _RISK_COLUMNS),
        key=f"map.risks.{st.session_state.get('map.generation', 0)}",
        num_rows="dynamic",
        disabled=disabled,
        hide_index=True,
        width="stretch",
        column_config={
            "risk": st.column_config.SelectboxColumn(
                "Risk", options=list(RISKS), format_func=_words(None), width="medium"
            ),
            "own": st.column_config.TextColumn("Or your own risk", width="medium", max_chars=120),
            "likelihood": st.column_config.SelectboxColumn(
                "Likelihood", options=list(LEVELS), default="medium", format_func=_words(_LEVELS)
            ),
            "impact": st.column_config.SelectboxColumn(
                "Impact", options=list(LEVELS), default="medium", format_func=_words(_LEVELS)
            ),
            "mitigation": st.column_config.TextColumn("Mitigation", width="large"),
        },
    )
    rows, left_out = _records(edited, _RISK_COLUMNS, ("risk", "own"), {"likelihood": "medium", "impact": "medium"})
    _say_left_out(left_out, "risk register", "pick a risk from the list or write your own in 'Or your own risk'.")
    out = []
    for row in rows:
        out.append(
            {
                "risk": row["risk"] or str(row["own"]).strip(),
                "likelihood": row["likelihood"] or "medium",
                "impact": row["impact"] or "medium",
                "mitigation": row["mitigation"] or "",
            }
        )
    return out


def network_card(*, disabled: bool) -> dict[str, Any]:
    with st.container(border=True):
        st.markdown("**The network-learning test**")
        st.caption(
            "A true flywheel has network learning: each user's data improves the product for all users. "
            'Duolingo: yes. A typical note-taking app: no — "that\'s a product, not a flywheel."'
        )
        answer = st.radio(
            "If you deleted one user's data, would other users notice?", NETWORK_ANSWERS,
            format_func=_NETWORK.__getitem__, key="map.network.answer", horizontal=True, disabled=disabled,
        )  # fmt: skip
        why = st.text_input("Why?", key="map.network.why", disabled=disabled)
        headroom = st.radio(
            "As you grow, does the task get richer, or saturate once the common cases are learnt (Klarna)?",
            HEADROOM, format_func=_HEADROOM.__getitem__, key="map.network.headroom", horizontal=True,
            disabled=disabled,
        )  # fmt: skip
    return {"answer": answer, "why": why, "headroom": headroom}


def cold_start_card(*, disabled: bool) -> dict[str, Any]:
    with st.container(border=True):
        st.markdown("**Cold start plan** — you need data for a good model, and a good model to attract users.")
        out = {}
        for key, text in COLD_START.items():  # each strategy's name labels its notes; a box says it is in use
            a, b = st.columns([4, 1], vertical_alignment="bottom")
            notes = a.text_input(
                cold_start_label(key), key=f"map.cold.{key}.notes", disabled=disabled, help=text,
                placeholder="How you would do it (optional)",
            )  # fmt: skip
            used = b.checkbox("In use", key=f"map.cold.{key}.used", disabled=disabled)
            out[key] = {"used": used, "notes": notes}
    return out


def velocity_card(*, disabled: bool) -> dict[str, Any]:
    with st.container(border=True):
        st.markdown("**Velocity** — Netflix deploys in under 15 minutes; traditional enterprises take 8 to 90 days.")
        st.caption(
            "The end-to-end time you measured. The diagnosis's cycle time is the sum of the stages' latencies; "
            "both are shown, labelled, beside the diagram."
        )
        a, b = st.columns(2)
        measured = a.number_input(
            "Event to model in production (hours)", min_value=0.0, step=1.0, format="%g",
            key="map.velocity.event_to_production_hours", disabled=disabled,
            help="What you measured end to end. The diagnosis's cycle time is the sum of the stages' latencies; "
            "both are shown beside the diagram.",
        )  # fmt: skip
        deploys = b.number_input(
            "Deploys per week", min_value=0.0, step=1.0, format="%g", key="map.velocity.deploys_per_week",
            disabled=disabled,
        )  # fmt: skip
    return {"event_to_production_hours": measured, "deploys_per_week": deploys}


def parse_draft(draft: dict[str, Any]) -> LoopMap | None:
    """The draft as a map, or None after showing which fields are wrong."""
    try:
        return LoopMap.from_json(draft)
    except DataValidationError as error:
        show_error(error)
        return None


_BADGE = {
    "flywheel": ":green-badge[:material/cyclone: Flywheel]",
    "feedback_loop": ":orange-badge[:material/sync_problem: Feedback loop]",
    "broken": ":red-badge[:material/link_off: Broken loop]",
}


def diagnosis_panel(d: LoopDiagnosis, loop_map: LoopMap) -> None:
    st.markdown(f"{_BADGE[d.verdict]} **{md_escape(d.verdict_reason[:1].upper() + d.verdict_reason[1:])}.**")
    a, b, c = st.columns(3)
    a.metric("Weakest stage", STAGES[d.weakest].label if d.weakest else "—", help=d.weakest_reason)
    b.metric("Cycle time", hours(d.cycle_time_hours), help=f"The sum of the stages' latencies: {d.velocity_text}.")
    c.metric("Moat", {"network": "Network", "individual": "Individual", "unknown": "Unknown"}[d.moat])
    st.caption(
        md_escape(
            f"Weakest: {d.weakest_reason} Cycle time: {cycle_time_text(d, loop_map)}. Velocity: {d.velocity_text}."
        )
    )
    st.caption(
        "The weakest stage here reads your answers (health, then hand work, then latency). The simulator's "
        "tornado on Compounding vs plateau reads its own parameters, so the two can name different stages."
    )
    for item in d.missing_links:
        st.markdown(f":red[**{item.name} missing**] — {md_escape(item.reason)}.")
    for broken in d.breaks:
        st.markdown(f":orange[**{broken.link}: {broken.name}**] — {md_escape(broken.why)}.")
    for stage in d.unowned_stages:
        st.markdown(f":orange[**{STAGES[stage].label}: no owner**] — {NO_OWNER_WHY}.")
    if d.plateau:
        st.markdown(f":orange[**Plateau ahead**] — {md_escape(d.plateau_reason)}.")
    st.markdown("**Next steps**")
    steps = (f"{i}. {md_escape(step)}" for i, step in enumerate(d.next_steps, start=1))
    st.markdown("\n".join(steps) or "Nothing pressing.")


def version_caption(name: str, base: int | None, latest: int | None) -> str:
    """What pressing Save would do now: the version it makes, or why it would be refused and what to do."""
    shown = md_escape(name)
    if latest is None:
        return f"Saving makes version 1 of '{shown}'."
    if base is None:
        return f"A map named '{shown}' already exists: rename this draft, or open that map first."
    if base < latest:
        return (
            f"Your draft builds on version {base} of '{shown}', and version {latest} was saved since: saving now is "
            f"refused. Keep your draft on top of version {latest} to save it as version {latest + 1}."
        )
    return f"Saving makes version {latest + 1} of '{shown}'."


def version_rows(versions: list[SavedLoop]) -> list[dict[str, Any]]:
    from flywheel_core.numbers import when

    return [{"Version": v.version, "Author": v.author, "Saved": when(v.saved_at), "Note": v.note} for v in versions]


def lint_rows(report: Any) -> list[dict[str, Any]]:
    return [
        {"": "✅" if f.ok else "⚠️", "Check": f.check, "Subject": f.subject, "Claimed": f.claimed,
         "Measured": f.measured, "What to do": f.message}
        for f in report.findings
    ]  # fmt: skip


def diff_rows(diff: LoopDiff) -> list[dict[str, str]]:
    """One row per changed field, said for people: "Analysis · owner", values in words."""
    return [
        {
            "Field": c.label,
            "Change": c.kind,
            "Before": value_text(c.path, c.before),
            "After": value_text(c.path, c.after),
        }
        for c in diff.changes
    ]
