"""Curve verdicts and the flywheel simulator: how right, and how fast, beside references doing the same work.

0. How right: the verdict rule and two reference rules (last-third slope × 3; a plain power-law projection)
   on the held-out half of the real learning curves of bench/curve_eval (see its README), then the half the
   constants were tuned on: accuracy per class, confusion matrix, coverage, calibration table.
1. 2,000 series (8-20 points, six shapes, noise) judged in one call (`judge_curves`, series sharing x fitted
   together) and one by one, against `scipy.optimize.curve_fit` on the same six candidates (measured on 100
   series, scaled to 2,000).
2. 10,000 Monte Carlo runs × 520 weekly steps with 5/50/95% bands, against the same model stepped in
   plain Python (measured on 100 runs, scaled to 10,000); the two agree on a noise-free run.
"""

from __future__ import annotations

import math
import time

import numpy as np
from common import Figure, median_time, report

from flywheel_core.curves.judge import judge_curve, judge_curves
from flywheel_core.simulate.flywheel import SimulationParams, _run, simulate_flywheel
from flywheel_core.simulate.scenarios import PRESETS

N_SERIES = 2000


def make_series(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(8, 21))
        x = np.geomspace(1_000, 1_000 * 2 ** (k - 1), k)
        u = x / x[0]
        shape = i % 6
        if shape == 0:
            y = 0.9 - 0.5 * u ** -rng.uniform(0.1, 0.8)
        elif shape == 1:
            y = 0.8 - 0.4 * np.exp(-u / rng.uniform(5, 200))
        elif shape == 2:
            y = 0.3 + 0.5 / (1 + np.exp(-(np.log(u) - rng.uniform(1, 8))))
        elif shape == 3:
            y = 0.5 + 0.03 * np.log(u)
        elif shape == 4:
            y = 0.5 + 0.4 * u / u[-1]
        else:
            y = 0.8 - 0.02 * np.maximum(np.arange(k) - k // 2, 0)
        out.append((x, y + rng.normal(0, rng.uniform(0, 0.01), k)))
    return out


def _naive_models() -> dict[str, tuple[object, list[float], tuple[list[float], list[float]]]]:
    inf = np.inf
    return {
        "power": (lambda x, a, b, c: a - b * x ** (-c), [1.0, 1.0, 0.3], ([-inf, -inf, 0.01], [inf, inf, 4.0])),
        "saturating_exp": (
            lambda x, a, b, c: a - b * np.exp(-c * x),
            [1.0, 1.0, 1e-4],
            ([-inf, -inf, 0], [inf, inf, 1.0]),
        ),
        "logistic": (
            lambda x, d, L, k, m: d + L / (1 + np.exp(-k * (x - m))),
            [0.3, 0.5, 1e-4, 1e4],
            ([-inf, -inf, 0, -inf], [inf, inf, 1.0, inf]),
        ),
        "log_linear": (lambda x, a, b: a + b * np.log(x), [0.5, 0.01], ([-inf, -inf], [inf, inf])),
        "exponential": (lambda x, a, b: a * np.exp(b * x), [0.5, 1e-6], ([-inf, -1.0], [inf, 1.0])),
        "linear": (lambda x, a, b: a + b * x, [0.5, 1e-6], ([-inf, -inf], [inf, inf])),
    }


def naive_fit(series: list[tuple[np.ndarray, np.ndarray]], *, bounded: bool) -> list[str]:
    """Six curve_fit calls per series (bounded: trf; unbounded: Levenberg-Marquardt) and an AICc pick."""
    import warnings

    from scipy.optimize import curve_fit

    models = _naive_models()
    picks = []
    for x, y in series:
        n, best, best_aicc = len(x), "linear", math.inf
        for name, (func, p0, bounds) in models.items():
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    if bounded:
                        popt, _ = curve_fit(func, x, y, p0=p0, bounds=bounds, maxfev=5000)
                    else:
                        popt, _ = curve_fit(func, x, y, p0=p0, maxfev=5000)
            except (RuntimeError, ValueError):
                continue
            with np.errstate(all="ignore"):
                rss = float(np.sum((y - func(x, *popt)) ** 2))
            p = len(p0) + 1
            if n - p - 1 <= 0 or not math.isfinite(rss):
                continue
            aicc = n * math.log(max(rss, 1e-300) / n) + 2 * p + 2 * p * (p + 1) / (n - p - 1)
            if aicc < best_aicc:
                best, best_aicc = name, aicc
        picks.append(best)
    return picks


def python_stepped(params: SimulationParams, *, weeks: int, runs: int, seed: int = 0) -> list[list[float]]:
    """The simulator's model stepped run by run, week by week, in plain Python (product quality)."""
    import random

    rnd = random.Random(seed)
    c, s, a, ap, fb = params.collection, params.storage, params.analysis, params.application, params.feedback
    value = params.curation_share + (1 - params.curation_share) * 0.1
    ceiling = a.ceiling * (1 - 0.35 * (1 - params.curation_share))
    start = min(a.start_quality, ceiling - 1e-6)
    gap = ceiling - start
    rows_per_user = c.interactions_per_user_week * c.capture_share * c.feedback_share * s.usable_share
    keep = (1 - params.drift_rate_week) * (1 - params.deletion_share_year) ** (1 / 52)
    cycle_weeks = ap.cycle_days / 7.0
    lag = round(cycle_weeks)
    stale = math.exp(-params.drift_rate_week * cycle_weeks)
    diversity_keep = 1 - 0.02 * params.synthetic_share * min(1.0, 1.0 / max(cycle_weeks, 1e-9))
    out = []
    for _ in range(runs):
        alpha = a.learning_exponent * math.exp(rnd.gauss(0, params.parameter_uncertainty))
        scale = a.data_scale_rows * math.exp(rnd.gauss(0, 2 * params.parameter_uncertainty))
        users, stock, diversity = params.initial_users, 0.0, 1.0
        seeded = ceiling - gap * (1 + params.seed_rows * value / scale) ** (-alpha)
        history: list[float] = []
        product: list[float] = []
        for t in range(weeks):
            stock = stock * keep + users * rows_per_user
            net = params.network_share
            effective = (net * stock + (1 - net) * stock / users + params.seed_rows) * value
            diversity *= diversity_keep
            history.append((ceiling - gap * (1 + effective / scale) ** (-alpha)) * diversity)
            q = history[t - lag] * stale if t >= lag else seeded * stale
            room = 1 - users / params.market_users
            growth = users * q * room * fb.acquisition_per_quality * math.exp(rnd.gauss(0, params.volatility))
            churn = users * (fb.churn_base - fb.churn_base * fb.churn_per_quality * q)
            users = min(max(users + growth + fb.organic_users_week * room - churn, 1.0), params.market_users)
            product.append(q)
        out.append(product)
    return out


def accuracy_section() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent / "curve_eval"))
    from evaluate import RULES, iter_report, load_cases, score

    for split in ("holdout", "tune"):
        cases = load_cases(split)
        started = time.perf_counter()
        scores = [score(rule, cases) for rule in RULES]
        print(
            f"\n# Verdicts on real learning curves: the {split} half ({len(cases):,} cases, "
            f"{time.perf_counter() - started:.0f} s)"
        )
        for line in iter_report(scores):
            print(line)


