"""A stock-and-flow flywheel simulator: users → interactions → usable data → model quality → product quality.

One week per step, vectorised over Monte Carlo runs with numpy (every run is a column). Stocks and flows:

- **Collection** — each user makes ``interactions_per_user_week``; ``capture_share`` of them are logged
  and ``feedback_share`` of those carry a usable feedback signal.
- **Storage** — ``usable_share`` of the captured rows reach training; the rest sits in silos.
- The usable-data stock loses ``drift_rate_week`` per week (old behaviour stops describing users) and
  ``deletion_share_year`` per year (privacy deletion); ``seed_rows`` of expert seed data never decay.
- **Analysis** — quality learned from data follows a power law with a ceiling:
  ``q = ceiling − (ceiling − start_quality)·(1 + rows_eff / data_scale_rows)^(−learning_exponent)``.
  ``rows_eff`` = ``network_share`` of the stock (pooled across users) + the rest divided by users
  (individual learning only helps its owner) + seed rows. Uncurated data (``1 − curation_share``) is
  worth 10% of curated rows and lowers the reachable ceiling by up to 35%.
- Model collapse: a ``synthetic_share`` of each retraining's data is the model's own output; every
  retraining keeps ``1 − 0.02·synthetic_share`` of the output diversity, which multiplies quality.
- **Application** — product quality is the model quality of ``cycle_days`` ago, discounted by drift over
  that delay: ``q_product(t) = q_model(t − cycle) · e^(−drift_rate_week · cycle_weeks)``.
- **Feedback** — weekly acquisition = users·``acquisition_per_quality``·q_product·(1 − users/market)
  (word of mouth, with a lognormal weekly shock) + ``organic_users_week``; weekly churn =
  users·``churn_base``·(1 − ``churn_per_quality``·q_product).

Each run draws its own learning exponent and data scale around the given values
(``parameter_uncertainty``), so the Monte Carlo band shows what is not known as well as weekly noise.
The simulation's verdict is :func:`flywheel_core.curves.judge.judge_curve` on the median product quality by week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import numpy as np

from flywheel_core.curves.judge import CurveReport, judge_curve
from flywheel_core.exceptions import DataValidationError
from flywheel_core.params import KNOB_PARAMS, SIM_RUNS, SIM_WEEKS, Interval, Param, check

__all__ = [
    "KNOBS",
    "Analysis",
    "Application",
    "Collection",
    "Feedback",
    "Knob",
    "SimulationParams",
    "SimulationResult",
    "Storage",
    "knob_value",
    "parameter_paths",
    "simulate_flywheel",
    "with_overrides",
]

UNCURATED_VALUE = 0.1
UNCURATED_CEILING_LOSS = 0.35
COLLAPSE_PER_RETRAIN = 0.02
BAND = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class Collection:
    """Signals captured from use."""

    interactions_per_user_week: float = 20.0
    capture_share: float = 0.9
    feedback_share: float = 0.3


@dataclass(frozen=True)
class Storage:
    """How much of what is captured is usable for training (the rest is siloed)."""

    usable_share: float = 0.8


@dataclass(frozen=True)
class Analysis:
    """How data becomes model quality: a power-law learning curve with a ceiling."""

    learning_exponent: float = 0.3
    ceiling: float = 0.9
    start_quality: float = 0.3
    data_scale_rows: float = 1e6


@dataclass(frozen=True)
class Application:
    """Time from data to production."""

    cycle_days: float = 14.0


@dataclass(frozen=True)
class Feedback:
    """How product quality moves acquisition and churn."""

    acquisition_per_quality: float = 0.02
    organic_users_week: float = 100.0
    churn_base: float = 0.03
    churn_per_quality: float = 0.8


@dataclass(frozen=True)
class SimulationParams:
    """Every knob of the simulator: one group per component plus loop-wide shares."""

    collection: Collection = Collection()
    storage: Storage = Storage()
    analysis: Analysis = Analysis()
    application: Application = Application()
    feedback: Feedback = Feedback()
    network_share: float = 1.0
    curation_share: float = 0.8
    synthetic_share: float = 0.0
    drift_rate_week: float = 0.005
    deletion_share_year: float = 0.0
    seed_rows: float = 0.0
    initial_users: float = 10_000.0
    market_users: float = 10_000_000.0
    volatility: float = 0.1
    parameter_uncertainty: float = 0.1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                {g.name: getattr(value, g.name) for g in fields(value)}
                if hasattr(value, "__dataclass_fields__")
                else value
            )
        return out


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Weekly percentile bands (5th, 50th, 95th) per series, and the verdict on median product quality."""

    scenario: str
    params: SimulationParams
    weeks: np.ndarray
    runs: int
    bands: dict[str, np.ndarray]
    verdict: CurveReport

    def median(self, series: str) -> np.ndarray:
        return self.bands[series][1]

    def final(self, series: str) -> float:
        return float(self.bands[series][1, -1])

    def to_json(self, *, every: int = 1) -> dict[str, Any]:
        idx = np.arange(0, len(self.weeks), max(every, 1))
        if idx[-1] != len(self.weeks) - 1:
            idx = np.append(idx, len(self.weeks) - 1)
        series = {
            name: {q: [round(float(v), 6) for v in band[i, idx]] for i, q in enumerate(("p5", "p50", "p95"))}
            for name, band in self.bands.items()
        }
        return {
            "scenario": self.scenario,
            "verdict": self.verdict.verdict,
            "confidence": round(self.verdict.confidence, 3),
            "reason": self.verdict.reason,
            "model": self.verdict.model,
            "runs": self.runs,
            "weeks": [int(w) for w in self.weeks[idx]],
            "final": {name: self.final(name) for name in self.bands},
            "series": series,
            "params": self.params.to_json(),
        }


