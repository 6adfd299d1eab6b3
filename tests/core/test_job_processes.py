"""A job's local worker process: started detached, and reaped when it ends (no zombie left in the app)."""

from __future__ import annotations

import time
from pathlib import Path

from flywheel_core.data.api import store_frame
from flywheel_core.data.signals import SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.jobs import start_job
from flywheel_core.storage.store import Store


def _state(pid: int) -> str | None:
    """The process's state letter from /proc ("Z" for a zombie), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return fields[0]


def test_a_finished_local_job_leaves_no_zombie_process(store: Store, workspace_id: int, monkeypatch) -> None:
    monkeypatch.delenv("FLYWHEEL_JOBS_INLINE", raising=False)
    store_frame(
        store,
        workspace_id=workspace_id,
        frame=make_demo_events("fleet", 1_500),
        dataset="fleet",
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["fleet"].items()},
    )
    job = start_job(
        store, workspace_id=workspace_id, kind="train", params={"dataset": "fleet", "turns": 2}, actor="alice"
    )
    deadline = time.monotonic() + 240
    row = store.get_job(workspace_id=workspace_id, job_id=job.id)
    while row.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        row = store.get_job(workspace_id=workspace_id, job_id=job.id)
    assert row.status == "done", row.message
    pid = int(row.result["ran_on"]["pid"])
    while _state(pid) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.1)  # the worker may still be exiting after it recorded its result
    time.sleep(0.5)  # time for the reaper to collect it
    assert _state(pid) is None, f"the job's worker {pid} is left as a zombie"
