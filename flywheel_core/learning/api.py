"""Service functions for model versions: train turn by turn (as a background job), list, compare.

Pages and the command line call these; each read or write is one role-checked unit of work.
"""

from __future__ import annotations

from typing import Any

from flywheel_core import jobs
from flywheel_core.data.api import DatasetInfo
from flywheel_core.learning.registry import CompareReport, compare_versions, registry_table
from flywheel_core.storage.models import Job, ModelVersion
from flywheel_core.storage.store import Store

__all__ = [
    "CompareReport",
    "Job",
    "ModelVersion",
    "compare_versions",
    "job_state",
    "list_jobs",
    "list_model_versions",
    "registry_table",
    "start_job",
    "versions_by_dataset",
]

job_state = jobs.job_state


def list_model_versions(store: Store, *, workspace_id: int, dataset_id: int, actor: str) -> list[ModelVersion]:
    """A dataset's model versions, oldest first."""
    return store.list_model_versions(workspace_id=workspace_id, dataset_id=dataset_id, actor=actor)


def versions_by_dataset(store: Store, *, workspace_id: int, actor: str) -> list[tuple[DatasetInfo, list[ModelVersion]]]:
    """Every dataset with its model versions (oldest first), in one read."""
    return [
        (DatasetInfo.from_row(d), versions)
        for d, versions in store.datasets_with_versions(workspace_id=workspace_id, actor=actor)
    ]


def list_jobs(store: Store, *, workspace_id: int, actor: str, limit: int = 50) -> list[Job]:
    """The workspace's most recent training and experiment runs, newest first."""
    return store.list_jobs(workspace_id=workspace_id, limit=limit, actor=actor)


def start_job(store: Store, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Job:
    """Record a training (``kind="train"``) or experiment run and start its worker (needs editor)."""
    job: Job = jobs.start_job(store, workspace_id=workspace_id, kind=kind, params=params, actor=actor)
    return job