def _check(params: SimulationParams, weeks: int, runs: int, *, caller: str = "the simulator") -> None:
    check(SIM_WEEKS, weeks, caller=caller)
    check(SIM_RUNS, runs, caller=caller)
    problems = []
    shares = {
        "capture_share": params.collection.capture_share,
        "feedback_share": params.collection.feedback_share,
        "usable_share": params.storage.usable_share,
        "network_share": params.network_share,
        "curation_share": params.curation_share,
        "synthetic_share": params.synthetic_share,
        "deletion_share_year": params.deletion_share_year,
        "churn_per_quality": params.feedback.churn_per_quality,
    }
    problems += [f"{k} = {v:g} (must be between 0 and 1)" for k, v in shares.items() if not 0 <= v <= 1]
    a = params.analysis
    if not 0 <= a.start_quality < a.ceiling <= 1:
        problems.append(f"start_quality {a.start_quality:g} must be below ceiling {a.ceiling:g}, both within 0..1")
    positive = {
        "learning_exponent": a.learning_exponent,
        "data_scale_rows": a.data_scale_rows,
        "initial_users": params.initial_users,
        "market_users": params.market_users,
    }
    problems += [f"{k} = {v:g} (must be above 0)" for k, v in positive.items() if not v > 0]
    non_negative = {
        "cycle_days": params.application.cycle_days,
        "drift_rate_week": params.drift_rate_week,
        "seed_rows": params.seed_rows,
        "interactions_per_user_week": params.collection.interactions_per_user_week,
        "churn_base": params.feedback.churn_base,
        "acquisition_per_quality": params.feedback.acquisition_per_quality,
        "organic_users_week": params.feedback.organic_users_week,
        "volatility": params.volatility,
        "parameter_uncertainty": params.parameter_uncertainty,
    }
    problems += [f"{k} = {v:g} (must be 0 or more)" for k, v in non_negative.items() if not v >= 0]
    if problems:
        raise DataValidationError("The simulation settings cannot work: " + "; ".join(problems) + ".")


def simulate_flywheel(
    params: SimulationParams,
    *,
    weeks: int = 520,
    runs: int = 1000,
    random_state: int = 0,
    scenario: str = "custom",
) -> SimulationResult:
    """Run ``runs`` Monte Carlo paths of the loop for ``weeks`` weekly steps and judge the median quality.

    Raises:
        DataValidationError: a share outside 0..1, a non-positive scale, or weeks/runs out of range.
    """
    _check(params, weeks, runs, caller="simulate_flywheel")
    bands = _run(params, weeks=weeks, runs=runs, random_state=random_state)
    x = np.arange(1, weeks + 1, dtype=float)
    verdict = judge_curve(
        x, bands["product_quality"][1], bounds=(0.0, 1.0), x_kind="time", x_name="weeks", y_name="product quality"
    )
    return SimulationResult(
        scenario=scenario, params=params, weeks=x.astype(int), runs=runs, bands=bands, verdict=verdict
    )


