"""Forecasts with an uncertainty band, and the x needed to reach a target, from a :class:`CurveReport`.

The band is a residual bootstrap of the chosen curve: the fitted values plus resampled (leverage-
inflated) residuals, refitted all at once by variable projection, give a spread of curves whose
percentiles bound the fitted curve (not single future observations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flywheel_core.curves.fits import NEEDS_POSITIVE_X, _predict, refit_many
from flywheel_core.curves.judge import CurveReport
from flywheel_core.exceptions import DataValidationError
from flywheel_core.numbers import compact_number

__all__ = ["CurveForecast", "TargetResult", "forecast_curve", "x_for_target"]


def _n(value: float) -> str:
    """A number in a sentence for people: 312M, 1.4B, 0.8123 (never 9.665e+11)."""
    return compact_number(float(value))


@dataclass(frozen=True, eq=False)
class CurveForecast:
    """The chosen curve beyond the data with a bootstrap band (``level`` coverage of the fitted curve)."""

    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


@dataclass(frozen=True)
class TargetResult:
    """How much x the chosen curve needs to reach ``target`` (None when not reachable)."""

    target: float
    reachable: bool
    x: float | None
    x_low: float | None
    x_high: float | None
    message: str


def forecast_curve(
    report: CurveReport,
    x_future: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 200,
    level: float = 0.9,
    random_state: int = 0,
) -> CurveForecast:
    """The chosen curve at ``x_future`` with a residual-bootstrap band of the fitted curve."""
    xf = np.asarray(x_future, dtype=float)
    if xf.ndim != 1 or not np.all(np.isfinite(xf)):
        raise DataValidationError("Forecast x values must be a flat list of finite numbers.")
    if report.model in NEEDS_POSITIVE_X and np.any(xf <= 0):
        raise DataValidationError(f"The {report.model} curve needs x > 0 to forecast; drop x ≤ 0.")
    draws = _bootstrap(report, xf, n_boot=n_boot, random_state=random_state)
    alpha = (1 - level) / 2
    low, high = np.nanquantile(draws, [alpha, 1 - alpha], axis=0)
    y = report.predict(xf)
    if report.bounds is not None:  # a bounded metric's forecast and band stay inside its bounds
        low, high = np.clip(low, *report.bounds), np.clip(high, *report.bounds)
    return CurveForecast(x=xf, y=y, low=np.minimum(low, y), high=np.maximum(high, y), level=level)


def _bootstrap(report: CurveReport, xf: np.ndarray, *, n_boot: int, random_state: int) -> np.ndarray:
    """Bootstrap curves at ``xf`` (n_boot, m) in the metric's orientation."""
    sign = 1.0 if report.higher_is_better else -1.0
    best = report.best
    ya = sign * report.y
    fitted = best.predict(report.x)
    n = len(report.x)
    resid = (ya - fitted) * math.sqrt(n / max(n - best.n_params, 1))
    rng = np.random.default_rng(random_state)
    ys = fitted[None, :] + rng.choice(resid, size=(n_boot, n), replace=True)
    theta, coef, shift, scale = refit_many(best.model, report.x, ys)
    t = ((xf - shift) / scale)[None, :]
    with np.errstate(all="ignore"):
        draws = _predict(best.model, theta, coef, t)
    return sign * np.where(np.isfinite(draws), draws, np.nan)


def x_for_target(
    report: CurveReport, target: float, *, max_factor: float = 1000.0, n_boot: int = 200, random_state: int = 0
) -> TargetResult:
    """The x at which the chosen curve first reaches ``target`` (searching up to ``max_factor``× the range).

    Returns "already reached" when a fitted value at the data already meets it, and "not reachable:
    ceiling at …" when the curve's asymptote is on the wrong side of the target.
    """
    if not math.isfinite(target):
        raise DataValidationError("The target must be a finite number.")
    sign = 1.0 if report.higher_is_better else -1.0
    goal = sign * target
    x = report.x
    if report.bounds is not None and not report.bounds[0] <= target <= report.bounds[1]:
        side = "exceed" if target > report.bounds[1] else "fall below"
        edge = report.bounds[1] if target > report.bounds[1] else report.bounds[0]
        return TargetResult(target, False, None, None, None, f"Not reachable: this metric cannot {side} {edge:g}.")
    if report.asymptote is not None and sign * report.asymptote <= goal:
        return TargetResult(
            target, False, None, None, None, f"Not reachable: the fitted ceiling is at {_n(report.asymptote)}."
        )
    fitted_end = sign * float(report.predict(x[-1:])[0])
    if fitted_end >= goal:
        return TargetResult(
            target,
            True,
            float(x[-1]),
            None,
            None,
            f"Already reached: the fitted curve is at {_n(sign * fitted_end)} at x = {_n(x[-1])}.",
        )
    if x[0] > 0:
        grid = np.geomspace(x[-1], x[-1] * max_factor, 600)
    else:
        grid = x[-1] + np.geomspace(1e-3, max_factor, 600) * (x[-1] - x[0])
    curve = sign * report.predict(grid)
    point = _first_crossing(grid, curve[None, :], goal)[0]
    draws = sign * _bootstrap(report, grid, n_boot=n_boot, random_state=random_state)
    crossings = _first_crossing(grid, draws, goal)
    reached = crossings[np.isfinite(crossings)]
    low = float(np.quantile(reached, 0.05)) if len(reached) >= n_boot // 2 else None
    high = float(np.quantile(reached, 0.95)) if len(reached) >= 0.95 * n_boot else None
    if not math.isfinite(point):
        return TargetResult(
            target, False, None, low, None, f"Not reachable within {max_factor:g}× the current range of x."
        )
    band = ""
    if low is not None:
        band = (
            f" (90% band {_n(low)} to {_n(high)})"
            if high is not None
            else f" (90% band from {_n(low)}; some bootstrap curves never reach it)"
        )
    return TargetResult(target, True, point, low, high, f"Reaches {_n(target)} at x ≈ {_n(point)}{band}.")


def _first_crossing(grid: np.ndarray, curves: np.ndarray, goal: float) -> np.ndarray:
    """x where each curve (R, m) first reaches ``goal`` by linear interpolation; NaN when never."""
    above = np.nan_to_num(curves, nan=-np.inf) >= goal
    hit = above.any(axis=1)
    idx = np.argmax(above, axis=1)
    out = np.full(len(curves), np.nan)
    for r in np.flatnonzero(hit):
        i = idx[r]
        if i == 0:
            out[r] = grid[0]
            continue
        y0, y1 = curves[r, i - 1], curves[r, i]
        frac = (goal - y0) / (y1 - y0) if y1 != y0 else 1.0
        out[r] = grid[i - 1] + frac * (grid[i] - grid[i - 1])
    return out
