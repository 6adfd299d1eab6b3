"""Flywheel Studio's core: loop maps, interaction data, model versions, curves and storage.

The names below are the public entry points; submodules hold the rest. Importing this package is cheap:
each name is loaded from its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DataValidationError",
    "FlywheelError",
    "InsufficientDataError",
    "LimitExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "Settings",
    "StorageError",
    "Store",
    "build_report",
    "diagnose",
    "ingest_file",
    "judge_curve",
    "load_demo_workspace",
    "load_settings",
    "make_demo_events",
    "profile_events",
    "run_experiment",
    "run_training",
    "simulate_flywheel",
]

_WHERE = {
    "ConfigurationError": "exceptions",
    "ConflictError": "exceptions",
    "DataValidationError": "exceptions",
    "FlywheelError": "exceptions",
    "InsufficientDataError": "exceptions",
    "LimitExceededError": "exceptions",
    "NotFoundError": "exceptions",
    "PermissionDeniedError": "exceptions",
    "Problem": "exceptions",
    "StorageError": "exceptions",
    "Settings": "config",
    "load_settings": "config",
    "Store": "storage.store",
    "build_report": "report.api",
    "diagnose": "loop.diagnosis",
    "ingest_file": "data.api",
    "judge_curve": "curves.judge",
    "load_demo_workspace": "demo",
    "make_demo_events": "demo",
    "profile_events": "data.analytics",
    "run_experiment": "experiments.api",
    "run_training": "learning.api",
    "simulate_flywheel": "simulate.flywheel",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'flywheel_core' has no attribute {name!r}")
    return getattr(importlib.import_module(f"flywheel_core.{_WHERE[name]}"), name)
