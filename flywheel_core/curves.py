"""Compounding vs plateau: fit candidate curves to a metric series and judge where it is heading.

``judge_curve(x, y)`` fits the candidates of :mod:`flywheel_core.curve_models` (power law with an
asymptote, saturating exponential, logistic, log-linear, exponential growth, linear), picks one and
returns a :class:`CurveReport` with a verdict, a confidence in [0, 1] and a one-sentence reason.
``forecast_curve`` adds a band; ``x_for_target`` answers "how much x until y reaches a target".

Verdicts (all judged with higher = better; pass ``higher_is_better=False`` for losses and errors):

- **compounding** — returns are not running into a ceiling within reach: the chosen curve still
  rises and has no ceiling (linear, exponential or log-linear growth), or less than 60% of its fitted
  headroom is spent, or the next doubling of x still adds at least 30% of the gain so far.
- **plateau** — a ceiling is near: at least 60% of the fitted headroom (gain so far + headroom left)
  is spent and the next doubling of x adds less than 30% of the gain so far; also a series whose
  fitted gain across the whole range is within noise (below 2.5 standard errors of a straight-line
  gain, σ·√(12/n), or below 0.1% of its level).
- **backward** — the metric declines over the recent points beyond noise: the slope over the last
  third of the points (at least 3) is below zero by more than 3 standard errors, the noise being
  measured from the second differences of the series (or the chosen fit's residuals when short).
- **insufficient_data** — 3 to 5 points that go up and down, or whose gains slow down but not enough
  to call a plateau.

"Doubling of x" is 2·x_max when every x is positive, else extending the observed range once more.
With 6 or more points the curve is chosen by AICc (a candidate needs n ≥ parameters + 3, counting the
noise variance), and the confidence is the Akaike weight of the candidates that agree with the
verdict, scaled down below 20 points. With **fewer than 6 points** ("few") no information criterion
is trusted: a series falling at every step, or ending at its lowest (below its start) after ups and downs, is
backward;
other ups and downs are insufficient_data; a rising series compares the rate of gain over the last step
with the first (per unit of ln x when x spans a factor of 4 or more, else per unit of x): at least 50%
is compounding, below 20% plateau, in between insufficient_data. The confidence is at most 0.5.
Fewer than 3 usable points raise :class:`InsufficientDataError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flywheel_core.curve_models import MODEL_NAMES, NEEDS_POSITIVE_X, CurveFit, fit_model
from flywheel_core.exceptions import DataValidationError, InsufficientDataError, Problem

__all__ = [
    "FEW_POINTS",
    "MIN_POINTS",
    "VERDICTS",
    "CandidateFit",
    "CurveReport",
    "judge_curve",
]

MIN_POINTS = 3
FEW_POINTS = 6
VERDICTS = ("compounding", "plateau", "backward", "insufficient_data")
_COMPOUND_RATIO = 0.30
_SPENT_PLATEAU = 0.60
_MATERIAL = 1e-3
_GAIN_SE = 2.5
_BACKWARD_T = 3.0


@dataclass(frozen=True, eq=False)
class CandidateFit:
    """A fitted candidate with its information criterion, Akaike weight and its own verdict."""

    fit: CurveFit
    aicc: float | None
    weight: float
    verdict: str

    @property
    def model(self) -> str:
        return self.fit.model


@dataclass(frozen=True, eq=False)
class CurveReport:
    """The verdict on one series; values are in the metric's own units and orientation."""

    verdict: str
    confidence: float
    reason: str
    model: str
    params: dict[str, float]
    asymptote: float | None
    headroom: float | None
    higher_is_better: bool
    rule: str
    x: np.ndarray
    y: np.ndarray
    candidates: tuple[CandidateFit, ...]
    gain_so_far: float
    next_doubling_gain: float | None
    headroom_spent: float | None
    noise_sd: float

    @property
    def best(self) -> CurveFit:
        return next(c.fit for c in self.candidates if c.model == self.model)

    def predict(self, x: Any, model: str | None = None) -> np.ndarray:
        """The chosen (or named) candidate's curve at ``x``, in the metric's orientation."""
        fit = self.best if model is None else next(c.fit for c in self.candidates if c.model == model)
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * fit.predict(x)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 3),
            "model": self.model,
            "params": {k: _finite(v) for k, v in self.params.items()},
            "asymptote": _finite(self.asymptote),
            "headroom": _finite(self.headroom),
            "reason": self.reason,
            "rule": self.rule,
            "n_points": len(self.x),
            "higher_is_better": self.higher_is_better,
            "gain_so_far": _finite(self.gain_so_far),
            "next_doubling_gain": _finite(self.next_doubling_gain),
            "headroom_spent": _finite(self.headroom_spent),
            "candidates": [
                {"model": c.model, "aicc": _finite(c.aicc), "weight": round(c.weight, 4), "verdict": c.verdict}
                for c in self.candidates
            ],
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _validate(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"The series must be numbers: {exc}. Fix the values and try again.") from exc
    if len(xa) != len(ya):
        raise DataValidationError(f"x has {len(xa)} values but y has {len(ya)}; give one y per x.")
    problems = []
    for name, values in (("x", xa), ("y", ya)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            problems.append(Problem("is missing or not finite", column=name, row=int(bad[0]) + 1, count=len(bad)))
    if problems:
        first = problems[0]
        raise DataValidationError(
            f"{sum(p.count for p in problems)} values are missing or not finite "
            f"(first: {first.column} in row {first.row}). Remove or fill them and try again.",
            problems,
        )
    if len(xa) < MIN_POINTS:
        raise InsufficientDataError(
            f"A curve needs at least {MIN_POINTS} points; this series has {len(xa)}. Add more model versions or values."
        )
    steps = np.diff(xa)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 2
        raise DataValidationError(
            f"x must be strictly increasing; row {row} has x = {xa[row - 1]:g} after {xa[row - 2]:g}. "
            "Sort the series by x and merge repeated x values.",
            [Problem("not strictly increasing", column="x", row=row, value=f"{xa[row - 1]:g}")],
        )
    if np.abs(xa).max() > 1e15 or np.abs(ya).max() > 1e15:
        raise DataValidationError("Values above 1e15 are not supported; rescale the series (e.g. to millions).")
    magnitudes = np.abs(np.concatenate([xa, ya]))
    if np.any((magnitudes > 0) & (magnitudes < 1e-100)):
        raise DataValidationError("Values between 0 and 1e-100 are not supported; rescale the series.")
    return xa, ya


def _aicc(rss: float, n: int, k: int, scale: float) -> float | None:
    p = k + 1
    if n - p - 1 <= 0:
        return None
    floor = n * (1e-9 * scale) ** 2 + 1e-300
    return n * math.log(max(rss, floor) / n) + 2 * p + 2 * p * (p + 1) / (n - p - 1)


def _next_x(x: np.ndarray) -> float:
    return float(2 * x[-1]) if x[0] > 0 else float(x[-1] + (x[-1] - x[0]))


def _shape(fit: CurveFit, x: np.ndarray, sigma: float) -> tuple[str, float, float, float | None, float | None]:
    """Verdict of one candidate from its own curve: (verdict, gain so far, next gain, headroom, spent)."""
    y0, y1, y2 = (float(v) for v in fit.predict(np.array([x[0], x[-1], _next_x(x)])))
    gain, nxt = y1 - y0, y2 - y1
    asym = fit.asymptote
    headroom = None if asym is None else asym - y1
    noise = max(_GAIN_SE * sigma * math.sqrt(12.0 / len(x)), _MATERIAL * abs(y1))
    if not math.isfinite(gain) or gain <= noise:
        return "plateau", gain, nxt, headroom, None
    if headroom is None or headroom < 0:
        spent = None if headroom is None else 1.0
        verdict = "compounding" if headroom is None and nxt > 0 else "plateau"
        return verdict, gain, nxt, headroom, spent
    spent = gain / (gain + headroom)
    if spent < _SPENT_PLATEAU or nxt / gain >= _COMPOUND_RATIO:
        return "compounding", gain, nxt, headroom, spent
    return "plateau", gain, nxt, headroom, spent


def _noise_sd(y: np.ndarray, best_rss: float, k: int, scale: float) -> float:
    n = len(y)
    resid_sd = math.sqrt(best_rss / max(n - k, 1))
    if n >= 8:
        d2 = np.diff(y, 2)
        mad = float(np.median(np.abs(d2 - np.median(d2))))
        sd = mad / 0.6745 / math.sqrt(6.0)
        if sd <= 0:
            sd = resid_sd
    else:
        sd = resid_sd
    return max(sd, 1e-9 * scale)


def _recent_decline(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """t statistic of the slope over the last third of the points (negative = declining)."""
    w = max(3, len(x) // 3)
    xs, ys = x[-w:], y[-w:]
    xc = xs - xs.mean()
    sxx = float(xc @ xc)
    if not sxx > 0:
        return 0.0
    slope = float(xc @ (ys - ys.mean())) / sxx
    se = sigma / math.sqrt(sxx)
    if not (se > 0 and math.isfinite(se)) or not math.isfinite(slope):
        return 0.0 if not slope < 0 else -math.inf
    return slope / se


def _fit_all(x: np.ndarray, y: np.ndarray) -> list[CurveFit]:
    names = [m for m in MODEL_NAMES if x[0] > 0 or m not in NEEDS_POSITIVE_X]
    return [fit_model(m, x, y) for m in names]


def judge_curve(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
) -> CurveReport:
    """Fit the candidates to ``(x, y)`` and judge: compounding, plateau, backward or insufficient_data.

    Raises:
        DataValidationError: lengths differ, a value is missing or infinite, or x is not strictly increasing.
        InsufficientDataError: fewer than 3 points.
    """
    xa, ya_raw = _validate(x, y)
    sign = 1.0 if higher_is_better else -1.0
    ya = sign * ya_raw
    n = len(xa)
    scale = float(np.abs(ya).max() + np.ptp(ya)) or 1.0
    fits = _fit_all(xa, ya)
    rule = "aicc" if n >= FEW_POINTS else "few_points"
    if rule == "aicc":
        maybe = [(f, _aicc(f.rss, n, f.n_params, scale)) for f in fits]
        scored = [(f, a) for f, a in maybe if a is not None and math.isfinite(a)]
        best_aicc = min(a for _, a in scored)
        raw = {f.model: math.exp(-0.5 * (a - best_aicc)) for f, a in scored}
        total = sum(raw.values())
        weights = {m: w / total for m, w in raw.items()}
        aiccs: dict[str, float | None] = {f.model: a for f, a in scored}
        best = min(scored, key=lambda fa: (fa[1], fa[0].n_params))[0]
    else:
        simple = [f for f in fits if f.n_params == 2]
        best = min(simple, key=lambda f: f.rss)
        weights = {f.model: (1.0 if f is best else 0.0) for f in fits}
        aiccs = {f.model: None for f in fits}
    sigma = _noise_sd(ya, best.rss, best.n_params, scale)
    shapes = {f.model: _shape(f, xa, sigma) for f in fits}
    candidates = tuple(
        CandidateFit(fit=f, aicc=aiccs.get(f.model), weight=weights.get(f.model, 0.0), verdict=shapes[f.model][0])
        for f in fits
    )
    _, gain, nxt, headroom, spent = shapes[best.model]
    t_recent = _recent_decline(xa, ya, sigma)
    if rule == "aicc":
        verdict, confidence, reason = _judge_many(best, shapes, weights, t_recent, n)
    else:
        verdict, confidence, reason = _judge_few(xa, ya, sigma)
    asym = best.asymptote
    return CurveReport(
        verdict=verdict,
        confidence=float(min(max(confidence, 0.0), 1.0)),
        reason=reason,
        model=best.model,
        params=best.params(),
        asymptote=None if asym is None else sign * asym,
        headroom=None if headroom is None else max(headroom, 0.0),
        higher_is_better=higher_is_better,
        rule=rule,
        x=xa,
        y=ya_raw,
        candidates=candidates,
        gain_so_far=gain,
        next_doubling_gain=nxt,
        headroom_spent=spent,
        noise_sd=sigma,
    )


_NAMES = {
    "power": "a power law with a ceiling",
    "saturating_exp": "a saturating exponential",
    "logistic": "an S-curve",
    "log_linear": "log-linear growth",
    "exponential": "exponential growth",
    "linear": "a straight line",
}


def _judge_many(
    best: CurveFit,
    shapes: dict[str, tuple[str, float, float, float | None, float | None]],
    weights: dict[str, float],
    t_recent: float,
    n: int,
) -> tuple[str, float, str]:
    data_factor = min(1.0, 0.6 + 0.4 * (n - FEW_POINTS) / 14)
    if t_recent < -_BACKWARD_T:
        confidence = (0.5 + 0.5 * (1 - math.exp(-(abs(t_recent) - _BACKWARD_T)))) * data_factor
        size = "far beyond" if abs(t_recent) > 50 else f"{abs(t_recent):.1f} standard errors beyond"
        reason = (
            f"The metric falls over the last {max(3, n // 3)} points, {size} its noise: the loop is spinning backward."
        )
        return "backward", confidence, reason
    verdict, gain, nxt, headroom, spent = shapes[best.model]
    agree = sum(w for m, w in weights.items() if shapes[m][0] == verdict)
    confidence = agree * data_factor
    name = _NAMES[best.model]
    if verdict == "plateau" and spent is None and (headroom is None or headroom >= 0):
        reason = f"Best fit is {name}, and the gain across the series is within noise: the metric has flattened."
    elif verdict == "plateau":
        ratio = nxt / gain if gain > 0 else 0.0
        spent_text = f"{spent:.0%} of the headroom is spent and " if spent is not None else ""
        reason = f"Best fit is {name}: {spent_text}the next doubling of x adds only {ratio:.0%} of the gain so far."
    elif headroom is None:
        reason = f"Best fit is {name} with no ceiling in sight: returns keep coming as x grows."
    else:
        reason = (
            f"Best fit is {name}; {1 - (spent or 0):.0%} of its headroom is left and the next doubling of x "
            f"adds {nxt / gain:.0%} of the gain so far."
        )
    return verdict, confidence, reason


def _judge_few(x: np.ndarray, y: np.ndarray, sigma: float) -> tuple[str, float, str]:
    n = len(x)
    cap = 0.3 + 0.1 * (n - MIN_POINTS)
    rng = float(np.ptp(y))
    level = float(np.abs(y).mean())
    tol = _MATERIAL * max(level, 1e-12)
    if rng <= tol:
        return "plateau", cap, f"The {n} values barely move (range {rng:.3g}): no gain to build on."
    steps = np.diff(y)
    falling, rising = steps < -tol, steps > tol
    if falling.all():
        return "backward", cap, f"The metric falls at every one of its {n - 1} steps."
    if falling.any() and rising.any():
        if y[-1] < y[0] and y[-1] <= y.min():
            return "backward", cap, f"The last of {n} values is the lowest, below the first: the gains were lost."
        return "insufficient_data", cap * 0.6, f"{n} values that go up and down cannot separate a trend from noise."
    use_log = x[0] > 0 and x[-1] / x[0] >= 4
    u = np.log(x) if use_log else x
    first = (y[1] - y[0]) / (u[1] - u[0])
    last = (y[-1] - y[-2]) / (u[-1] - u[-2])
    unit = "per doubling of x" if use_log else "per unit of x"
    if first <= 0 < last:
        return "compounding", cap, f"Gains resumed {unit} after a flat start over {n} values."
    if last <= 0:
        return "plateau", cap, f"The last step of {n} values gains nothing {unit}."
    ratio = last / first
    if ratio >= 0.5:
        return "compounding", cap, f"The last step gains {ratio:.0%} of the first step's rate {unit}: no slowdown yet."
    if ratio < 0.2:
        return "plateau", cap, f"The last step gains only {ratio:.0%} of the first step's rate {unit}."
    return (
        "insufficient_data",
        cap * 0.6,
        f"Gains slow to {ratio:.0%} of the first step's rate {unit}; {n} values cannot tell slowing from a plateau.",
    )
