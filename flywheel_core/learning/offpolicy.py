"""Off-policy evaluation: what another logged policy would have earned on the traffic other versions served.

The log must carry, per event, the version that served it (``model_version``), the item it showed
(``item``: the action), the probability the serving policy gave that item (``propensity``) and the outcome
(the event's polarity: positive feedback is a reward of 1). For the target policy, the probability it gives
each item in each context is read from its own logged rows (its propensities), so the target must have run;
the context is the column the policies choose by (a feature such as ``f_segment``), found from the data
when not named: the column within whose values the target's logged propensities are constant per item.

Three estimators, each with a bootstrap interval over users (rows of one user are not independent):

- **IPS** (inverse propensity scoring): ``mean(w * r)`` with ``w = π_target(a|x) / π_logging(a|x)``;
- **SNIPS** (self-normalised IPS): ``sum(w * r) / sum(w)``: a little biased, much less variable;
- **DR** (doubly robust): ``mean(q̂_target(x) + w * (r - q̂(x, a)))`` with a reward model ``q̂`` (smoothed
  means of the reward per context and item on the evaluated traffic).

Beside each estimate stands the **effective sample size** ``(Σw)² / Σw²``: the number of events the
estimate is worth. A small share of the evaluated events means the estimate rests on a few heavily weighted
events, and the result says so plainly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.params import OPE_BOOTSTRAP, check

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.data.signals import SignalDictionary

__all__ = [
    "ESTIMATORS",
    "LOW_ESS",
    "Estimate",
    "OffPolicyResult",
    "PointEstimates",
    "bootstrap_estimates",
    "evaluate_policy",
    "point_estimates",
]

ESTIMATORS = ("ips", "snips", "dr")
LOW_ESS = 100  # below this effective sample size (or a tenth of the events) an estimate is rough
_PRIOR = 5.0  # pseudo-events pulling a context-and-item reward mean toward its context's mean
_SPREAD = 1e-5  # propensities that differ by less than this within a cell count as constant
_MAX_CONTEXT_VALUES = 1000


@dataclass(frozen=True)
class PointEstimates:
    """The three estimates and the weights' figures on one log."""

    ips: float
    snips: float
    dr: float
    ess: float
    max_weight: float


def _check_arrays(
    reward: np.ndarray, logging_p: np.ndarray, target_p: np.ndarray, q_logged: np.ndarray, q_target: np.ndarray
) -> None:
    n = len(reward)
    if n == 0:
        raise InsufficientDataError("No logged events to evaluate the policy on.")
    if any(len(a) != n for a in (logging_p, target_p, q_logged, q_target)):
        raise DataValidationError("The reward, propensity and reward-model arrays must have one value per event.")
    if not (np.isfinite(logging_p).all() and (logging_p > 0).all() and (logging_p <= 1).all()):
        raise DataValidationError("Logging propensities must lie in (0, 1]: a logged action had a chance to be shown.")
    if not (np.isfinite(target_p).all() and (target_p >= 0).all() and (target_p <= 1).all()):
        raise DataValidationError("Target probabilities must lie in [0, 1].")


def point_estimates(
    reward: np.ndarray, logging_p: np.ndarray, target_p: np.ndarray, q_logged: np.ndarray, q_target: np.ndarray
) -> PointEstimates:
    """IPS, SNIPS and DR of a target policy on a log, with the effective sample size of its weights.

    Parameters:
        reward: the outcome of each logged event (1 for positive feedback, else 0).
        logging_p: the probability the logging policy gave the logged action, in (0, 1].
        target_p: the probability the target policy gives the logged action in the logged context.
        q_logged: the reward model's prediction for the logged context and action.
        q_target: the reward model's expectation under the target policy in the logged context.

    Raises:
        DataValidationError: arrays of different lengths, or probabilities outside their ranges.
        InsufficientDataError: an empty log.
    """
    r, p0, pe = (np.asarray(a, dtype=float) for a in (reward, logging_p, target_p))
    ql, qt = np.asarray(q_logged, dtype=float), np.asarray(q_target, dtype=float)
    _check_arrays(r, p0, pe, ql, qt)
    w = pe / p0
    total = float(w.sum())
    squares = float((w**2).sum())
    return PointEstimates(
        ips=float((w * r).mean()),
        snips=float((w * r).sum() / total) if total > 0 else float("nan"),
        dr=float((qt + w * (r - ql)).mean()),
        ess=total**2 / squares if squares > 0 else 0.0,
        max_weight=float(w.max()),
    )


