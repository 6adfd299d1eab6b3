"""SQL imports (``flywheel ingest --sql``) run in a worker of the Dask cluster, when one is configured.

With ``FLYWHEEL_DASK_SCHEDULER`` set, :func:`flywheel_core.data.api.ingest_sql` and ``append_sql`` hand the
whole read, check and store to the cluster (:func:`run_on_cluster`): their worker side is submitted with the
app's settings (without the session-signing key), opens the store there and runs the same function a local
import runs; the caller waits for its report (:func:`flywheel_core.cluster.run_and_wait`). The database URL
travels in the task's arguments only: the task's key is a fixed name and a random suffix, the dataset's source
name holds the URL with its password masked (:func:`flywheel_core.data.sql.redact_url`), and nothing here logs
it.

Before the hand-over every worker is checked (:func:`_worker_problem`): it sees the data folder, the app's
database and, for a SQLite source, the file the query reads. A relative SQLite path is made absolute here
first: a worker's working folder is not the caller's.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flywheel_core.config import Settings

__all__ = ["on_cluster", "run_on_cluster"]

WORK = "SQL imports"


def on_cluster(settings: Settings) -> bool:
    """Whether an import under ``settings`` goes to the cluster (one is configured, and this is not a worker)."""
    from flywheel_core.cluster import in_dask_worker

    return bool(settings.dask_scheduler) and not in_dask_worker()


def _sqlite_file(url: str) -> str | None:
    """The file a ``sqlite://`` URL names, as :mod:`flywheel_core.data.sql` reads it (None: not SQLite)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest
    return path.split("?", 1)[0]


def _absolute(url: str) -> str:
    """``url`` with a relative SQLite path made absolute against this process's working folder."""
    path = _sqlite_file(url)
    if not path or path == ":memory:" or Path(path).is_absolute():
        return url
    scheme, _, rest = url.partition("://")
    query = rest.split("?", 1)[1] if "?" in rest else ""
    return f"{scheme}:///{Path(path).resolve()}" + (f"?{query}" if query else "")


def _worker_problem(settings: Settings, workspace_id: int, url: str) -> str:
    """What stops this Dask worker from running the import ("" when nothing): run on every worker first."""
    from flywheel_core.data.sql import redact_url
    from flywheel_core.storage.store import Store

    if not settings.object_store and not settings.data_dir.is_dir():
        return f"it cannot see the data folder {settings.data_dir}"
    app_file = settings.database_url.removeprefix("sqlite:///")
    if app_file != settings.database_url and not os.path.isfile(app_file):
        return f"it cannot see the SQLite database {app_file}"
    source = _sqlite_file(url)
    if source and source != ":memory:" and not os.path.isfile(source):
        return f"it cannot see the SQLite database the query reads ({redact_url(url)})"
    try:
        store = Store(settings, migrate=False)
        try:
            store.list_datasets(workspace_id=workspace_id)
        finally:
            store.engine.dispose()
    except Exception as error:  # reported to the person importing, with the reason
        return f"it cannot read the workspace from the database ({traceback.format_exception_only(error)[-1].strip()})"
    return ""


def run_on_cluster(
    settings: Settings,
    function: Callable[..., Any],
    *,
    append: bool,
    workspace_id: int,
    url: str,
    arguments: dict[str, Any],
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """``function(settings, append, workspace_id, url, arguments)`` run on a cluster worker (the import's own
    function, :func:`flywheel_core.data.api.ingest_sql`'s worker side); its result, once it has ended. The
    import's progress reaches ``progress`` here, in the caller's thread.

    Raises:
        ConfigurationError: the cluster cannot be reached, has no workers, a worker cannot see the data folder,
        the database or the SQLite file, or the cluster lost the task. Whatever the import raises, as it is.
    """
    from flywheel_core.cluster import run_and_wait

    address = settings.dask_scheduler
    settings = replace(settings, secret_key=None)  # what a worker needs to open the store
    url = _absolute(url)
    return run_and_wait(
        address,
        function,
        settings,
        append,
        workspace_id,
        url,
        arguments,
        name="flywheel-sql-append" if append else "flywheel-sql-import",
        work=WORK,
        probe=partial(_worker_problem, settings, workspace_id, url),
        progress=progress,
    )
