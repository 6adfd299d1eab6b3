"""The Train & compare page's runs: starting one, following it, and what it ended with.

A run that cannot work on its dataset is refused when it is started, with the reason, right under the button
that started it (``jobs.start_job`` checks before queuing). A run that fails anyway shows its whole reason in
the tab it was started from (the Train tab for a training, the Experiments tab for an experiment), and a
finished training links to the versions it made in the registry.
"""

from __future__ import annotations

import streamlit as st

from flywheel_core import jobs as jobs_api
from flywheel_core.jobs import JobInfo
from flywheel_core.numbers import percent, when
from ui.context import AppContext, user_errors
from ui.text import md_escape

__all__ = [
    "COMPARE_KEY",
    "DATASET_KEY",
    "REGISTRY_TAB",
    "SHOWN_TASK_KEY",
    "TAB_KEY",
    "job_monitor",
    "last_outcome",
    "launch",
    "open_in_registry",
    "runs_table",
]

WAITING_KEY = "train_compare.waiting"
DATASET_KEY = "train_compare.dataset"
SHOWN_TASK_KEY = "train_compare.shown_task"
COMPARE_KEY = "train_compare.compare"
TAB_KEY = "train_compare.tab"  # the page's tabs (kept in the URL)
REGISTRY_TAB = "Registry & compare"
OPENED_KEY = "train_compare.opened"  # the run whose versions the registry was just opened on


def _title(job: JobInfo) -> str:
    """'Run 12 (training on 'plays', started 2026-12-01 14:05 UTC by ana)' with the names escaped."""
    what = "training" if job.kind == "train" else f"{job.task or 'an'} experiment"
    return (
        f"Run {job.id} ({what} on '{md_escape(job.dataset)}', started {when(job.created_at)} by "
        f"{md_escape(job.created_by)})"
    )


def _made_label(job: JobInfo) -> str:
    first, last = min(job.versions), max(job.versions)
    return f"version {first}" if first == last else f"versions {first}–{last}"


def launch(ctx: AppContext, kind: str, params: dict[str, object]) -> None:
    """Start a run; a run that cannot work is refused here and then, with every reason, where it was started."""
    with user_errors():
        job = jobs_api.start_job(ctx.store, workspace_id=ctx.workspace_id, kind=kind, params=params, actor=ctx.actor)
        if job.status == "failed":
            st.error(f"{_title(job)} failed: {md_escape(job.error)}", icon=":material/error:")
        elif job.status == "done":
            st.success(f"{_title(job)} finished.", icon=":material/check:")
        else:
            st.session_state[WAITING_KEY] = True
            st.toast("Started: the run goes on if you leave or reload this page.")


@st.fragment(run_every=2.0)
def job_monitor(ctx: AppContext) -> None:
    """Progress of this workspace's running jobs; reruns the page when they finish (so an outcome shows)."""
    jobs = jobs_api.list_jobs(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor, limit=20)
    active = [j for j in jobs if j.state in ("queued", "running")]
    for job in active:
        st.progress(job.progress, text=f"{job.kind} · {job.dataset} · {job.message or job.state}")
    if not active and st.session_state.get(WAITING_KEY):
        st.session_state[WAITING_KEY] = False
        st.rerun()


def open_in_registry(job: JobInfo) -> None:
    """Open the registry on what a finished training made: its tab, dataset, task and versions side by side."""
    st.session_state[TAB_KEY] = REGISTRY_TAB
    st.session_state[DATASET_KEY] = job.dataset
    st.session_state[SHOWN_TASK_KEY] = job.task or "feedback"
    st.session_state[COMPARE_KEY] = list(job.versions)
    st.session_state[OPENED_KEY] = job.id


def last_outcome(jobs: list[JobInfo], *, kind: str, dataset: str, actor: str) -> None:
    """How the newest run of ``kind`` that ``actor`` started (on any dataset, even one deleted since; else
    the newest on ``dataset``) ended, in words: the whole reason of a failure, a note on a run whose worker
    went silent, or (a training) what it made with a button to open it in the registry."""
    runs = [j for j in jobs if j.kind == kind]
    newest = next((j for j in runs if j.created_by == actor), None) or next(
        (j for j in runs if j.dataset == dataset), None
    )
    if newest is None:
        return
    if newest.state == "failed":
        st.error(f"{_title(newest)} failed: {md_escape(newest.error)}", icon=":material/error:")
    elif newest.state == "stalled":
        st.warning(
            f"{_title(newest)} has not reported for {jobs_api.STALLED_AFTER_SECONDS / 60:.0f} minutes: its worker "
            "stopped (e.g. the server restarted) and nothing more will come of it. Start it again.",
            icon=":material/warning:",
        )
    elif newest.state == "done" and kind == "train" and newest.versions:
        st.success(f"{_title(newest)} made {_made_label(newest)}.", icon=":material/check:")
        st.button(
            f"Open {_made_label(newest)} in the registry",
            key=f"train_compare.open_run_{newest.id}",
            on_click=open_in_registry,
            args=(newest,),
            icon=":material/arrow_forward:",
        )
        if st.session_state.get(OPENED_KEY) == newest.id:
            verb = "is" if len(newest.versions) == 1 else "are"
            st.caption(f"{_made_label(newest).capitalize()} {verb} picked in the {REGISTRY_TAB} tab.")


def runs_table(jobs: list[JobInfo]) -> None:
    """The workspace's recent runs; the table may cut long messages, so failures are also written out whole."""
    if not jobs:
        return
    st.subheader("Recent runs")
    st.dataframe(
        [
            {
                "Job": j.id,
                "Kind": j.kind,
                "Dataset": j.dataset,
                "Status": j.state,
                "Progress": percent(j.progress, 0),
                "Message": j.error or j.message,
                "Made": j.made,
                "By": j.created_by,
                "Started": when(j.created_at),
            }
            for j in jobs
        ],
        hide_index=True,
        width="stretch",
    )
    failed = [j for j in jobs if j.state == "failed"]
    if failed:
        with st.expander(f"Why {'this run' if len(failed) == 1 else f'these {len(failed)} runs'} failed"):
            for job in failed:
                st.markdown(f"**{_title(job)}**: {md_escape(job.error)}")