def _run(params: SimulationParams, *, weeks: int, runs: int, random_state: int) -> dict[str, np.ndarray]:
    """The stepped model: returns percentile bands (3, weeks) per series."""
    rng = np.random.default_rng(random_state)
    c, s, a, ap, fb = params.collection, params.storage, params.analysis, params.application, params.feedback
    unc = params.parameter_uncertainty
    alpha = a.learning_exponent * np.exp(rng.normal(0.0, unc, runs))
    scale = a.data_scale_rows * np.exp(rng.normal(0.0, 2 * unc, runs))
    value = params.curation_share + (1 - params.curation_share) * UNCURATED_VALUE
    ceiling = a.ceiling * (1 - UNCURATED_CEILING_LOSS * (1 - params.curation_share))
    start = min(a.start_quality, ceiling - 1e-6)
    gap = ceiling - start
    rows_per_user = c.interactions_per_user_week * c.capture_share * c.feedback_share * s.usable_share
    keep = (1 - params.drift_rate_week) * (1 - params.deletion_share_year) ** (1 / 52)
    cycle_weeks = ap.cycle_days / 7.0
    lag = round(cycle_weeks)
    stale = math.exp(-params.drift_rate_week * cycle_weeks)
    retrains = min(1.0, 1.0 / max(cycle_weeks, 1e-9))
    diversity_keep = 1 - COLLAPSE_PER_RETRAIN * params.synthetic_share * retrains
    net = params.network_share
    market = params.market_users
    f32 = np.float32
    alpha = (-alpha).astype(f32)
    inv_scale = (value / scale).astype(f32)
    shocks = None
    if params.volatility:
        shocks = rng.standard_normal((weeks, runs), dtype=f32)
        shocks *= f32(params.volatility)
        np.exp(shocks, out=shocks)
    users = np.full(runs, params.initial_users, dtype=f32)
    stock = np.zeros(runs, dtype=f32)
    diversity = 1.0
    model_q = np.empty((weeks, runs), dtype=f32)
    product_q = np.empty((weeks, runs), dtype=f32)
    users_h = np.empty((weeks, runs), dtype=f32)
    rows_h = np.empty((weeks, runs), dtype=f32)
    seed = f32(params.seed_rows * value)
    seeded = ceiling - gap * np.power(1.0 + seed * inv_scale, alpha)
    start_q = (seeded * stale).astype(f32)
    for t in range(weeks):
        stock *= f32(keep)
        stock += users * f32(rows_per_user)
        effective = stock * f32(net) if net >= 1 else stock * f32(net) + stock * f32(1 - net) / users
        effective *= inv_scale
        effective += seed * inv_scale + f32(1.0)
        diversity *= diversity_keep
        np.power(effective, alpha, out=effective)
        model_q[t] = (f32(ceiling) - f32(gap) * effective) * f32(diversity)
        q_prod = model_q[t - lag] * f32(stale) if t >= lag else start_q
        room = 1 - users / f32(market)
        growth = users * q_prod
        growth *= room * f32(fb.acquisition_per_quality)
        if shocks is not None:
            growth *= shocks[t]
        churn = users * (f32(fb.churn_base) - f32(fb.churn_base * fb.churn_per_quality) * q_prod)
        users = users + growth + f32(fb.organic_users_week) * room - churn
        np.clip(users, 1.0, market, out=users)
        product_q[t] = q_prod
        users_h[t] = users
        rows_h[t] = stock
    subset = min(runs, 2000)
    bands = {
        "product_quality": _percentiles(product_q),
        "users": _percentiles(users_h),
        "usable_rows": _percentiles(rows_h[:, :subset]),
        "model_quality": _percentiles(model_q[:, :subset]),
    }
    return bands


def _percentiles(hist: np.ndarray) -> np.ndarray:
    """5th, 50th and 95th percentile per row of (weeks, runs), nearest rank, as float64 (3, weeks)."""
    runs = hist.shape[1]
    ranks = [min(runs - 1, max(0, round(q / 100 * (runs - 1)))) for q in BAND]
    part = np.partition(hist, sorted(set(ranks)), axis=1)
    return part[:, ranks].T.astype(float)