def bootstrap_estimates(
    reward: np.ndarray,
    logging_p: np.ndarray,
    target_p: np.ndarray,
    q_logged: np.ndarray,
    q_target: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_bootstrap: int = 500,
    random_state: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of IPS, SNIPS and DR from a bootstrap over ``groups`` (users; rows when None).

    Each replicate draws as many groups as there are, with replacement, and recomputes the three estimates
    from the groups' sums, so a replicate costs one gather over the groups, not over the events.
    """
    r, p0, pe = (np.asarray(a, dtype=float) for a in (reward, logging_p, target_p))
    ql, qt = np.asarray(q_logged, dtype=float), np.asarray(q_target, dtype=float)
    _check_arrays(r, p0, pe, ql, qt)
    w = pe / p0
    parts = np.column_stack([np.ones_like(w), w * r, w, qt + w * (r - ql)])
    if groups is None:
        sums = parts
    else:
        index = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        sums = np.column_stack([np.bincount(index, weights=parts[:, j]) for j in range(parts.shape[1])])
    n_groups = len(sums)
    rng = np.random.default_rng(random_state)
    chunk = max(1, min(n_bootstrap, 4_000_000 // max(n_groups, 1)))
    replicates = []
    for start in range(0, n_bootstrap, chunk):
        draws = rng.integers(0, n_groups, size=(min(chunk, n_bootstrap - start), n_groups))
        replicates.append(sums[draws].sum(axis=1))
    totals = np.concatenate(replicates)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "ips": totals[:, 1] / totals[:, 0],
            "snips": totals[:, 1] / totals[:, 2],
            "dr": totals[:, 3] / totals[:, 0],
        }
    tail = (1 - level) / 2 * 100
    out = {}
    for name, v in values.items():
        v = v[np.isfinite(v)]
        low, high = np.percentile(v, [tail, 100 - tail]) if len(v) else (float("nan"), float("nan"))
        out[name] = (float(low), float(high))
    return out


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of the target policy with its 95% bootstrap interval."""

    estimator: str  # "ips" | "snips" | "dr"
    value: float
    low: float
    high: float

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high


@dataclass(frozen=True)
class OffPolicyResult:
    """What ``policy`` would have earned (positive rate) on the traffic of ``logged_on``, three ways.

    ``ess`` is the effective sample size of the weights (``ess_share`` of the events evaluated); ``low_ess``
    is true when it is under :data:`LOW_ESS` or a tenth of the events. ``unsupported_mass`` is the share of
    the target's choices (by probability) that the evaluated traffic never showed in that context: estimates
    cannot see those. ``policy_rate`` is what the target earned on its own traffic (it ran), for comparison.
    """

    policy: str
    logged_on: tuple[str, ...]
    context: str | None
    context_note: str
    events: int
    users: int
    logged_rate: float
    policy_rate: float
    policy_events: int
    estimates: tuple[Estimate, ...]
    ess: float
    ess_share: float
    max_weight: float
    unsupported_mass: float
    bootstrap_runs: int

    @property
    def low_ess(self) -> bool:
        return self.ess < LOW_ESS or self.ess_share < 0.1

    def estimate(self, estimator: str) -> Estimate:
        return next(e for e in self.estimates if e.estimator == estimator)

    @property
    def warning(self) -> str:
        """A plain sentence when the estimate is weak ("" when it is not)."""
        notes = []
        if self.low_ess:
            notes.append(
                f"Low effective sample size: the {self.events:,} events are worth about {self.ess:,.0f} "
                f"({self.ess_share:.1%}); a few heavily weighted events carry the estimate, so treat it as rough."
            )
        if self.unsupported_mass > 0.01:
            notes.append(
                f"{self.unsupported_mass:.1%} of the policy's choices were never shown in this traffic; "
                "the estimates cannot see what those would have earned (IPS and SNIPS count them as nothing)."
            )
        return " ".join(notes)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "logged_on": list(self.logged_on),
            "context": self.context,
            "context_note": self.context_note,
            "events": self.events,
            "users": self.users,
            "logged_rate": round(self.logged_rate, 6),
            "policy_rate": round(self.policy_rate, 6),
            "policy_events": self.policy_events,
            "estimates": [
                {"estimator": e.estimator, "value": round(e.value, 6), "interval": [round(e.low, 6), round(e.high, 6)]}
                for e in self.estimates
            ],
            "ess": round(self.ess, 1),
            "ess_share": round(self.ess_share, 4),
            "low_ess": self.low_ess,
            "max_weight": round(self.max_weight, 3),
            "unsupported_mass": round(self.unsupported_mass, 4),
            "bootstrap_runs": self.bootstrap_runs,
            "warning": self.warning,
        }


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _spread(cell: np.ndarray, propensity: np.ndarray) -> float:
    """The largest range of propensities within a cell."""
    order = np.argsort(cell, kind="stable")
    c, p = cell[order], propensity[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    return float((np.maximum.reduceat(p, starts) - np.minimum.reduceat(p, starts)).max())


def _context_codes(events: pd.DataFrame, column: str | None) -> np.ndarray:
    if column is None:
        return np.zeros(len(events), dtype=np.int64)
    codes, _ = _codes(events[column])
    return codes


def _find_context(
    events: pd.DataFrame, target: np.ndarray, action: np.ndarray, propensity: np.ndarray, context: str | None
) -> tuple[str | None, str]:
    """The context column to use, and a sentence saying how it was chosen."""
    n_actions = int(action.max()) + 1
    if context is not None:
        if context not in events.columns:
            features = [c for c in events.columns if c.startswith("f_")]
            raise DataValidationError(
                f"The dataset has no column '{context}' to use as the policies' context; "
                f"its feature columns are: {', '.join(features) or 'none'}."
            )
        spread = _spread(_context_codes(events, context)[target] * n_actions + action[target], propensity[target])
        note = f"context '{context}' (named)"
        if spread > _SPREAD:
            note += (
                f"; the policy's logged propensities still vary by up to {spread:.3f} within one {context} and item, "
                "so it chooses by more than this column and the estimate is biased"
            )
        return context, note
    candidates: list[str | None] = [None]
    for column in events.columns:
        if str(column).startswith("f_") and events[column].nunique(dropna=False) <= _MAX_CONTEXT_VALUES:
            candidates.append(str(column))
    spreads = []
    for candidate in candidates:
        codes = _context_codes(events, candidate)
        spreads.append(_spread(codes[target] * n_actions + action[target], propensity[target]))
        if spreads[-1] <= _SPREAD:
            how = "none: the policy's propensities do not depend on the user" if candidate is None else f"'{candidate}'"
            return candidate, f"context {how} (found: the policy's logged propensities are constant within it)"
    best = int(np.argmin(spreads))
    chosen = candidates[best]
    label = "none" if chosen is None else f"'{chosen}'"
    return chosen, (
        f"context {label}: no column makes the policy's logged propensities constant per item (they vary by up to "
        f"{spreads[best]:.3f}); name the column it chooses by with context=..., or the estimate is biased"
    )


def evaluate_policy(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    policy: str,
    on: Sequence[str] | None = None,
    context: str | None = None,
    n_bootstrap: int = 500,
    random_state: int = 0,
) -> OffPolicyResult:
    """Estimate what logged version ``policy`` would have earned on the traffic of the versions ``on``
    (default: every other version), by IPS, SNIPS and DR with bootstrap intervals over users.

    Raises:
        DataValidationError: the log lacks a model version, item or propensity column, a propensity lies
            outside (0, 1], the policy or a logging version is not in the log, or ``context`` is not a column.
        InsufficientDataError: no traffic of other versions to evaluate on.
    """
    missing = [c for c in ("model_version", "item", "propensity") if c not in events.columns]
    if missing:
        raise DataValidationError(
            "Off-policy evaluation needs the version that served each event, the item it showed and that item's "
            f"propensity; this dataset has no {', '.join(repr(m) for m in missing)} column. Map them when importing "
            "the log (roles model_version, item, propensity)."
        )
    check(OPE_BOOTSTRAP, n_bootstrap, caller="evaluate_policy")
    frame = events[events["model_version"].notna()]
    version = frame["model_version"].astype(str).to_numpy()
    names = sorted(set(version))
    if policy not in names:
        raise DataValidationError(
            f"Version '{policy}' served no event of this dataset; versions in the log: {', '.join(names[:20])}."
        )
    loggers = tuple(sorted(set(on))) if on else tuple(n for n in names if n != policy)
    unknown = [v for v in loggers if v not in names]
    if unknown:
        raise DataValidationError(
            f"Version(s) {', '.join(unknown)} served no event; versions in the log: {', '.join(names)}."
        )
    if policy in loggers:
        raise DataValidationError(f"Evaluate '{policy}' on other versions' traffic, not on its own.")
    if not loggers:
        raise InsufficientDataError(f"Only '{policy}' served events: there is no other traffic to evaluate it on.")
    propensity = frame["propensity"].to_numpy(dtype=float)
    bad = ~np.isfinite(propensity) | (propensity <= 0) | (propensity > 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"Column 'propensity' has {int(bad.sum()):,} value(s) outside (0, 1] (first: event {row + 1}, "
            f"{float(propensity[row]):g}); a propensity is the probability the serving policy gave the item shown."
        )
    action, _ = _codes(frame["item"])
    target = version == policy
    logged = np.isin(version, loggers)
    chosen, note = _find_context(frame, target, action, propensity, context)
    x = _context_codes(frame, chosen)
    n_actions = int(action.max()) + 1
    cell = x * n_actions + action
    reward = (dictionary.annotate(frame["event"], frame.get("value"))["polarity"].to_numpy() > 0).astype(float)
    # The target's policy table: its probability of each (context, item) it was seen choosing.
    t_cells, t_index = np.unique(cell[target], return_inverse=True)
    t_prob = np.bincount(t_index, weights=propensity[target]) / np.bincount(t_index)
    # Reward model on the evaluated traffic: the mean per (context, item), pulled toward its context's mean.
    e_cell, e_x, e_r = cell[logged], x[logged], reward[logged]
    n_x = int(x.max()) + 1
    x_mean = np.bincount(e_x, weights=e_r, minlength=n_x) / np.maximum(np.bincount(e_x, minlength=n_x), 1)
    c_cells, c_index = np.unique(e_cell, return_inverse=True)
    c_sum, c_n = np.bincount(c_index, weights=e_r), np.bincount(c_index)
    c_q = (c_sum + _PRIOR * x_mean[c_cells // n_actions]) / (c_n + _PRIOR)
    # Each table cell's reward-model value (its context's mean where the traffic never showed it).
    at = np.searchsorted(c_cells, t_cells).clip(max=len(c_cells) - 1)
    seen = c_cells[at] == t_cells
    t_q = np.where(seen, c_q[at], x_mean[t_cells // n_actions])
    t_x = t_cells // n_actions
    q_target_x = np.bincount(t_x, weights=t_prob * t_q, minlength=n_x)
    unsupported_x = np.bincount(t_x, weights=t_prob * ~seen, minlength=n_x)
    # Per evaluated event: the target's probability of the logged item, and the reward model's two values.
    pos = np.searchsorted(t_cells, e_cell).clip(max=len(t_cells) - 1)
    target_p = np.where(t_cells[pos] == e_cell, t_prob[pos], 0.0)
    q_logged = c_q[c_index]
    q_target = q_target_x[e_x]
    users, _ = _codes(frame["user"][logged])
    point = point_estimates(e_r, propensity[logged], target_p, q_logged, q_target)
    intervals = bootstrap_estimates(
        e_r, propensity[logged], target_p, q_logged, q_target,
        groups=users, n_bootstrap=n_bootstrap, random_state=random_state,
    )  # fmt: skip
    values = {"ips": point.ips, "snips": point.snips, "dr": point.dr}
    n = int(logged.sum())
    return OffPolicyResult(
        policy=policy,
        logged_on=loggers,
        context=chosen,
        context_note=note,
        events=n,
        users=int(users.max()) + 1,
        logged_rate=float(e_r.mean()),
        policy_rate=float(reward[target].mean()),
        policy_events=int(target.sum()),
        estimates=tuple(Estimate(k, values[k], *intervals[k]) for k in ESTIMATORS),
        ess=point.ess,
        ess_share=point.ess / n,
        max_weight=point.max_weight,
        unsupported_mass=float(unsupported_x[e_x].mean()),
        bootstrap_runs=n_bootstrap,
    )
