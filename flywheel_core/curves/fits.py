"""The candidate curves and their fast fitting by variable projection.

Every candidate is written as ``y = a + b·f(t; θ)`` (or ``y = b·f(t; θ)`` without an intercept) where
``t`` is ``x`` rescaled to about [0, 1] and ``θ`` holds the nonlinear parameters (zero, one or two).
For a fixed ``θ`` the linear parameters ``a, b`` and the residual sum of squares have closed forms, so
a fit is a vectorised grid search over ``θ`` (all grid values evaluated at once with numpy) followed by
two finer local grids: no iterative optimiser, no starting values to get wrong. The same code fits ``R``
series sharing one ``x`` at once, which is how the residual bootstrap of the forecast band is done.

Candidates (in original units, higher is better):

==================  ==============================  =========================  ==========
name                formula                         bounds (on rescaled t)     parameters
==================  ==============================  =========================  ==========
``power``           y = a − b·x^(−c)                c in [0.02, 4], x > 0       3
``saturating_exp``  y = a − b·e^(−c·(x − x₀))       c·span in [0.05, 60]        3
``logistic``        y = d + L / (1 + e^(−k(x − m))) k·span in [0.5, 200]        4
``log_linear``      y = a + b·ln x                  x > 0                       2
``exponential``     y = a·e^(b·(x − x₀))            b·span in [−8, 12]          2
``linear``          y = a + b·x                     —                           2
==================  ==============================  =========================  ==========

``x₀`` is the first x of the series (kept in the formula so that large x such as years cannot overflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["MODEL_NAMES", "N_PARAMS", "CurveFit", "fit_many", "fit_model", "refit_many"]

Array = NDArray[np.float64]

MODEL_NAMES = ("power", "saturating_exp", "logistic", "log_linear", "exponential", "linear")
N_PARAMS = {"power": 3, "saturating_exp": 3, "logistic": 4, "log_linear": 2, "exponential": 2, "linear": 2}
NEEDS_POSITIVE_X = frozenset({"power", "log_linear"})

_POWER_GRID = np.geomspace(0.02, 4.0, 48)
_SATEXP_GRID = np.geomspace(0.05, 60.0, 48)
_EXP_GRID = np.linspace(-8.0, 12.0, 61)
_LOGI_K = np.geomspace(0.5, 200.0, 18)
_LOGI_M = np.linspace(-0.5, 1.5, 21)
_OFFSETS = np.linspace(-1.0, 1.0, 13)
_OFFSETS_2D = np.linspace(-1.0, 1.0, 7)
_LOGI_GRID = np.stack(np.meshgrid(_LOGI_K, _LOGI_M, indexing="ij"), axis=-1).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class CurveFit:
    """One fitted candidate: internal parameters, the rescaling of x, and its fit statistics."""

    model: str
    theta: tuple[float, ...]
    coef: tuple[float, float]
    shift: float
    scale: float
    rss: float
    n_params: int

    def t(self, x: Any) -> Array:
        return (np.asarray(x, dtype=float) - self.shift) / self.scale

    def predict(self, x: Any) -> Array:
        """Fitted y (internal orientation: higher is better) at ``x``."""
        return _predict(
            self.model, np.asarray(self.theta)[None, :], np.asarray(self.coef)[None, :], self.t(x)[None, :]
        )[0]

    @property
    def asymptote(self) -> float | None:
        """The level the curve approaches as x grows, or None when it has no ceiling."""
        a, b = self.coef
        if self.model in ("power", "saturating_exp"):
            return a
        if self.model == "logistic":
            return a + b
        return None

    def params(self) -> dict[str, float]:
        """Parameters in the original units of x (see the table in the module docstring)."""
        a, b = self.coef
        s, x0 = self.scale, self.shift
        if self.model == "power":
            c = self.theta[0]
            return {"a": a, "b": b * s**c, "c": c}
        if self.model == "saturating_exp":
            return {"a": a, "b": b, "c": self.theta[0] / s, "x0": x0}
        if self.model == "logistic":
            k, m = self.theta
            return {"d": a, "L": b, "k": k / s, "m": x0 + m * s}
        if self.model == "log_linear":
            return {"a": a - b * np.log(s), "b": b}
        if self.model == "exponential":
            return {"a": b, "b": self.theta[0] / s, "x0": x0}
        return {"a": a - b * x0 / s, "b": b / s}


def _basis(model: str, theta: Array, t: Array) -> Array:
    """f(t; θ) for a batch of θ: theta (..., G, p), t (..., 1, n) → (..., G, n)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if model == "power":
            return -np.exp(-theta[..., 0:1] * np.log(t))
        if model == "saturating_exp":
            return -np.exp(-theta[..., 0:1] * t)
        if model == "logistic":
            return 1.0 / (1.0 + np.exp(-theta[..., 0:1] * (t - theta[..., 1:2])))
        if model == "exponential":
            return np.exp(np.clip(theta[..., 0:1] * t, -700, 700))
        if model == "log_linear":
            return np.broadcast_to(np.log(t), (*theta.shape[:-1], t.shape[-1]))
        return np.broadcast_to(t, (*theta.shape[:-1], t.shape[-1]))


