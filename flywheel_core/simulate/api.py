"""Service functions for the simulator that need stored data: calibrate it from a dataset's versions."""

from __future__ import annotations

from dataclasses import dataclass

from flywheel_core.curves.sources import metric_is_lower_better, versions_series
from flywheel_core.data.analytics import retention_cohorts
from flywheel_core.simulate.flywheel import SimulationParams, SimulationResult, simulate_flywheel
from flywheel_core.simulate.scenarios import CalibrationResult, calibrate_simulation, weekly_retention
from flywheel_core.storage.store import Store

__all__ = ["CalibratedRun", "calibrate_from_dataset"]


@dataclass(frozen=True, eq=False)
class CalibratedRun:
    """The simulator seeded from a dataset (its learning curve and measured retention), and its run."""

    calibration: CalibrationResult
    result: SimulationResult


def calibrate_from_dataset(
    store: Store,
    *,
    workspace_id: int,
    dataset: str,
    metric: str,
    actor: str,
    base: SimulationParams,
    weeks: int,
    runs: int,
) -> CalibratedRun:
    """Fit the data→quality link to the dataset's model versions (``metric`` against training rows) and
    the quality→retention link to its measured weekly retention, then simulate with those parameters.

    Raises:
        DataValidationError / InsufficientDataError: a metric outside 0..1, too few versions, or a log
            too short to measure retention.
    """
    row = store.get_dataset(workspace_id=workspace_id, name=dataset, actor=actor)
    assert row.id is not None
    versions = store.list_model_versions(workspace_id=workspace_id, dataset_id=row.id, actor=actor)
    rows, values = versions_series(versions, metric)
    events = store.read_dataset_file(row, columns=["user", "timestamp"])
    calibration = calibrate_simulation(
        rows,
        values,
        weekly_retention=weekly_retention(retention_cohorts(events)),
        higher_is_better=not metric_is_lower_better(metric),
        base=base,
    )
    result = simulate_flywheel(calibration.params, weeks=weeks, runs=runs, scenario="calibrated")
    return CalibratedRun(calibration=calibration, result=result)
