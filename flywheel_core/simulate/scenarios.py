"""Scenario presets from the seed cases, one-at-a-time sensitivity (tornado data) and calibration.

Presets tell the seed documents' stories with :mod:`flywheel_core.simulate.flywheel`; each names the verdict
its story predicts (tests hold them to it). Sensitivity weakens one component at a time and reruns.
Calibration seeds the simulator from a dataset's model versions and measured retention.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from flywheel_core.curves.judge import CurveReport, judge_curve
from flywheel_core.exceptions import DataValidationError, InsufficientDataError, NotFoundError
from flywheel_core.simulate.flywheel import (
    Analysis,
    Application,
    Collection,
    Feedback,
    SimulationParams,
    Storage,
    _check,
    _run,
)

__all__ = [
    "PRESETS",
    "SENSITIVITY_COMPONENTS",
    "CalibrationResult",
    "Preset",
    "SensitivityReport",
    "SensitivityRow",
    "calibrate_simulation",
    "get_preset",
    "sensitivity",
    "weekly_retention",
]


@dataclass(frozen=True)
class Preset:
    """A scenario from the seed documents: the story it tells and its parameters."""

    name: str
    story: str
    expected: str
    params: SimulationParams


_SPOTIFY = SimulationParams(
    collection=Collection(40.0, 0.95, 0.5),
    storage=Storage(0.9),
    analysis=Analysis(0.12, 0.95, 0.25, 2e5),
    application=Application(7.0),
    feedback=Feedback(0.03, 2000.0, 0.02, 0.8),
    curation_share=0.9,
    drift_rate_week=0.003,
    initial_users=50_000.0,
    market_users=600_000_000.0,
)
# The velocity pair: the same loop, drifting behaviour and room to grow; only the time from data to production
# differs. A fresh model keeps winning users faster than they churn, so data and quality keep compounding; a
# model nine months stale wins too few, the user base stalls where churn meets acquisition, and so does quality.
_VELOCITY = replace(
    _SPOTIFY,
    drift_rate_week=0.01,
    market_users=300_000_000.0,
    feedback=replace(_SPOTIFY.feedback, acquisition_per_quality=0.02),
)
_HARVEY = SimulationParams(
    collection=Collection(30.0, 0.9, 0.6),
    storage=Storage(0.9),
    analysis=Analysis(0.12, 0.97, 0.2, 3e5),
    application=Application(7.0),
    feedback=Feedback(0.03, 20.0, 0.01, 0.8),
    curation_share=0.95,
    seed_rows=2e6,
    initial_users=500.0,
    market_users=2_000_000.0,
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "spotify",
            "Network learning at scale: more listening, more data, better recommendations, "
            "with a high ceiling (multi-task transfer).",
            "compounding",
            _SPOTIFY,
        ),
        Preset(
            "klarna",
            "Support assistant: fast early gains on routine queries, then a low ceiling; better "
            "answers do not bring more customers.",
            "plateau",
            SimulationParams(
                collection=Collection(2.0, 0.95, 0.6),
                storage=Storage(0.9),
                analysis=Analysis(0.6, 0.72, 0.3, 2e4),
                feedback=Feedback(0.0, 0.0, 0.0, 0.0),
                curation_share=0.9,
                initial_users=2_000_000.0,
                market_users=2_500_000.0,
            ),
        ),
        Preset(
            "tesla-uncurated",
            "A growing fleet collects ever more data, but without curation it is noise, not signal.",
            "plateau",
            SimulationParams(
                collection=Collection(50.0, 0.9, 0.5),
                analysis=Analysis(0.4, 0.95, 0.3, 5e6),
                application=Application(30.0),
                feedback=Feedback(0.0, 5000.0, 0.002, 0.0),
                curation_share=0.05,
                drift_rate_week=0.002,
                initial_users=500_000.0,
                market_users=5_000_000.0,
            ),
        ),
        Preset(
            "model-collapse",
            "Most training data is the model's own output: each generation narrows and the loop spins backward.",
            "backward",
            SimulationParams(
                collection=Collection(5.0, 0.5, 0.2),
                storage=Storage(0.5),
                application=Application(7.0),
                feedback=Feedback(0.01, 50.0, 0.03, 0.5),
                synthetic_share=0.8,
                seed_rows=5e7,
                initial_users=20_000.0,
                market_users=1_000_000.0,
            ),
        ),
        Preset(
            "netflix-velocity",
            "The same loop shipping in 15 minutes: models stay fresh while behaviour drifts.",
            "compounding",
            replace(_VELOCITY, application=Application(15 / 1440)),
        ),
        Preset(
            "bank-velocity",
            "The same loop with nine months from proof of concept to production: models ship stale.",
            "plateau",
            replace(_VELOCITY, application=Application(270.0)),
        ),
        Preset(
            "note-taking",
            "Individual learning only: your notes help you, nobody else notices if your data "
            "goes. A product, not a flywheel.",
            "plateau",
            SimulationParams(feedback=Feedback(0.01, 500.0, 0.03, 0.5), network_share=0.0),
        ),
        Preset(
            "harvey",
            "Expert-seeded cold start: lawyers define the workflows before there is data, so "
            "quality starts higher and complex work keeps the ceiling high.",
            "compounding",
            _HARVEY,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; raises NotFoundError listing the known names."""
    if name not in PRESETS:
        raise NotFoundError(f"No scenario named '{name}'. Known scenarios: {', '.join(PRESETS)}.")
    return PRESETS[name]