def _predict(model: str, theta: Array, coef: Array, t: Array) -> Array:
    """theta (R, p), coef (R, 2), t (R or 1, m) → (R, m)."""
    f = _basis(model, theta[:, None, :], t[:, None, :])[:, 0, :]
    with np.errstate(over="ignore", invalid="ignore"):
        if model == "exponential":
            return coef[:, 1:2] * f
        return coef[:, 0:1] + coef[:, 1:2] * f


def _project(f: Array, y: Array, intercept: bool) -> tuple[Array, Array, Array]:
    """Closed-form linear parameters for every basis: f (R|1, G, n), y (R, 1, n) → rss, a, b (R, G)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if intercept:
            fm = f.mean(axis=-1, keepdims=True)
            ym = y.mean(axis=-1, keepdims=True)
            fc = f - fm
            yc = y - ym
            sff = np.einsum("...gn,...gn->...g", fc, fc)
            sfy = np.matmul(yc, np.swapaxes(fc, -1, -2))[..., 0, :]
            syy = np.einsum("...n,...n->...", yc, yc)[..., 0:1]
            ok = sff > 1e-300
            b = np.where(ok, sfy / np.where(ok, sff, 1.0), 0.0)
            a = ym[..., 0] - b * fm[..., 0]
            rss = syy - b * sfy
        else:
            sff = np.einsum("...gn,...gn->...g", f, f)
            sfy = np.matmul(y, np.swapaxes(f, -1, -2))[..., 0, :]
            syy = np.einsum("...n,...n->...", y, y)[..., 0:1]
            ok = sff > 1e-300
            b = np.where(ok, sfy / np.where(ok, sff, 1.0), 0.0)
            a = np.zeros_like(b)
            rss = syy - b * sfy
    bad = ~np.isfinite(rss) | ~np.isfinite(a) | ~np.isfinite(b)
    rss = np.where(bad, np.inf, np.maximum(rss, 0.0))
    return rss, a, b


def _search(model: str, grid: Array, t: Array, y: Array) -> tuple[Array, Array, Array]:
    """Grid search shared by all series (grid (G, p)), then two local refinements per series.

    Returns theta (R, p), coef (R, 2) and rss (R,).
    """
    intercept = model != "exponential"
    rss, a, b = _project(_basis(model, grid[None, :, :], t[None, None, :]), y[:, None, :], intercept)
    best = np.argmin(rss, axis=1)
    theta = grid[best]
    step = _steps(model, grid)
    for _ in range(2):
        local = _local_grid(model, theta, step)
        rss, a, b = _project(_basis(model, local, t[None, None, :]), y[:, None, :], intercept)
        best = np.argmin(rss, axis=1)
        rows = np.arange(len(best))
        theta, step = local[rows, best], step / 3.0
    return theta, np.stack([a[rows, best], b[rows, best]], axis=1), rss[rows, best]


def _steps(model: str, grid: Array) -> Array:
    if model == "logistic":
        return np.array([np.log(_LOGI_K[1] / _LOGI_K[0]), _LOGI_M[1] - _LOGI_M[0]])
    if model == "exponential":
        return np.array([grid[1, 0] - grid[0, 0]])
    return np.array([np.log(grid[1, 0] / grid[0, 0])])


def _local_grid(model: str, theta: Array, step: Array) -> Array:
    """A small grid around each series' best θ: (R, G_local, p)."""
    offsets = _OFFSETS
    if model == "logistic":
        ok = _OFFSETS_2D
        k = np.exp(np.log(theta[:, 0:1]) + ok[None, :] * step[0])
        m = theta[:, 1:2] + ok[None, :] * step[1]
        kk = np.repeat(k, 7, axis=1)
        mm = np.tile(m, (1, 7))
        return np.stack([kk, mm], axis=-1)
    if model == "exponential":
        return (theta[:, 0:1] + offsets[None, :] * step[0])[..., None]
    lo, hi = (0.02, 4.0) if model == "power" else (0.05, 60.0)
    return np.clip(np.exp(np.log(theta[:, 0:1]) + offsets[None, :] * step[0]), lo, hi)[..., None]


