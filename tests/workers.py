"""Worker processes for the concurrency and fault tests: `python -m tests.workers MODE ...`."""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path

from flywheel_core.config import load_settings
from flywheel_core.data.api import ingest_file
from flywheel_core.exceptions import ConflictError, FlywheelError
from flywheel_core.storage.store import Store


def edit_loop(worker: str, edits: int) -> None:
    """Read the latest version, change it, save it on top; count what landed and what conflicted."""
    store = Store(load_settings(), migrate=False)
    workspace = store.get_workspace(name="Shared")
    landed = conflicted = 0
    for i in range(edits):
        latest = store.get_loop_version(workspace_id=workspace.id, name="Map")
        content = {**latest.content, "edits": [*latest.content.get("edits", []), f"{worker}:{i}"]}
        try:
            store.save_loop(
                workspace_id=workspace.id, name="Map", content=content, actor=worker, base_version=latest.version
            )
            landed += 1
        except ConflictError:
            conflicted += 1
    print(json.dumps({"worker": worker, "landed": landed, "conflicted": conflicted}))


def ingest(path: str, dataset: str, limit_bytes: str = "0") -> None:
    if int(limit_bytes):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit_bytes), int(limit_bytes)))
    store = Store(load_settings(), migrate=False)
    workspace = store.get_workspace(name="Shared")
    try:
        report = ingest_file(store, workspace_id=workspace.id, source=Path(path), dataset=dataset, actor=dataset)
    except FlywheelError as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        sys.exit(2)
    print(json.dumps({"stored": report.rows_stored}))


if __name__ == "__main__":
    {"edit_loop": lambda a: edit_loop(a[0], int(a[1])), "ingest": lambda a: ingest(*a)}[sys.argv[1]](sys.argv[2:])
