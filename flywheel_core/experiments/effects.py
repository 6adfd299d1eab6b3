"""An experiment's effect over repeats: its 95% interval, the conclusion it supports, and the minimum sample.

Every experiment runs ``repeats`` times, each time on a random half of the users (a resample) with a fresh
seed for its own random choices (cohorts, labels, model). Each repeat gives one effect, e.g. AUC(B) − AUC(A) on
the same holdout rows. A repeat whose metrics cannot be scored (fewer than
:data:`~flywheel_core.learning.evidence.MIN_POSITIVES` positives or negatives) gives no effect, only its reason.

**The interval.** By the half-sampling identity (the delete-d jackknife with d = n/2) the spread of effects
measured on random halves estimates the standard error of the effect on the whole log, data sampling
included. Part of that spread can be the experiment's own randomness (which labels a path draws), which the
mean over repeats averages away: a repeat that replicates its random choices internally reports that
variance (``within``), and it is taken out of the data part, as in a nested analysis of variance::

    s² = variance of the repeat effects,  W = mean within-repeat variance of a repeat's effect
    SE² = max(s² − W, 0) + s² / R,        interval = mean ± t(R − 1) · SE

With no internal replication (W = 0) this is ``s · √(1 + 1/R)``: an honest interval for what another log
like this one would show, not only for this run's random choices (a plain t interval of the mean,
``t · s / √R``, would be √(R + 1) times narrower and would let single-log quirks pass for effects).

**The conclusion.** ``effect`` when the interval excludes zero and the estimate is at least the experiment's
material effect; ``no_effect`` when the whole interval lies within ± material; otherwise ``inconclusive``,
as it is when fewer than half of the repeats (or fewer than two) could be scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from scipy import stats

from flywheel_core.learning.evidence import LEVEL

__all__ = ["CONCLUSIONS", "CONCLUSION_LABELS", "Conclusion", "Effect", "Finding", "claim_key", "conclude", "summarise"]

Conclusion = Literal["effect", "no_effect", "inconclusive"]
CONCLUSIONS: tuple[Conclusion, ...] = ("effect", "no_effect", "inconclusive")
CONCLUSION_LABELS: dict[str, str] = {"effect": "Effect", "no_effect": "No effect", "inconclusive": "Inconclusive"}


@dataclass(frozen=True)
class Effect:
    """The mean effect over the scored repeats and its 95% interval, in ``unit`` (e.g. "AUC")."""

    estimate: float
    low: float
    high: float
    unit: str

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, digits: int = 3) -> str:
        """ "+0.021 AUC"."""
        return f"{self.estimate:+.{digits}f} {self.unit}".strip()

    def interval_text(self, digits: int = 3) -> str:
        """ "+0.012 to +0.030"."""
        return f"{self.low:+.{digits}f} to {self.high:+.{digits}f}"

    def to_json(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "unit": self.unit}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Effect | None:
        if not data:
            return None
        return cls(float(data["estimate"]), float(data["low"]), float(data["high"]), str(data.get("unit", "")))


@dataclass(frozen=True)
class Finding:
    """One effect over repeats and what it lets us say, against the experiment's ``material`` effect."""

    effect: Effect | None
    conclusion: Conclusion
    material: float
    repeats: int
    scored: int  # repeats that could be scored
    reason: str = ""  # why the conclusion is inconclusive, when the data decided it

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": None if self.effect is None else self.effect.to_json(),
            "conclusion": self.conclusion,
            "material": self.material,
            "repeats": self.repeats,
            "scored_repeats": self.scored,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            effect=Effect.from_json(data.get("effect")),
            conclusion=_conclusion(data.get("conclusion")),
            material=float(data.get("material", 0.0)),
            repeats=int(data.get("repeats", 1)),
            scored=int(data.get("scored_repeats", 0)),
            reason=str(data.get("reason", "")),
        )


def _conclusion(value: object) -> Conclusion:
    return cast(Conclusion, value) if value in CONCLUSIONS else "inconclusive"


def conclude(effect: Effect, material: float) -> Conclusion:
    """``effect`` (interval excludes zero, |estimate| ≥ material), ``no_effect`` (inside ± material), else inconclusive."""
    if effect.excludes_zero and abs(effect.estimate) >= material:
        return "effect"
    if -material <= effect.low and effect.high <= material:
        return "no_effect"
    return "inconclusive"


def claim_key(finding: Finding) -> str:
    """Which claim a sentence may make: "positive" or "negative" (an effect, by its sign), "no_effect",
    or "inconclusive"."""
    if finding.conclusion == "effect" and finding.effect is not None:
        return "positive" if finding.effect.estimate > 0 else "negative"
    return finding.conclusion


def summarise(
    values: Sequence[float | None],
    reasons: Sequence[str],
    *,
    material: float,
    unit: str,
    within: Sequence[float] | None = None,
    decimals: int = 4,
) -> Finding:
    """The finding of one effect measured once per repeat (None where the repeat could not be scored).

    ``within`` is, per repeat, the variance of its effect from its own random choices (0 when it has no
    internal replicates); see the module docstring for the interval.
    """
    repeats = len(values)
    spread = list(within) if within is not None else [0.0] * repeats
    kept = [(float(v), w) for v, w in zip(values, spread, strict=True) if v is not None and math.isfinite(v)]
    scored = np.array([v for v, _ in kept], dtype=float)
    first_reason = next((r for r in reasons if r), "not enough feedback to score")
    missing = f"{first_reason} in {repeats - len(scored)} of {repeats} repeats"
    if len(scored) < 2:
        return Finding(None, "inconclusive", material, repeats, len(scored), missing)
    mean = float(scored.mean())
    s2 = float(scored.var(ddof=1))
    w = float(np.mean([w for _, w in kept]))
    se = math.sqrt(max(s2 - w, 0.0) + s2 / len(scored))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(scored) - 1)) * se
    effect = Effect(round(mean, decimals), round(mean - half, decimals), round(mean + half, decimals), unit)
    if len(scored) < math.ceil(repeats / 2):
        return Finding(effect, "inconclusive", material, repeats, len(scored), missing)
    return Finding(effect, conclude(effect, material), material, repeats, len(scored))
