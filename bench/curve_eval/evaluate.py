"""Cut the real learning curves of ``curves.csv.gz`` into cases and score verdict rules on them.

A case is the start of one curve, cut where three more doublings of training rows are still measured: the
rule sees the points up to the cut (every half-doubling, or every doubling), and the truth is what the next
three doublings actually bought on the seed-averaged curve: at least +2 points is compounding, at most −2
points backward, anything between plateau. A curve is one (dataset, learner, metric) measured with one seed,
or the mean over the five seeds. Datasets are split in two halves by a hash of their name: ``tune`` (what
the constants in flywheel_core/curves.py were chosen on) and ``holdout`` (never looked at while choosing).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
CURVES = HERE / "curves.csv.gz"
MATERIAL = 0.02
DOUBLINGS_AHEAD = 6  # half-doubling steps: three doublings
CLASSES = ("compounding", "plateau", "backward")


@dataclass(frozen=True)
class Case:
    dataset: str
    learner: str
    metric: str
    seed: str
    spacing: str
    x: np.ndarray
    y: np.ndarray
    truth_gain: float

    @property
    def truth(self) -> str:
        if self.truth_gain >= MATERIAL:
            return "compounding"
        if self.truth_gain <= -MATERIAL:
            return "backward"
        return "plateau"


def split_of(dataset: str) -> str:
    return "tune" if int(hashlib.sha1(dataset.encode()).hexdigest(), 16) % 2 == 0 else "holdout"


def load_cases(split: str | None = None, *, max_cuts: int = 99) -> list[Case]:
    frame = pd.read_csv(CURVES)
    if split is not None:
        frame = frame[frame["dataset"].map(split_of) == split]
    cases: list[Case] = []
    for (dataset, learner, metric), group in frame.groupby(["dataset", "learner", "metric"], sort=True):
        wide = group.pivot_table(index="size", columns="seed", values="value").dropna()
        if len(wide) < 3 + DOUBLINGS_AHEAD:
            continue
        sizes = wide.index.to_numpy(dtype=float)
        mean = wide.mean(axis=1).to_numpy()
        curves = {"mean": mean, **{str(s): wide[s].to_numpy() for s in wide.columns}}
        last_cut = len(sizes) - 1 - DOUBLINGS_AHEAD
        cuts = list(range(2, last_cut + 1))[:max_cuts]
        for seed, values in curves.items():
            for c in cuts:
                truth = float(mean[c + DOUBLINGS_AHEAD] - mean[c])
                for spacing, idx in (("half", np.arange(0, c + 1)), ("doubling", np.arange(c, -1, -2)[::-1])):
                    if len(idx) < 3:
                        continue
                    cases.append(Case(dataset, learner, metric, seed, spacing, sizes[idx], values[idx], truth))
    return cases


# --- the two reference rules ---------------------------------------------------------------------------


def _slope(u: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    uc = u - u.mean()
    suu = float(uc @ uc)
    slope = float(uc @ (y - y.mean())) / suu
    resid = y - y.mean() - slope * uc
    dof = max(len(u) - 2, 1)
    se = math.sqrt(float(resid @ resid) / dof / suu) if len(u) > 2 else abs(slope)
    return slope, se


def _from_gain(gain: float, sd: float, df: int) -> tuple[str, float]:
    sd = max(sd, 1e-6)
    dist = stats.t(df, loc=gain, scale=sd)
    probs = {"compounding": float(dist.sf(MATERIAL)), "backward": float(dist.cdf(-MATERIAL))}
    probs["plateau"] = 1 - probs["compounding"] - probs["backward"]
    verdict = "compounding" if gain >= MATERIAL else "backward" if gain <= -MATERIAL else "plateau"
    return verdict, probs[verdict]


def slope_rule(x: np.ndarray, y: np.ndarray) -> tuple[str, float]:
    """The one-line rule: slope of y on log2 x over the last third of the points, times three."""
    w = max(3, math.ceil(len(x) / 3))
    slope, se = _slope(np.log2(x[-w:]), y[-w:])
    return _from_gain(3 * slope, 3 * se, max(w - 2, 1))


def power_rule(x: np.ndarray, y: np.ndarray) -> tuple[str, float]:
    """A plain power-law projection: y = a − b·x^(−c) fitted to all points, gain from x to 8x."""
    from flywheel_core.curves.fits import fit_model

    fit = fit_model("power", x, y)
    gain = float(fit.predict(np.array([8 * x[-1]]))[0] - fit.predict(x[-1:])[0])
    resid_sd = math.sqrt(fit.rss / max(len(x) - 3, 1)) if math.isfinite(fit.rss) else 0.05
    return _from_gain(gain, resid_sd, max(len(x) - 3, 1))


def product_rule(x: np.ndarray, y: np.ndarray) -> tuple[str, float]:
    from flywheel_core.curves.judge import judge_curve

    report = judge_curve(x, y, bounds=(0.0, 1.0), x_kind="size")
    return report.verdict.value, report.confidence


RULES: dict[str, Callable[[np.ndarray, np.ndarray], tuple[str, float]]] = {
    "flywheel judge_curve": product_rule,
    "reference: last-third slope × 3": slope_rule,
    "reference: power-law projection": power_rule,
}


@dataclass(frozen=True)
class Score:
    rule: str
    n: int
    accuracy: float  # over every case; an insufficient_data answer counts as wrong
    covered_accuracy: float
    coverage: float
    per_class: dict[str, tuple[int, float]]  # true class -> (cases, share right)
    confusion: pd.DataFrame
    calibration: pd.DataFrame
    ece: float
    brier: float


def score(rule: str, cases: list[Case]) -> Score:
    fn = RULES[rule]
    said, conf = zip(*(fn(c.x, c.y) for c in cases), strict=True)
    truth = np.array([c.truth for c in cases])
    said_a = np.array(said)
    conf_a = np.array(conf, dtype=float)
    covered = said_a != "insufficient_data"
    right = said_a == truth
    per_class = {k: (int((truth == k).sum()), float(right[truth == k].mean()) if (truth == k).any() else math.nan)
                 for k in CLASSES}  # fmt: skip
    confusion = pd.crosstab(pd.Series(truth, name="truth"), pd.Series(said_a, name="verdict"), dropna=False).reindex(
        index=list(CLASSES), columns=[*CLASSES, "insufficient_data"], fill_value=0
    )
    bins = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]
    cov_conf, cov_right = conf_a[covered], right[covered]
    labels = ["<50%", "50-60%", "60-70%", "70-80%", "80-90%", "90-100%"]
    which = pd.cut(cov_conf, bins, right=False, labels=labels)
    cal = (
        pd.DataFrame({"bin": which, "stated": cov_conf, "right": cov_right.astype(float)})
        .groupby("bin", observed=False)
        .agg(verdicts=("right", "size"), stated=("stated", "mean"), right=("right", "mean"))
    )
    ece = float(np.nansum(cal["verdicts"] * (cal["stated"] - cal["right"]).abs()) / max(covered.sum(), 1))
    brier = float(np.mean((cov_conf - cov_right) ** 2)) if covered.any() else math.nan
    return Score(rule, len(cases), float(right.mean()), float(right[covered].mean()), float(covered.mean()),
                 per_class, confusion, cal, ece, brier)  # fmt: skip


def iter_report(scores: list[Score]) -> Iterator[str]:
    for s in scores:
        yield f"\n## {s.rule}  ({s.n:,} cases)"
        per = ", ".join(f"{k} {acc:.0%} of {n:,}" for k, (n, acc) in s.per_class.items())
        yield (f"accuracy {s.accuracy:.1%} (insufficient_data counted wrong) · on covered cases "
               f"{s.covered_accuracy:.1%} · coverage {s.coverage:.1%}")  # fmt: skip
        yield f"right per true class: {per}"
        yield f"calibration error (ECE) {s.ece:.3f} · Brier score of the confidence {s.brier:.3f}"
        yield "confusion (rows: what the next three doublings did; columns: the verdict):"
        yield s.confusion.to_string()
        yield "calibration (verdicts stated at each confidence, and the share that were right):"
        cal = s.calibration.copy()
        yield cal.to_string(float_format=lambda v: f"{v:.2f}")