def _closed_form(t: Array, y: Array) -> tuple[Array, Array]:
    """Ordinary least squares of y (R, n) on t (n,): coef (R, 2), rss (R,)."""
    tm = t.mean()
    tc = t - tm
    stt = float(tc @ tc)
    ym = y.mean(axis=1)
    yc = y - ym[:, None]
    b = (yc @ tc) / stt if stt > 0 else np.zeros(len(y))
    a = ym - b * tm
    rss = np.maximum(np.einsum("rn,rn->r", yc, yc) - b * (yc @ tc), 0.0)
    return np.stack([a, b], axis=1), rss


def _transform(model: str, x: Array) -> tuple[float, float]:
    """(shift, scale) so that t = (x − shift) / scale lies in about [0, 1]."""
    if model in NEEDS_POSITIVE_X:
        return 0.0, float(x[-1])
    span = float(x[-1] - x[0])
    return float(x[0]), span if span > 0 else 1.0


def refit_many(model: str, x: Array, ys: Array) -> tuple[Array, Array, float, float]:
    """Fit ``model`` to each row of ``ys`` (R, n) sharing ``x``: theta (R, p), coef (R, 2), shift, scale."""
    shift, scale = _transform(model, x)
    t = (x - shift) / scale
    if model in ("linear", "log_linear"):
        coef, _ = _closed_form(np.log(t) if model == "log_linear" else t, ys)
        return np.zeros((len(ys), 0)), coef, shift, scale
    grid = {
        "power": _POWER_GRID[:, None],
        "saturating_exp": _SATEXP_GRID[:, None],
        "exponential": _EXP_GRID[:, None],
        "logistic": _LOGI_GRID,
    }[model]
    theta, coef, _ = _search(model, grid, t, ys)
    return theta, coef, shift, scale


def fit_model(model: str, x: Array, y: Array) -> CurveFit:
    """Least-squares fit of one candidate to one series (x increasing; x > 0 for power and log-linear)."""
    theta, coef, shift, scale = refit_many(model, x, y[None, :])
    fit = CurveFit(
        model=model,
        theta=tuple(float(v) for v in theta[0]),
        coef=(float(coef[0, 0]), float(coef[0, 1])),
        shift=shift,
        scale=scale,
        rss=0.0,
        n_params=N_PARAMS[model],
    )
    resid = y - fit.predict(x)
    rss = float(resid @ resid)
    return CurveFit(
        model=model,
        theta=fit.theta,
        coef=fit.coef,
        shift=shift,
        scale=scale,
        rss=rss if np.isfinite(rss) else float("inf"),
        n_params=fit.n_params,
    )


def fit_many(model: str, x: Array, ys: Array) -> list[CurveFit]:
    """Least-squares fits of one candidate to each row of ``ys`` (R, n) sharing ``x``, all at once."""
    theta, coef, shift, scale = refit_many(model, x, ys)
    t = ((x - shift) / scale)[None, :]
    with np.errstate(all="ignore"):
        resid = ys - _predict(model, theta, coef, t)
        rss = np.einsum("rn,rn->r", resid, resid)
    return [
        CurveFit(
            model=model,
            theta=tuple(float(v) for v in theta[r]),
            coef=(float(coef[r, 0]), float(coef[r, 1])),
            shift=shift,
            scale=scale,
            rss=float(rss[r]) if np.isfinite(rss[r]) else float("inf"),
            n_params=N_PARAMS[model],
        )
        for r in range(len(ys))
    ]
