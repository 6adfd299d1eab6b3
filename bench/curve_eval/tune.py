"""Choose the few constants of flywheel_core/curves.py on the ``tune`` half of the real curves only.

    python bench/curve_eval/tune.py        # prints the grid, best first; the holdout half is never read here

The evidence of every case (the two projections, their standard error, the series trend) is computed once;
the decision is then replayed for each combination of constants in numpy. The criterion is the log loss of the
stated confidence (a proper scoring rule: it rewards being right and being calibrated), with accuracy beside it.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate import MATERIAL, load_cases

from flywheel_core.curves import judge as curves


def evidence_table(cases: list) -> dict[str, np.ndarray]:
    keys = ("slope_gain", "pooled", "pooled0", "se", "room", "t", "change", "slope", "n")
    cols: dict[str, list[float]] = {k: [] for k in keys}
    for c in cases:
        prep = curves._prepare(c.x, c.y, True, (0.0, 1.0), "size", None, None, None, "x", "")
        ev = curves._evidence(prep, curves._fit_all(prep.x, prep.z[None, :])[0])
        cols["slope_gain"].append(ev.slope_gain)
        cols["pooled"].append(ev.pooled)
        few_mix = len(c.x) > 3 and len(c.x) < curves.FEW_POINTS
        # the pooled projection before the few-point power-law mix, to replay other mixes
        power = ev.gains.get("power", ev.pooled)
        w = curves._FEW_POWER
        cols["pooled0"].append((ev.pooled - w * power) / (1 - w) if few_mix and w < 1 else ev.pooled)
        cols.setdefault("power", []).append(power if few_mix else np.nan)
        cols["se"].append(ev.se_gain)
        cols["room"].append(1.0 - ev.z_end)
        cols["t"].append(ev.series_t)
        cols["change"].append(ev.series_change)
        cols["slope"].append(ev.slope)
        cols["n"].append(len(c.x))
    return {k: np.asarray(v, dtype=float) for k, v in cols.items()}


def decide(ev: dict[str, np.ndarray], c: dict[str, float]) -> tuple:
    """The decision of curves._judge replayed in numpy for the constants ``c``."""
    m = MATERIAL
    pooled = np.where(
        np.isnan(ev["power"]),
        ev["pooled0"],
        (1 - c["few_power"]) * ev["pooled0"] + c["few_power"] * np.nan_to_num(ev["power"]),
    )
    raw = c["slope_weight"] * ev["slope_gain"] + (1 - c["slope_weight"]) * pooled
    proj = np.where(raw > 0, c["damping"] * raw, c["damp_down"] * raw)
    proj = np.minimum(proj, ev["room"])
    few = ev["n"] < curves.FEW_POINTS
    scale = np.where(few, c["scale_few"], c["scale_many"])
    spread = np.hypot(np.hypot(ev["se"], c["disagreement"] * (ev["slope_gain"] - pooled)), c["floor"]) * scale
    spread = np.maximum(spread, 1e-9)
    df = np.maximum(ev["n"] - 2, 1)
    p_up = 1 - special.stdtr(df, (m - proj) / spread)
    p_down = special.stdtr(df, (-m - proj) / spread)
    p_up = np.where(ev["room"] < m, 0.0, p_up)
    p_flat = np.clip(1 - p_up - p_down, 0, 1)
    probs = np.stack([p_up, p_flat, p_down], axis=1)
    said = probs.argmax(axis=1)
    trend = (ev["t"] < -curves._BACKWARD_T) & (ev["change"] <= -m) & (ev["slope"] <= 0) & (ev["n"] >= c["trend_n"])
    said = np.where(trend, 2, said)
    conf = probs[np.arange(len(said)), said]
    conf = np.where(trend, np.maximum(conf, special.ndtr(-ev["t"] - curves._BACKWARD_T)), conf)
    abstain = (conf < c["undecided"]) & ~trend
    return said, conf, abstain


GRID = {
    "slope_weight": (0.0, 0.25, 0.5),
    "damping": (0.6, 0.8, 1.0),
    "damp_down": (0.5, 1.0),
    "disagreement": (0.0, 1.0),
    "floor": (0.02, 0.03, 0.04),
    "scale_many": (0.5, 0.75, 1.0),
    "scale_few": (1.0, 1.5, 2.0),
    "undecided": (0.0,),
    "trend_n": (10,),
    "few_power": (0.0, 0.5, 1.0),
}


def main() -> None:
    cases = load_cases("tune")
    truth = np.array([{"compounding": 0, "plateau": 1, "backward": 2}[c.truth] for c in cases])
    print(f"{len(cases):,} tuning cases; truth shares {np.bincount(truth, minlength=3) / len(truth)}")
    ev = evidence_table(cases)
    rows = []
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        c = dict(zip(keys, values, strict=True))
        said, conf, abstain = decide(ev, c)
        right = (said == truth) & ~abstain
        p = np.clip(conf, 1e-3, 1 - 1e-3)
        logloss = float(-np.mean(np.where(said == truth, np.log(p), np.log(1 - p))[~abstain]))
        per = [float(right[truth == k].mean()) for k in range(3) if (truth == k).any()]
        balanced = (per[0] + per[1]) / 2
        bins = np.digitize(conf[~abstain], [0.5, 0.6, 0.7, 0.8, 0.9])
        hit = (said == truth)[~abstain]
        ece = sum(abs(conf[~abstain][bins == b].mean() - hit[bins == b].mean()) * (bins == b).sum()
                  for b in range(6) if (bins == b).any()) / max((~abstain).sum(), 1)  # fmt: skip
        rows.append((logloss, balanced, min(per), float(right.mean()), float(ece), *values))
    rows.sort()
    head = "logloss balanced worst accuracy ece " + " ".join(keys)
    print(head)
    for r in rows[:12]:
        print("  ".join(f"{v:6.3f}" for v in r))
    print("by balanced accuracy (compounding and plateau):")
    by_accuracy = sorted(rows, key=lambda r: (-round(r[1], 3), -r[2], r[0]))
    for r in by_accuracy[:8]:
        print("  ".join(f"{v:6.3f}" for v in r))
    chosen = dict(zip(keys, by_accuracy[0][5:], strict=True))
    print("chosen (most accurate, then best worst class):", chosen)
    said, conf, _ = decide(ev, chosen)
    hit = (said == truth).astype(float)
    a, b = platt(conf, hit)
    print(f"Platt scaling of the confidence: a = {a:.3f}, b = {b:.3f}")
    for name, c in (("raw", conf), ("calibrated", calibrate(conf, a, b))):
        bins = np.digitize(c, [0.5, 0.6, 0.7, 0.8, 0.9])
        table = [(int((bins == k).sum()), float(c[bins == k].mean()), float(hit[bins == k].mean()))
                 for k in range(6) if (bins == k).any()]  # fmt: skip
        ece = sum(n * abs(st - rt) for n, st, rt in table) / len(c)
        print(
            f"  {name}: ECE {ece:.3f}; bins (n, stated, right): "
            + ", ".join(f"({n}, {st:.2f}, {rt:.2f})" for n, st, rt in table)
        )


def calibrate(conf: np.ndarray, a: float, b: float) -> np.ndarray:
    p = np.clip(conf, 1e-6, 1 - 1e-6)
    return special.expit(a * special.logit(p) + b)


def platt(conf: np.ndarray, hit: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration of the stated confidence against whether the verdict was right (min log loss)."""
    from scipy.optimize import minimize

    def loss(ab: np.ndarray) -> float:
        q = np.clip(calibrate(conf, ab[0], ab[1]), 1e-6, 1 - 1e-6)
        return float(-np.mean(hit * np.log(q) + (1 - hit) * np.log(1 - q)))

    res = minimize(loss, np.array([1.0, 0.0]), method="Nelder-Mead")
    return float(res.x[0]), float(res.x[1])


if __name__ == "__main__":
    main()