def main() -> None:
    accuracy_section()
    series = make_series(N_SERIES)
    batch = median_time(lambda: judge_curves(series), repeat=3)
    ours = median_time(lambda: [judge_curve(x, y) for x, y in series], repeat=3)
    sample = series[:100]
    started = time.perf_counter()
    naive_fit(sample, bounded=False)
    naive = (time.perf_counter() - started) * (N_SERIES / len(sample))
    started = time.perf_counter()
    naive_fit(sample[:20], bounded=True)  # bounded trf fits are slow: 20 series, scaled
    naive_bounded = (time.perf_counter() - started) * (N_SERIES / 20)
    params = PRESETS["spotify"].params
    sim = median_time(lambda: simulate_flywheel(params, weeks=520, runs=10_000), repeat=9)
    bands = median_time(lambda: _run(params, weeks=520, runs=10_000, random_state=0), repeat=9)
    started = time.perf_counter()
    python_stepped(params, weeks=520, runs=100)
    plain = (time.perf_counter() - started) * 100
    calm = SimulationParams(volatility=0.0, parameter_uncertainty=0.0)
    vector_q = _run(calm, weeks=520, runs=2, random_state=0)["product_quality"][1]
    plain_q = np.array(python_stepped(calm, weeks=520, runs=1)[0])
    agree = float(np.max(np.abs(vector_q - plain_q)))
    report(
        "Curves and simulator",
        [
            Figure(
                f"judge_curves: {N_SERIES:,} series in one call",
                batch,
                f"naive curve_fit ×6 (100 series ×{N_SERIES // 100})",
                naive,
                target="< 5 s",
            ),
            Figure(
                f"judge_curve on {N_SERIES:,} series one by one",
                ours,
                f"naive curve_fit ×6 (100 series ×{N_SERIES // 100})",
                naive,
            ),
            Figure(
                "10,000 runs × 520 weeks + bands + verdict",
                sim,
                "same model in plain Python (100 runs ×100)",
                plain,
                target="< 0.5 s",
            ),
            Figure(
                f"judge_curves: {N_SERIES:,} series in one call",
                batch,
                f"bounded curve_fit ×6 (20 series ×{N_SERIES // 20})",
                naive_bounded,
            ),
            Figure("10,000 runs × 520 weeks + bands (no verdict)", bands, target="< 0.5 s"),
        ],
    )
    print(f"  vectorised vs plain-Python product quality, noise-free run: max difference {agree:.2e}")


if __name__ == "__main__":
    main()
