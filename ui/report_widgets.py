"""Take the workspace away: the report as HTML and Markdown, and the model registry as a safe CSV.

The report reads every dataset, so it is prepared on demand (a button, with a spinner) and kept in this
session's state under the workspace's id; switching workspace never shows another workspace's report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from flywheel_core.data.export import safe_csv
from flywheel_core.numbers import when
from flywheel_core.report.api import build_report, model_versions_frame
from flywheel_core.report.html import render_html
from flywheel_core.report.markdown import render_markdown
from ui.context import AppContext, user_errors

_STATE = "report.prepared"


@dataclass(frozen=True)
class PreparedReport:
    workspace_id: int
    html: bytes
    markdown: bytes
    prepared_at: datetime


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "workspace"


def _prepare(ctx: AppContext) -> PreparedReport:
    report = build_report(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    return PreparedReport(
        workspace_id=ctx.workspace_id,
        html=render_html(report).encode("utf-8"),
        markdown=render_markdown(report).encode("utf-8"),
        prepared_at=report.generated_at,
    )


def render_report_downloads(ctx: AppContext) -> None:
    """A "Share this workspace" block: prepare the report, then download HTML, Markdown and the CSV."""
    st.subheader("Share this workspace")
    st.caption(
        "One self-contained HTML file (interactive charts, opens offline) or Markdown, with the loop "
        "diagnosis, the data profile, the model versions and the verdict."
    )
    prepared = st.session_state.get(_STATE)
    if not isinstance(prepared, PreparedReport) or prepared.workspace_id != ctx.workspace_id:
        prepared = None
    cols = st.columns(4)  # one row: prepare, then the two renderings, and the registry beside them
    if cols[0].button("Prepare report", key="report.prepare", icon=":material/description:", width="stretch"):
        with st.spinner("Reading the datasets and drawing the charts…"), user_errors():
            prepared = _prepare(ctx)
            st.session_state[_STATE] = prepared
    slug = _slug(ctx.workspace.name)
    if prepared is not None:
        cols[1].download_button(
            "Download HTML",
            data=prepared.html,
            file_name=f"flywheel-report-{slug}.html",
            mime="text/html",
            key="report.html",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
        cols[2].download_button(
            "Download Markdown",
            data=prepared.markdown,
            file_name=f"flywheel-report-{slug}.md",
            mime="text/markdown",
            key="report.md",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
        st.caption(f"Prepared {when(prepared.prepared_at)}: prepare it again after new data or training.")
    else:
        st.caption("Prepare the report to download it as HTML or Markdown.")
    registry = model_versions_frame(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    if registry.empty:
        cols[3].caption("No model versions to export yet.")
    else:
        cols[3].download_button(
            "Model versions (CSV)",
            data=safe_csv(registry),
            file_name=f"flywheel-model-versions-{slug}.csv",
            mime="text/csv",
            key="report.csv",
            on_click="ignore",
            icon=":material/table:",
            width="stretch",
            help="Every model version with its metrics; cells that a spreadsheet would run as formulas are quoted.",
        )
