"""Widgets of the "Map the loop" worksheet: the draft in session state, the forms, the diagnosis panel.

The draft lives in the widgets' own session-state keys (``map.<stage>.<field>``, ``map.network.answer``…),
so it survives reruns, a refused save and page switches. Loading a map (template, saved version, import)
writes those keys from a callback or before the widgets are drawn; the two editable tables (signals,
risks) are re-created under a new key generation so they show the loaded rows.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from flywheel_core.exceptions import DataValidationError
from flywheel_core.loop.api import SavedLoop
from flywheel_core.loop.diagnosis import LoopDiagnosis
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
from flywheel_core.numbers import number
from ui.context import show_error
from ui.text import md_escape

_FIELDS = ("description", "system", "owner", "automated", "latency_hours", "health", "evidence")
_SIGNAL_COLUMNS = ("name", "kind", "polarity", "weight", "volume_per_day", "known_bias", "rule")
_RISK_COLUMNS = ("risk", "likelihood", "impact", "mitigation")
_HEALTH = {None: "not assessed", 1: "1 — broken", 2: "2 — weak", 3: "3 — works", 4: "4 — good", 5: "5 — strong"}
_NETWORK = {"yes": "Yes: others would notice", "no": "No: only that user", "unsure": "Not sure"}
_HEADROOM = {"grows": "Richer: more to learn", "saturates": "Saturates at the common cases", "unsure": "Not sure"}


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
    state["map.risks_rows"] = data["risks"]
    state["map.generation"] = state.get("map.generation", 0) + 1
    state["map.base_version"] = base_version
    state["map.saved_name"] = saved_name


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
        out["owner"] = b.text_input("Owner", key=key + "owner", disabled=disabled)
        a, b, c = st.columns(3)
        out["automated"] = a.selectbox(
            "Automated?", AUTOMATION, key=key + "automated", disabled=disabled,
            help="'no' means a person is needed every cycle: that makes it a feedback loop, not a flywheel.",
        )  # fmt: skip
        out["latency_hours"] = b.number_input(
            "Latency (hours)", min_value=0.0, step=1.0, format="%.2f", key=key + "latency_hours", disabled=disabled
        )
        out["health"] = c.selectbox(
            "Health", list(_HEALTH), format_func=_HEALTH.__getitem__, key=key + "health", disabled=disabled
        )
        out["evidence"] = st.text_input(
            "Evidence", key=key + "evidence", disabled=disabled, placeholder="A number or a link that backs this up"
        )
    return out


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).astype(object)


def _records(frame: Any, columns: tuple[str, ...], required: str) -> list[dict[str, Any]]:
    """Rows of an edited table as JSON records; blank rows dropped, NaN read as empty."""
    out = []
    for row in pd.DataFrame(frame).to_dict("records"):
        clean = {c: (None if _missing(row.get(c)) else row.get(c)) for c in columns}
        if clean[required] is None or not str(clean[required]).strip():
            continue
        out.append(clean)
    return out


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
            "name": st.column_config.TextColumn("Signal", required=True),
            "kind": st.column_config.SelectboxColumn("Kind", options=["explicit", "implicit"], default="implicit"),
            "polarity": st.column_config.SelectboxColumn(
                "Polarity", options=["positive", "negative", "neutral"], default="positive"
            ),
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, default=1.0),
            "volume_per_day": st.column_config.NumberColumn("Volume/day", min_value=0.0, format="localized"),
            "known_bias": st.column_config.TextColumn("Known bias"),
            "rule": st.column_config.TextColumn("Rule"),
        },
    )
    rows = _records(edited, _SIGNAL_COLUMNS, "name")
    for row in rows:
        row["kind"] = row["kind"] or "implicit"
        row["polarity"] = row["polarity"] or "positive"
        row["weight"] = 1.0 if row["weight"] is None else float(row["weight"])
        row["volume_per_day"] = None if row["volume_per_day"] is None else float(row["volume_per_day"])
        row["known_bias"], row["rule"] = row["known_bias"] or "", row["rule"] or ""
    return rows


def risks_table(*, disabled: bool) -> list[dict[str, Any]]:
    st.markdown("**Risk register** — how the seeds say flywheels break down or spin backward.")
    st.caption(" · ".join(RISKS.values()))
    edited = st.data_editor(
        _frame(st.session_state.get("map.risks_rows", []), _RISK_COLUMNS),
        key=f"map.risks.{st.session_state.get('map.generation', 0)}",
        num_rows="dynamic",
        disabled=disabled,
        hide_index=True,
        width="stretch",
        column_config={
            "risk": st.column_config.SelectboxColumn("Risk", options=list(RISKS), required=True),
            "likelihood": st.column_config.SelectboxColumn("Likelihood", options=list(LEVELS), default="medium"),
            "impact": st.column_config.SelectboxColumn("Impact", options=list(LEVELS), default="medium"),
            "mitigation": st.column_config.TextColumn("Mitigation"),
        },
    )
    rows = _records(edited, _RISK_COLUMNS, "risk")
    for row in rows:
        row["likelihood"] = row["likelihood"] or "medium"
        row["impact"] = row["impact"] or "medium"
        row["mitigation"] = row["mitigation"] or ""
    return rows


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
        for key, text in COLD_START.items():
            a, b = st.columns([2, 3])
            short = text.split(" (")[0].split(":")[0]
            used = a.checkbox(short, key=f"map.cold.{key}.used", disabled=disabled, help=text)
            notes = b.text_input("Notes", key=f"map.cold.{key}.notes", disabled=disabled, label_visibility="collapsed")
            out[key] = {"used": used, "notes": notes}
    return out


def velocity_card(*, disabled: bool) -> dict[str, Any]:
    with st.container(border=True):
        st.markdown("**Velocity** — Netflix deploys in under 15 minutes; traditional enterprises take 8 to 90 days.")
        a, b = st.columns(2)
        hours = a.number_input(
            "Event to model in production (hours)", min_value=0.0, step=1.0, key="map.velocity.event_to_production_hours",
            disabled=disabled,
        )  # fmt: skip
        deploys = b.number_input(
            "Deploys per week", min_value=0.0, step=1.0, key="map.velocity.deploys_per_week", disabled=disabled
        )
    return {"event_to_production_hours": hours, "deploys_per_week": deploys}


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


def diagnosis_panel(d: LoopDiagnosis) -> None:
    st.markdown(f"{_BADGE[d.verdict]} **{md_escape(d.verdict_reason[:1].upper() + d.verdict_reason[1:])}.**")
    a, b, c = st.columns(3)
    a.metric("Weakest stage", STAGES[d.weakest].label if d.weakest else "—", help=d.weakest_reason)
    hours = d.cycle_time_hours
    cycle = "—" if hours is None else f"{number(hours, 2 if hours < 10 else 0)} h"
    b.metric("Cycle time", cycle, help=d.velocity_text)
    c.metric("Moat", {"network": "Network", "individual": "Individual", "unknown": "Unknown"}[d.moat])
    st.caption(md_escape(f"Weakest: {d.weakest_reason} Velocity: {d.velocity_text}."))
    for item in d.missing_links:
        st.markdown(f":red[**{item.name} missing**] — {md_escape(item.reason)}.")
    for broken in d.breaks:
        st.markdown(f":orange[**{broken.link}: {broken.name}**] — {md_escape(broken.why)}.")
    if d.plateau:
        st.markdown(f":orange[**Plateau ahead**] — {md_escape(d.plateau_reason)}.")
    st.markdown("**Next steps**")
    steps = (f"{i}. {md_escape(step)}" for i, step in enumerate(d.next_steps, start=1))
    st.markdown("\n".join(steps) or "Nothing pressing.")


def version_rows(versions: list[SavedLoop]) -> list[dict[str, Any]]:
    from flywheel_core.numbers import when

    return [{"Version": v.version, "Author": v.author, "Saved": when(v.saved_at), "Note": v.note} for v in versions]


def lint_rows(report: Any) -> list[dict[str, Any]]:
    return [
        {"": "✅" if f.ok else "⚠️", "Check": f.check, "Subject": f.subject, "Claimed": f.claimed,
         "Measured": f.measured, "What to do": f.message}
        for f in report.findings
    ]  # fmt: skip


def diff_rows(diff: Any) -> list[dict[str, str]]:
    def show(value: Any) -> str:
        return "—" if value is None else str(value)

    return [{"Field": c.path, "Change": c.kind, "Before": show(c.before), "After": show(c.after)} for c in diff.changes]