@dataclass(frozen=True)
class SensitivityRow:
    """Final median product quality with one component weakened and strengthened."""

    component: str
    change: str
    weakened: float
    strengthened: float

    @property
    def swing(self) -> float:
        return abs(self.strengthened - self.weakened)

    @property
    def label(self) -> str:
        """The component in words, as the loop map names its stages."""
        return SENSITIVITY_LABELS.get(self.component, self.component)


@dataclass(frozen=True)
class SensitivityReport:
    """Tornado-chart data, rows sorted by how much the weakened component drags the outcome."""

    baseline: float
    outcome: str
    rows: tuple[SensitivityRow, ...]

    @property
    def weakest_link(self) -> str:
        return self.rows[0].component

    @property
    def weakest_label(self) -> str:
        return self.rows[0].label


def _clip01(v: float) -> float:
    return min(max(v, 0.0), 1.0)


def _vary(params: SimulationParams, component: str, f: float) -> SimulationParams:
    """``params`` with ``component`` scaled by ``f`` (f < 1 weakens, f > 1 strengthens)."""
    if component == "collection":
        c = params.collection
        return replace(params, collection=replace(c, feedback_share=_clip01(c.feedback_share * f)))
    if component == "storage":
        return replace(params, storage=Storage(_clip01(params.storage.usable_share * f)))
    if component == "analysis":
        a = params.analysis
        return replace(params, analysis=replace(a, learning_exponent=a.learning_exponent * f))
    if component == "application":
        return replace(params, application=Application(params.application.cycle_days / f))
    if component == "feedback":
        b = params.feedback
        return replace(
            params,
            feedback=replace(
                b,
                acquisition_per_quality=b.acquisition_per_quality * f,
                churn_per_quality=_clip01(b.churn_per_quality * f),
            ),
        )
    if component == "curation":
        return replace(params, curation_share=_clip01(params.curation_share * f))
    return replace(params, network_share=_clip01(params.network_share * f))


SENSITIVITY_COMPONENTS = ("collection", "storage", "analysis", "application", "feedback", "curation", "network")
SENSITIVITY_LABELS = {
    "collection": "Collection",
    "storage": "Storage",
    "analysis": "Analysis",
    "application": "Application",
    "feedback": "Feedback",
    "curation": "Curation",
    "network": "Network learning",
}


