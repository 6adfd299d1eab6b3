"""Service functions for verdicts on stored data: is a dataset's learning compounding?"""

from __future__ import annotations

from flywheel_core.curves.sources import DatasetVerdict, judge_model_versions
from flywheel_core.learning.registry import version_infos
from flywheel_core.storage.store import Store

__all__ = ["DatasetVerdict", "judge_dataset"]


def judge_dataset(
    store: Store, *, workspace_id: int, dataset: str, actor: str, metric: str | None = None, x: str = "train_rows"
) -> DatasetVerdict:
    """The verdict on a dataset's model versions (``metric`` against training rows or turns), resting on
    the versions' evidence: unscored versions are left out and their intervals weight the fit."""
    row = store.get_dataset(workspace_id=workspace_id, name=dataset, actor=actor)
    assert row.id is not None
    versions = version_infos(store.list_model_versions(workspace_id=workspace_id, dataset_id=row.id, actor=actor))
    return judge_model_versions(versions, metric=metric, x=x)
