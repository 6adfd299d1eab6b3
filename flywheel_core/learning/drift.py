"""Drift between turns: the population stability index (PSI) of each feature and of the target rate.

PSI = sum over bins of (new - ref) * ln(new / ref), with bins at the reference's deciles. Read it as the
industry rule of thumb does: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift. A
version whose metrics drop while PSI is high met different users, not necessarily a worse model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAJOR_SHIFT", "MODERATE_SHIFT", "psi", "psi_binary", "turn_drift"]

MODERATE_SHIFT = 0.1
MAJOR_SHIFT = 0.25
_EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (decile bins of the reference)."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    ref, cur = np.maximum(ref, _EPS), np.maximum(cur, _EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_binary(reference_rate: float, current_rate: float) -> float:
    """PSI of a 0/1 target whose positive rate moved from ``reference_rate`` to ``current_rate``."""
    ref = np.maximum(np.array([1 - reference_rate, reference_rate]), _EPS)
    cur = np.maximum(np.array([1 - current_rate, current_rate]), _EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def turn_drift(
    X: np.ndarray, y: np.ndarray, turn: np.ndarray, k: int, feature_names: Sequence[str], *, max_rows: int = 200_000
) -> dict[str, Any]:
    """How far turn ``k``'s examples moved from turns 1..k-1: PSI per feature, for the target, and the largest.

    The largest is taken over features other than history counts (which grow every turn by construction).

    At most ``max_rows`` rows of each side are compared (an even, deterministic thinning).
    """
    ref_mask, cur_mask = turn < k, turn == k
    if not ref_mask.any() or not cur_mask.any():
        return {}
    ref_rows, cur_rows = np.flatnonzero(ref_mask), np.flatnonzero(cur_mask)
    ref_rows = ref_rows[:: max(1, len(ref_rows) // max_rows)]
    cur_rows = cur_rows[:: max(1, len(cur_rows) // max_rows)]
    features = {name: round(psi(X[ref_rows, j], X[cur_rows, j]), 4) for j, name in enumerate(feature_names)}
    ref_rate, cur_rate = float(np.mean(y[ref_mask])), float(np.mean(y[cur_mask]))
    # Event counts grow with every turn by construction; the largest shift is looked for elsewhere.
    shifting = [n for n in features if not n.endswith("_before_log")]
    worst = max(shifting, key=lambda n: features[n]) if shifting else ""
    return {
        "target_psi": round(psi_binary(ref_rate, cur_rate), 4),
        "target_rate_before": round(ref_rate, 4),
        "target_rate_turn": round(cur_rate, 4),
        "max_feature_psi": features.get(worst, 0.0),
        "max_feature": worst,
        "features": features,
    }