def sensitivity(
    params: SimulationParams, *, weeks: int = 260, runs: int = 200, factor: float = 0.5, random_state: int = 0
) -> SensitivityReport:
    """One at a time, weaken each component by ``factor`` (and strengthen by 1/factor) and rerun.

    Weakening multiplies the component's strength by ``factor``: collection's feedback share, storage's
    usable share, analysis's learning exponent, application's speed (cycle days divided by factor),
    feedback's acquisition and churn links, the curation share, the network-learning share.
    """
    if not 0 < factor < 1:
        raise DataValidationError(f"factor = {factor:g}: weaken by a factor between 0 and 1 (e.g. 0.5).")
    _check(params, weeks, runs)

    def outcome(p: SimulationParams) -> float:
        return float(_run(p, weeks=weeks, runs=runs, random_state=random_state)["product_quality"][1, -1])

    base = outcome(params)
    rows = [
        SensitivityRow(
            name,
            f"×{factor:g} / ×{1 / factor:g}",
            outcome(_vary(params, name, factor)),
            outcome(_vary(params, name, 1 / factor)),
        )
        for name in SENSITIVITY_COMPONENTS
    ]
    rows.sort(key=lambda r: r.weakened - base)
    return SensitivityReport(baseline=base, outcome=f"median product quality at week {weeks}", rows=tuple(rows))


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Simulator parameters seeded from measured data, with the learning-curve fit behind them."""

    params: SimulationParams
    fit: CurveReport
    weekly_retention: float
    notes: tuple[str, ...]


def weekly_retention(cohorts: Any) -> float:
    """Week-over-week retention of retained users from ``analytics.retention_cohorts`` output.

    The user-weighted mean of (share active in week k+1) / (share active in week k) for k ≥ 1: the
    steady churn after the first week's drop.
    """
    cols = [c for c in cohorts.columns if str(c).startswith("week ")]
    table = cohorts[cols].to_numpy(dtype=float)
    sizes = cohorts["users"].to_numpy(dtype=float)
    if table.shape[1] < 3:
        raise DataValidationError("Retention needs at least weeks 0 to 2 of cohorts; load a longer log.")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = table[:, 2:] / table[:, 1:-1]
    weights = np.broadcast_to(sizes[:, None], ratio.shape)
    ok = np.isfinite(ratio) & (table[:, 1:-1] > 0)
    if not ok.any():
        raise InsufficientDataError("No cohort has two consecutive measured weeks after week 1; load a longer log.")
    return float(np.clip(np.average(np.minimum(ratio[ok], 1.0), weights=weights[ok]), 0.0, 1.0))


def calibrate_simulation(
    train_rows: Any,
    metric: Any,
    *,
    weekly_retention: float,
    higher_is_better: bool = True,
    base: SimulationParams | None = None,
) -> CalibrationResult:
    """Seed the simulator from measurements: the data→quality link from a learning curve fitted to
    (training rows, metric) of model versions, the quality→retention link from measured retention.

    The power law y = a − b·rows^(−c) fitted to the versions sets ceiling = a, learning exponent = c,
    data scale = the first version's rows and start quality = the fitted quality there; the stock of
    usable rows starts at the last version's rows (as seed data). Weekly churn at today's quality is set
    to 1 − ``weekly_retention``. Curation is set to 1: the measured curve already reflects the data as it
    is. Metrics must lie in 0..1 (use 1 − brier rather than log loss).
    """
    rows = np.asarray(train_rows, dtype=float)
    values = np.asarray(metric, dtype=float)
    if values.size and (np.nanmin(values) < 0 or np.nanmax(values) > 1):
        raise DataValidationError(
            "Calibration needs a metric between 0 and 1 (AUC, hit rate, coverage, 1 − Brier); "
            f"these values run from {np.nanmin(values):g} to {np.nanmax(values):g}."
        )
    if not 0 < weekly_retention <= 1:
        raise DataValidationError(f"weekly_retention = {weekly_retention:g}: give a share between 0 and 1.")
    quality = values if higher_is_better else 1 - values
    report = judge_curve(rows, quality, bounds=(0.0, 1.0), x_kind="size", x_name="training rows")
    if rows[0] <= 0:
        raise DataValidationError("Training rows must be positive to fit a learning curve.")
    power = next(c.fit for c in report.candidates if c.model == "power")
    a_, b_, c_ = (power.params()[k] for k in ("a", "b", "c"))
    ceiling = float(np.clip(a_, quality.max() + 1e-3, 1.0))
    start = float(np.clip(ceiling - b_ * rows[0] ** (-c_), 0.0, ceiling - 1e-3))
    base = base or SimulationParams()
    q_now = float(quality[-1])
    churn_now = 1 - weekly_retention
    fb = base.feedback
    churn_base = churn_now / max(1 - fb.churn_per_quality * q_now, 0.05)
    params = replace(
        base,
        analysis=Analysis(
            learning_exponent=float(c_), ceiling=ceiling, start_quality=start, data_scale_rows=float(rows[0])
        ),
        feedback=replace(fb, churn_base=float(churn_base)),
        seed_rows=float(rows[-1]),
        curation_share=1.0,
    )
    notes = (
        f"Learning curve: ceiling {ceiling:.3f}, exponent {c_:.3f}, start {start:.3f} at {rows[0]:,.0f} rows "
        f"(verdict on the versions: {report.verdict}).",
        f"Retention: {weekly_retention:.1%} per week → weekly churn {churn_now:.1%} at today's quality {q_now:.3f}.",
    )
    return CalibrationResult(params=params, fit=report, weekly_retention=weekly_retention, notes=notes)