@dataclass(frozen=True)
class Knob:
    """One adjustable parameter for a slider: its declaration (dotted path, range, help), group and label.

    The range is declared once in :data:`flywheel_core.params.KNOB_PARAMS`; :func:`with_overrides` checks
    every override against it.
    """

    param: Param[float]
    group: str
    label: str

    @property
    def path(self) -> str:
        return self.param.name

    @property
    def low(self) -> float:
        return float(self.param.low)

    @property
    def high(self) -> float:
        return float(self.param.high)

    @property
    def help(self) -> str:
        return self.param.help


_KNOB = {p.name: p for p in KNOB_PARAMS}
KNOBS: tuple[Knob, ...] = tuple(
    Knob(_KNOB[path], group, label)
    for path, group, label in (
        ("collection.interactions_per_user_week", "Collection", "Interactions per user per week"),
        ("collection.capture_share", "Collection", "Capture share (collection rate)"),
        ("collection.feedback_share", "Collection", "Feedback share"),
        ("storage.usable_share", "Storage", "Usable share (not siloed)"),
        ("analysis.learning_exponent", "Analysis", "Learning exponent"),
        ("analysis.ceiling", "Analysis", "Quality ceiling"),
        ("analysis.start_quality", "Analysis", "Start quality (no data)"),
        ("application.cycle_days", "Application", "Cycle time, data to production (days)"),
        ("feedback.acquisition_per_quality", "Feedback", "Acquisition per unit of quality (weekly)"),
        ("feedback.churn_base", "Feedback", "Weekly churn at zero quality"),
        ("feedback.churn_per_quality", "Feedback", "Churn removed by quality"),
        ("network_share", "Loop", "Network-learning share"),
        ("curation_share", "Loop", "Curation share"),
        ("synthetic_share", "Loop", "Self-generated / synthetic share"),
        ("drift_rate_week", "Loop", "Drift per week"),
        ("deletion_share_year", "Loop", "Privacy deletion per year"),
        ("seed_rows", "Loop", "Cold-start seed rows (expert data)"),
    )
)


def parameter_paths() -> tuple[str, ...]:
    """Every settable parameter of :class:`SimulationParams` as a dotted path, sorted (the knobs and the rest)."""
    paths = []
    defaults = SimulationParams()
    for f in fields(defaults):
        group = getattr(defaults, f.name)
        if is_dataclass(group):
            paths += [f"{f.name}.{g.name}" for g in fields(group)]
        else:
            paths.append(f.name)
    return tuple(sorted(paths))


def knob_value(params: SimulationParams, path: str) -> float:
    """The current value of a dotted parameter path such as ``collection.feedback_share``."""
    value: Any = params
    for part in path.split("."):
        value = getattr(value, part)
    return float(value)


def with_overrides(params: SimulationParams, overrides: dict[str, float]) -> SimulationParams:
    """``params`` with dotted-path values replaced, such as ``{"collection.feedback_share": 0.5}``.

    Every name is checked before any is applied: a knob's value against its declared range, any other
    parameter's as a finite number (:func:`simulate_flywheel` checks the combination).

    Raises:
        DataValidationError: a name that is not a simulator parameter (the message lists the valid ones),
            or a value that is not a number in its declared range.
    """
    valid = parameter_paths()
    unknown = [path for path in overrides if path not in valid]
    if unknown:
        names = ", ".join(repr(str(path)) for path in unknown)
        raise DataValidationError(f"No simulator parameter {names}. Use one of: {', '.join(valid)}.")
    knobs = {k.path: k.param for k in KNOBS}
    for path, value in overrides.items():
        check(knobs.get(path) or Param(path, Interval(float, None, None)), value, caller="with_overrides")
    out = params
    for path, value in overrides.items():
        if "." in path:
            group, name = path.split(".", 1)
            changes: dict[str, Any] = {group: replace(getattr(out, group), **{name: float(value)})}
            out = replace(out, **changes)
        else:
            top: dict[str, Any] = {path: float(value)}
            out = replace(out, **top)
    return out
