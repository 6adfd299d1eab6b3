"""Compounding vs plateau: what will the next stretch of data or turns buy, in the metric's own units?

``judge_curve(x, y)`` projects the gain of the metric over a stated **horizon** and compares it with the
**material gain**; it returns a :class:`CurveReport` with the verdict, a calibrated confidence, the projected
gain with its 90% band, and a one-sentence reason that names all three.

The horizon: by default the next **three doublings** of x when x is a data size (rows, events, users,
labels), or the next span as long as the observed one when x is time or a turn number (week, day, turn,
version). The material gain: **2 points** (0.02) over the horizon for a metric bounded in [0, 1] (AUC,
accuracy, hit rate, a rate), and **10% of the current level** for an unbounded metric (users, queries,
minutes). The verdicts:

- **compounding** — the projected gain over the horizon is at least the material gain;
- **plateau** — it is less, and no material decline is expected;
- **backward** — the metric is declining beyond noise and by at least the material gain over the horizon,
  or its fitted change over the whole series is significantly below minus the material gain;
- **insufficient_data** — the evidence cannot tell: the band around the projected gain is wider than the
  whole plateau zone on both sides, because there are few points or the points' own measurement
  uncertainty swamps any trend.

How the gain is projected: from the recent local slope (the last third of the points, at least 3, in log x
for sizes and in x for time) and from the candidate curves of :mod:`flywheel_core.curves.fits` pooled by
their Akaike weights (a candidate that projects nonsense for this kind of x does not vote: straight-line and
exponential growth in the raw data size). The band comes from the slope's standard error (the noise measured
from the fits' residuals, or each point's own interval when given), the disagreement between the local slope
and the pooled curves, and a Student-t with n − 2 degrees of freedom, so that 3 to 5 points say how little
they know. Bounded metrics stay inside their bounds: a projection is never beyond the bound, and a rising
series' ceiling is never below its best observed value.

The confidence is the forecast's probability that the true gain lies on the verdict's side of the material
line, calibrated on the real learning curves of ``bench/curve_eval`` (``python bench/run.py curves`` prints the
calibration table). Fewer than 3 usable points raise :class:`InsufficientDataError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import special

from flywheel_core.curves.fits import MODEL_NAMES, NEEDS_POSITIVE_X, CurveFit, fit_many
from flywheel_core.curves.terms import (
    VERDICTS,
    Horizon,
    Verdict,
    XKind,
    default_material,
    infer_bounds,
    infer_x_kind,
    make_horizon,
)
from flywheel_core.exceptions import DataValidationError, FlywheelError, InsufficientDataError, Problem
from flywheel_core.numbers import compact_number
from flywheel_core.params import BOUNDS, MATERIAL, X_KIND, check

__all__ = [
    "FEW_POINTS",
    "MAX_POINTS",
    "MIN_POINTS",
    "VERDICTS",
    "CandidateFit",
    "CurveReport",
    "Horizon",
    "Verdict",
    "XKind",
    "default_material",
    "infer_bounds",
    "infer_x_kind",
    "judge_curve",
    "judge_curves",
]

MIN_POINTS = 3
FEW_POINTS = 6
MAX_POINTS = 2_000  # longer series are binned to this many points before fitting (memory stays bounded)
MAX_RAW_POINTS = 10_000_000  # beyond this a series is refused: aggregate it first

# Chosen on the tuning half of bench/curve_eval (real learning curves; `python bench/curve_eval/tune.py`), never
# on the holdout half that `python bench/run.py curves` reports.
_SLOPE_WEIGHT = 0.25  # the projection: this share from the local slope, the rest from the pooled curves
_DAMPING = 1.0  # returns slow down as data grows: a projected gain is taken at this share
_DAMP_DOWN = 0.5  # early declines often recover: a projected decline is taken at this share
_DISAGREEMENT = (
    1.0  # |slope − pooled| counts as model uncertainty (within 0.001 of the best on tune; honest few-point bands)
)
_SPREAD_FLOOR = 1.0  # the spread is never below this many material gains (real curves wobble between points)
_SCALE_MANY = 0.5  # spread scale with 6+ points (their residuals over-state the noise of a smooth trend)
_SCALE_FEW = 1.0  # spread scale with 3-5 points
_FEW_POWER = 0.5  # with 4-5 points, this share of the pooled projection comes from the power law
_PLATT = (0.823, 0.202)  # logistic recalibration of the forecast's probability: confidence = σ(a·logit p + b)
_TREND_MIN_POINTS = 10  # the whole-series decline rule needs this many points (short dips recover)
_BACKWARD_T = 3.0  # a decline over the whole series must be this many standard errors below zero
_WINDOW_SHARE = 1 / 3  # the local slope is measured over this share of the points (at least 3)
_LOG_TIME = True  # time and turns are also judged per doubling of x (a saturating curve in time projects less)


@dataclass(frozen=True, eq=False)
class CandidateFit:
    """A fitted candidate with its information criterion, Akaike weight, projected gain and whether it votes."""

    fit: CurveFit
    aicc: float | None
    weight: float
    gain: float
    votes: bool

    @property
    def model(self) -> str:
        return self.fit.model


@dataclass(frozen=True, eq=False)
class CurveReport:
    """The verdict on one series; every value is in the metric's own units and orientation."""

    verdict: Verdict
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
    horizon: Horizon
    material: float
    bounds: tuple[float, float] | None
    projected_gain: float
    gain_low: float
    gain_high: float
    noise_sd: float
    probabilities: dict[str, float] = field(default_factory=dict)
    gain_so_far: float = 0.0

    @property
    def best(self) -> CurveFit:
        return next(c.fit for c in self.candidates if c.model == self.model)

    def predict(self, x: Any, model: str | None = None) -> np.ndarray:
        """The chosen (or named) candidate's curve at ``x``, in the metric's orientation, kept within bounds."""
        fit = self.best if model is None else next(c.fit for c in self.candidates if c.model == model)
        sign = 1.0 if self.higher_is_better else -1.0
        values = sign * fit.predict(x)
        return values if self.bounds is None else np.clip(values, *self.bounds)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
            "projected_gain": _finite(self.projected_gain),
            "gain_band": [_finite(self.gain_low), _finite(self.gain_high)],
            "band_level": 0.9,
            "material_gain": _finite(self.material),
            "horizon": {
                "kind": self.horizon.kind.value,
                "x_from": self.horizon.x_from,
                "x_to": self.horizon.x_to,
                "text": self.horizon.text,
            },
            "bounds": list(self.bounds) if self.bounds is not None else None,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "model": self.model,
            "params": {k: _finite(v) for k, v in self.params.items()},
            "asymptote": _finite(self.asymptote),
            "headroom": _finite(self.headroom),
            "rule": self.rule,
            "n_points": len(self.x),
            "higher_is_better": self.higher_is_better,
            "gain_so_far": _finite(self.gain_so_far),
            "candidates": [
                {
                    "model": c.model,
                    "aicc": _finite(c.aicc),
                    "weight": round(c.weight, 4),
                    "gain": _finite(c.gain),
                    "votes": c.votes,
                }
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
    if len(xa) > MAX_RAW_POINTS:
        raise DataValidationError(
            f"A curve can have at most {MAX_RAW_POINTS:,} points; this series has {len(xa):,}. "
            "Aggregate it first (for example one point per week or per doubling of x)."
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


def _local_slope(u: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares slope of z on u and Σw(u − ū)² (for its standard error)."""
    um = float(np.average(u, weights=w))
    uc = u - um
    suu = float(np.sum(w * uc * uc))
    if not suu > 0:
        return 0.0, 0.0
    slope = float(np.sum(w * uc * (z - np.average(z, weights=w)))) / suu
    return slope, suu


def judge_curve(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
    bounds: tuple[float, float] | str | None = "infer",
    x_kind: XKind | str | None = None,
    material: float | None = None,
    horizon_x: float | None = None,
    y_sd: Sequence[float] | np.ndarray | None = None,
    x_name: str = "x",
    y_name: str = "",
) -> CurveReport:
    """Project the gain over the horizon and judge: compounding, plateau, backward or insufficient_data.

    Parameters:
        bounds: ``(low, high)`` of the metric, None for unbounded, "infer" (default) from ``y_name`` and values.
        x_kind: "size" (judged over three doublings) or "time" (over the next span); inferred from ``x_name``.
        material: the gain that matters over the horizon (default: 2 points bounded, 10% of the level otherwise).
        horizon_x: judge up to this x instead of the default horizon.
        y_sd: each point's own standard error (for example from its interval), which weights the fit and
            widens the band.

    Raises:
        DataValidationError: lengths differ, a value is missing or infinite, x is not strictly increasing,
            a value lies outside the given bounds, or the material gain is not positive.
        InsufficientDataError: fewer than 3 points.
    """
    _check_options(bounds, x_kind, material, caller="judge_curve")
    prep = _prepare(x, y, higher_is_better, bounds, x_kind, material, horizon_x, y_sd, x_name, y_name)
    report = _judge(prep, _fit_all(prep.x, prep.z[None, :])[0])
    raw = len(np.asarray(x).ravel())
    if raw > len(prep.x):
        report = replace(report, reason=f"{report.reason} Judged on {len(prep.x):,} bins of the {raw:,} points.")
    return report


def _check_options(bounds: object, x_kind: object, material: object, *, caller: str) -> None:
    """The options every series is judged with, checked once against their declarations."""
    for param, value in ((BOUNDS, bounds), (X_KIND, x_kind), (MATERIAL, material)):
        check(param, value, caller=caller)


def judge_curves(
    series: Sequence[tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    *,
    higher_is_better: bool = True,
    bounds: tuple[float, float] | str | None = "infer",
    x_kind: XKind | str | None = None,
    material: float | None = None,
    x_name: str = "x",
    y_name: str = "",
) -> list[CurveReport | FlywheelError]:
    """Judge many series with the same options; series that share their x are fitted together (vectorised).

    Returns one entry per series, in order: its report, or the :class:`FlywheelError` that refused it.

    Raises:
        DataValidationError: an option (bounds, x kind, material gain) that no series could be judged with.
    """
    _check_options(bounds, x_kind, material, caller="judge_curves")
    out: list[CurveReport | FlywheelError] = []
    preps: list[_Prepared | None] = []
    for x, y in series:
        try:
            preps.append(_prepare(x, y, higher_is_better, bounds, x_kind, material, None, None, x_name, y_name))
            out.append(_PENDING)
        except FlywheelError as exc:
            preps.append(None)
            out.append(exc)
    groups: dict[bytes, list[int]] = {}
    for i, prep in enumerate(preps):
        if prep is not None:
            groups.setdefault(prep.x.tobytes(), []).append(i)
    for members in groups.values():
        first = preps[members[0]]
        assert first is not None
        stacked = np.stack([preps[i].z for i in members])  # type: ignore[union-attr]
        for i, fits in zip(members, _fit_all(first.x, stacked), strict=True):
            out[i] = _judge(preps[i], fits)  # type: ignore[arg-type]
    return out


@dataclass(frozen=True, eq=False)
class _Prepared:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray  # y oriented so that higher is better
    sd: np.ndarray | None
    sign: float
    bounds: tuple[float, float] | None
    zb: tuple[float, float] | None  # bounds in the orientation of z
    kind: XKind
    horizon: Horizon
    material: float


_PENDING = FlywheelError("not judged yet")


def _prepare(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    higher_is_better: bool,
    bounds: tuple[float, float] | str | None,
    x_kind: XKind | str | None,
    material: float | None,
    horizon_x: float | None,
    y_sd: Sequence[float] | np.ndarray | None,
    x_name: str,
    y_name: str,
) -> _Prepared:
    xa, ya_raw = _validate(x, y)
    sd = _point_sd(y_sd, len(xa))
    if len(xa) > MAX_POINTS:
        xa, ya_raw, sd = bin_series(xa, ya_raw, sd, bins=MAX_POINTS)
    lohi = infer_bounds(y_name, ya_raw) if isinstance(bounds, str) else bounds
    if lohi is not None:
        lo, hi = float(lohi[0]), float(lohi[1])  # low < high: checked against params.BOUNDS
        outside = np.flatnonzero((ya_raw < lo - 1e-12) | (ya_raw > hi + 1e-12))
        if len(outside):
            i = int(outside[0])
            raise DataValidationError(
                f"Value {ya_raw[i]:g} in row {i + 1} lies outside the metric's bounds [{lo:g}, {hi:g}]; "
                "fix the value or give other bounds."
            )
        lohi = (lo, hi)
    kind = XKind(x_kind) if x_kind is not None else infer_x_kind(x_name, xa)  # checked against params.X_KIND
    hz = make_horizon(xa, kind, horizon_x, x_name)
    sign = 1.0 if higher_is_better else -1.0
    zb = None if lohi is None else (min(sign * lohi[0], sign * lohi[1]), max(sign * lohi[0], sign * lohi[1]))
    level = float(ya_raw[-1])
    m = default_material(lohi, level) if material is None else float(material)  # positive: params.MATERIAL
    return _Prepared(xa, ya_raw, sign * ya_raw, sd, sign, lohi, zb, kind, hz, m)


def _fit_all(x: np.ndarray, zs: np.ndarray) -> list[list[CurveFit]]:
    """Every candidate fitted to every row of ``zs`` (R, n) sharing ``x``: R lists of fits."""
    per_series: list[list[CurveFit]] = [[] for _ in range(len(zs))]
    for name in MODEL_NAMES:
        if x[0] <= 0 and name in NEEDS_POSITIVE_X:
            continue
        for r, fit in enumerate(fit_many(name, x, zs)):
            per_series[r].append(fit)
    return per_series


def bin_series(
    x: np.ndarray, y: np.ndarray, sd: np.ndarray | None, *, bins: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A long series (x strictly increasing) as ``bins`` runs of consecutive points: each bin's mean x,
    mean y and the standard error of that mean (from the spread inside the bin and the points' own errors).

    Work and memory are linear in the points; the fit then sees ``bins`` points with their errors.
    """
    edges = np.linspace(0, len(x), bins + 1).astype(np.int64)
    counts = np.diff(edges)
    starts = edges[:-1]
    mean_x = np.add.reduceat(x, starts) / counts
    mean_y = np.add.reduceat(y, starts) / counts
    spread = np.add.reduceat((y - np.repeat(mean_y, counts)) ** 2, starts) / np.maximum(counts - 1, 1)
    own = np.zeros(bins) if sd is None else np.add.reduceat(sd**2, starts) / counts
    return mean_x, mean_y, np.sqrt((spread + own) / counts)


def _point_sd(y_sd: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray | None:
    if y_sd is None:
        return None
    sd = np.asarray(y_sd, dtype=float).ravel()
    if len(sd) != n or np.any(~np.isfinite(sd)) or np.any(sd < 0):
        raise DataValidationError("Each point's standard error must be a finite number ≥ 0, one per point.")
    return sd


@dataclass(frozen=True, eq=False)
class _Evidence:
    """What the decision reads: the two projections, their uncertainty and the trend of the whole series."""

    best: CurveFit
    fits: list[CurveFit]
    voters: list[CurveFit]
    aiccs: dict[str, float | None]
    weights: dict[str, float]
    gains: dict[str, float]
    z_end: float
    slope: float
    slope_gain: float
    pooled: float
    se_gain: float  # standard error of the slope projection over the horizon
    noise: float
    series_t: float
    series_change: float
    scale: float


def _evidence(prep: _Prepared, fits: list[CurveFit]) -> _Evidence:
    xa, z, sd, zb, kind, hz = prep.x, prep.z, prep.sd, prep.zb, prep.kind, prep.horizon
    n = len(xa)
    scale = float(np.abs(z).max() + np.ptp(z)) or 1.0
    log_x = xa[0] > 0 and (kind is XKind.SIZE or _LOG_TIME)
    u = np.log2(xa) if log_x else xa
    u_end, u_to = (math.log2(hz.x_from), math.log2(hz.x_to)) if log_x else (hz.x_from, hz.x_to)
    h = u_to - u_end
    many = n >= FEW_POINTS
    aiccs = {f.model: _aicc(f.rss, n, f.n_params, scale) if many else None for f in fits}
    voters = [f for f in fits if _votes(f, kind, many)]
    weights = _akaike(voters, aiccs)
    best = max(voters, key=lambda f: (weights.get(f.model, 0.0), -f.n_params))
    z_end = float(best.predict(xa[-1:])[0])
    if zb is not None:
        z_end = min(max(z_end, zb[0]), zb[1])
    gains = {
        f.model: _clip_gain(float(f.predict(np.array([hz.x_to]))[0] - f.predict(xa[-1:])[0]), z_end, zb) for f in fits
    }
    pooled = sum(weights.get(f.model, 0.0) * gains[f.model] for f in voters)
    if not many and "power" in gains and n > 3:  # few points: the two-parameter fits cannot bend; let the power law
        pooled = (1 - _FEW_POWER) * pooled + _FEW_POWER * gains["power"]  # (3 parameters) say how returns slow
    noise = _noise(z, best, sd, scale)
    window = min(n, max(3, math.ceil(n * _WINDOW_SHARE)))
    w = np.ones(window) if sd is None else 1.0 / np.maximum(sd[-window:], noise * 0.1) ** 2
    slope, suu = _local_slope(u[-window:], z[-window:], w)
    se_slope = (noise / math.sqrt(suu) if suu > 0 else math.inf) if sd is None else 1.0 / math.sqrt(max(suu, 1e-300))
    series_t, series_change = _series_trend(u, z, noise, sd)
    return _Evidence(
        best,
        fits,
        voters,
        aiccs,
        weights,
        gains,
        z_end,
        slope,
        _clip_gain(slope * h, z_end, zb),
        pooled,
        se_slope * h,
        noise,
        series_t,
        series_change,
        scale,
    )


def _judge(prep: _Prepared, fits: list[CurveFit]) -> CurveReport:
    ev = _evidence(prep, fits)
    xa, ya_raw, z, sd, sign = prep.x, prep.y, prep.z, prep.sd, prep.sign
    lohi, zb, hz, m = prep.bounds, prep.zb, prep.horizon, prep.material
    n = len(xa)
    best, z_end, slope_gain, pooled = ev.best, ev.z_end, ev.slope_gain, ev.pooled
    raw = _SLOPE_WEIGHT * slope_gain + (1 - _SLOPE_WEIGHT) * pooled
    projected = _clip_gain(_DAMPING * raw if raw > 0 else _DAMP_DOWN * raw, z_end, zb)
    spread = math.hypot(ev.se_gain, _DISAGREEMENT * (slope_gain - pooled), _SPREAD_FLOOR * m)
    spread *= _SCALE_FEW if n < FEW_POINTS else _SCALE_MANY
    df = float(max(n - 2, 1))

    def cdf(value: float) -> float:
        return float(special.stdtr(df, (value - projected) / spread))

    probs = {"compounding": 1.0 - cdf(m), "backward": cdf(-m)}
    if zb is not None and zb[1] - z_end < m:  # no material gain is possible below the bound
        probs["compounding"] = 0.0
    probs["plateau"] = max(0.0, 1.0 - probs["compounding"] - probs["backward"])
    verdict = Verdict(max(probs, key=lambda k: probs[k]))
    trend_backward = n >= _TREND_MIN_POINTS and ev.series_t < -_BACKWARD_T and ev.series_change <= -m and ev.slope <= 0
    if trend_backward:
        verdict = Verdict.BACKWARD
        probs["backward"] = max(probs["backward"], float(special.ndtr(-ev.series_t - _BACKWARD_T)))
    confidence = _calibrated(probs[verdict.value])
    t90 = float(special.stdtrit(df, 0.95))
    lo_g = _clip_gain(projected - t90 * spread, z_end, zb)
    hi_g = _clip_gain(projected + t90 * spread, z_end, zb)
    swamped = sd is not None and float(np.sqrt(np.mean(sd**2))) >= m  # the points' own intervals
    if lo_g < -m and hi_g > m and not trend_backward and swamped:
        verdict = Verdict.INSUFFICIENT_DATA  # the band reaches past the material line on both sides
        confidence = 1.0 - confidence
    band_low, band_high = sorted((sign * lo_g, sign * hi_g))
    rule = "aicc" if n >= FEW_POINTS else "few_points"
    ceiling = _ceiling(best, z, zb)
    report_gain = sign * projected
    return CurveReport(
        verdict=verdict,
        confidence=float(min(max(confidence, 0.0), 1.0)),
        reason=_reason(verdict, confidence, sign * projected, band_low, band_high, m, hz, lohi, n, sd),
        model=best.model,
        params=best.params(),
        asymptote=None if ceiling is None else sign * ceiling,
        headroom=None if ceiling is None else max(ceiling - z_end, 0.0),
        higher_is_better=sign > 0,
        rule=rule,
        x=xa,
        y=ya_raw,
        candidates=tuple(
            CandidateFit(
                fit=f,
                aicc=ev.aiccs.get(f.model),
                weight=ev.weights.get(f.model, 0.0),
                gain=sign * ev.gains[f.model],
                votes=f in ev.voters,
            )
            for f in ev.fits
        ),
        horizon=hz,
        material=m,
        bounds=lohi,
        projected_gain=report_gain,
        gain_low=min(sign * lo_g, sign * hi_g),
        gain_high=max(sign * lo_g, sign * hi_g),
        noise_sd=ev.noise,
        probabilities=probs,
        gain_so_far=sign * float(best.predict(xa[-1:])[0] - best.predict(xa[:1])[0]),
    )


def _calibrated(p: float) -> float:
    a, b = _PLATT
    q = min(max(p, 1e-9), 1 - 1e-9)
    return float(special.expit(a * special.logit(q) + b))


def _votes(fit: CurveFit, kind: XKind, many: bool) -> bool:
    if not math.isfinite(fit.rss):
        return False
    if kind is XKind.SIZE and fit.model in ("linear", "exponential"):
        return False  # growth without end in the raw data size is nonsense for a learning curve
    return many or fit.n_params == 2


def _akaike(voters: list[CurveFit], aiccs: dict[str, float | None]) -> dict[str, float]:
    scored = {f.model: a for f in voters if (a := aiccs.get(f.model)) is not None and math.isfinite(a)}
    if not scored:  # few points: the two-parameter voters, by residuals
        rss = {f.model: f.rss for f in voters}
        best = min(rss.values())
        raw = {k: 1.0 if v <= best * (1 + 1e-9) + 1e-300 else 0.0 for k, v in rss.items()}
    else:
        low = min(scored.values())
        raw = {k: math.exp(-0.5 * (a - low)) for k, a in scored.items()}
    total = sum(raw.values()) or 1.0
    return {k: v / total for k, v in raw.items()}


def _clip_gain(gain: float, z_end: float, zb: tuple[float, float] | None) -> float:
    if not math.isfinite(gain):
        gain = math.copysign(1e300, gain) if not math.isnan(gain) else 0.0
    if zb is None:
        return gain
    return min(max(gain, zb[0] - z_end), zb[1] - z_end)


def _noise(z: np.ndarray, best: CurveFit, sd: np.ndarray | None, scale: float) -> float:
    n = len(z)
    resid_sd = math.sqrt(best.rss / max(n - best.n_params, 1)) if math.isfinite(best.rss) else 0.0
    if sd is not None:
        resid_sd = max(resid_sd, float(np.sqrt(np.mean(sd**2))))
    return max(resid_sd, 1e-9 * scale)


def _series_trend(u: np.ndarray, z: np.ndarray, noise: float, sd: np.ndarray | None) -> tuple[float, float]:
    """t statistic and size of the straight-line change over the whole series (in u)."""
    w = np.ones(len(u)) if sd is None else 1.0 / np.maximum(sd, noise * 0.1) ** 2
    slope, suu = _local_slope(u, z, w)
    if not suu > 0:
        return 0.0, 0.0
    se = noise / math.sqrt(suu) if sd is None else 1.0 / math.sqrt(suu)
    return (slope / se if se > 0 else -math.inf if slope < 0 else 0.0), slope * float(u[-1] - u[0])


def _ceiling(best: CurveFit, z: np.ndarray, zb: tuple[float, float] | None) -> float | None:
    asym = best.asymptote
    if asym is None:
        return None
    if z[-1] > z[0]:
        asym = max(asym, float(z.max()))  # a rising series' ceiling is never below what it already reached
    return asym if zb is None else min(max(asym, zb[0]), zb[1])


def _reason(
    verdict: Verdict,
    confidence: float,
    gain: float,
    low: float,
    high: float,
    m: float,
    hz: Horizon,
    bounds: tuple[float, float] | None,
    n: int,
    sd: np.ndarray | None,
) -> str:
    """ "The next three doublings of rows (to 256k) are expected to add +3.4 points (90% band +1.9 to +5.0);
    2 points is material: compounding, 93% (from 8 points)."."""
    in_points = bounds == (0.0, 1.0)
    unit = " points" if in_points else ""

    def fmt(value: float, signed: bool = True) -> str:
        v = 100 * value if in_points else value
        if abs(v) < (0.05 if in_points else 1e-12):
            v = 0.0
        body = f"{abs(v):.1f}" if in_points else compact_number(abs(v))
        return (("+" if v >= 0 else "−") + body) if signed else body

    evidence = f"{n} points" + (" with their own intervals" if sd is not None else "")
    head = (
        f"{hz.text[0].upper()}{hz.text[1:]} are expected to add {fmt(gain)}{unit} "
        f"(90% band {fmt(low)} to {fmt(high)}{unit}); {fmt(m, signed=False)}{unit} is material"
    )
    if verdict is Verdict.INSUFFICIENT_DATA:
        return f"{head}: the band is too wide to tell from {evidence} (not enough evidence)."
    return f"{head}: {verdict.value}, {confidence:.0%} (from {evidence})."
