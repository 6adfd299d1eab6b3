"""What a verdict is about: the verdicts, the kind of x, the horizon, the metric's bounds and the material gain.

See :mod:`flywheel_core.curves.judge` for how a verdict is reached; this module holds the terms it is stated in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from flywheel_core.exceptions import DataValidationError
from flywheel_core.numbers import compact_number

__all__ = [
    "BOUNDED_MATERIAL",
    "SIZE_DOUBLINGS",
    "UNBOUNDED_MATERIAL_SHARE",
    "VERDICTS",
    "Horizon",
    "Verdict",
    "XKind",
    "default_material",
    "infer_bounds",
    "infer_x_kind",
    "make_horizon",
]

SIZE_DOUBLINGS = 3.0
BOUNDED_MATERIAL = 0.02
UNBOUNDED_MATERIAL_SHARE = 0.10


class Verdict(StrEnum):
    """What the next stretch of data or turns will buy; ``label`` is how people read it."""

    COMPOUNDING = "compounding"
    PLATEAU = "plateau"
    BACKWARD = "backward"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def label(self) -> str:
        return {
            "compounding": "Compounding",
            "plateau": "Plateau",
            "backward": "Spinning backward",
            "insufficient_data": "Not enough evidence",
        }[self.value]


VERDICTS = tuple(v.value for v in Verdict)


class XKind(StrEnum):
    """What x counts: a data size (judged per doubling) or time / turns (judged per span)."""

    SIZE = "size"
    TIME = "time"


_SIZE_WORDS = ("row", "event", "user", "label", "size", "sample", "example", "record", "interaction", "n_")
_TIME_WORDS = ("week", "day", "month", "year", "turn", "time", "date", "step", "epoch", "version", "iteration")
_BOUNDED_WORDS = (
    "auc",
    "accuracy",
    "acc",
    "hit",
    "rate",
    "ndcg",
    "precision",
    "recall",
    "f1",
    "share",
    "ctr",
    "conversion",
    "coverage",
    "map@",
    "mrr",
    "quality",
    "retention",
    "stickiness",
    "brier",
    "r2",
    "probability",
    "pct_",
    "ratio",
)


_UNBOUNDED_WORDS = ("loss", "rmse", "mse", "mae", "perplexity", "count", "users", "queries", "minutes", "revenue")
_GENERIC_NAMES = ("", "y", "metric", "value", "score")


def infer_x_kind(name: str | None, x: np.ndarray) -> XKind:
    """Size or time from the x column's name; without a telling name, positive x spanning a factor of 4+ is a size."""
    lowered = (name or "").lower()
    if any(w in lowered for w in _TIME_WORDS):
        return XKind.TIME
    if any(w in lowered for w in _SIZE_WORDS):
        return XKind.SIZE
    return XKind.SIZE if x[0] > 0 and x[-1] / x[0] >= 4 and not _evenly_spaced(x) else XKind.TIME


def _evenly_spaced(x: np.ndarray) -> bool:
    steps = np.diff(x)
    return len(steps) >= 2 and bool(np.ptp(steps) <= 1e-9 * max(abs(float(x[-1])), 1.0))


def infer_bounds(name: str | None, y: np.ndarray) -> tuple[float, float] | None:
    """(0, 1) for a metric in [0, 1]: known by its name (AUC, accuracy, a rate, ...), or with no telling name
    and every value in [0, 1]. None (unbounded) for counts, losses and anything with a value outside [0, 1]."""
    lowered = (name or "").lower().strip()
    if not bool(np.all((y >= 0) & (y <= 1))):
        return None
    if any(w in lowered for w in _UNBOUNDED_WORDS):
        return None
    if any(w in lowered for w in _BOUNDED_WORDS) or lowered in _GENERIC_NAMES:
        return (0.0, 1.0)
    return None


def default_material(bounds: tuple[float, float] | None, level: float) -> float:
    """2 points for a bounded metric; 10% of the current level (at least a tiny positive) otherwise."""
    if bounds is not None:
        return BOUNDED_MATERIAL * (bounds[1] - bounds[0])
    return max(UNBOUNDED_MATERIAL_SHARE * abs(level), 1e-12)


@dataclass(frozen=True)
class Horizon:
    """The stretch a verdict is about: x from ``x_from`` to ``x_to``, in words as ``text``."""

    kind: XKind
    x_from: float
    x_to: float
    text: str


def make_horizon(x: np.ndarray, kind: XKind, horizon_x: float | None, x_name: str) -> Horizon:
    end = float(x[-1])
    what = x_name if x_name and x_name not in ("x", "row") else "units of x"
    if horizon_x is not None:
        if not horizon_x > end:
            raise DataValidationError(f"The horizon must lie beyond the last x ({end:g}); got {horizon_x:g}.")
        return Horizon(kind, end, float(horizon_x), f"up to {what} = {_num(horizon_x)}")
    if kind is XKind.SIZE and x[0] > 0:
        return Horizon(kind, end, end * 2**SIZE_DOUBLINGS, f"the next three doublings of {what} (to {_num(end * 8)})")
    span = end - float(x[0])
    return Horizon(kind, end, end + span, f"the next {_num(span)} {what} (to {_num(end + span)})")


def _num(value: float) -> str:
    return compact_number(value)
