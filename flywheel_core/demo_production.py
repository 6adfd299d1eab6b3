"""A production demo: a ranker's log tagged with the version that served each event and its propensity.

Eight weeks of a small catalogue (12 items) shown to users of five segments (``f_segment``). Each served
event is one item the live ranker chose, at random from its policy (a softmax of its scores with 10%
uniform exploration), logged with the probability it had (``propensity``); the user clicks (positive) or
skips (negative) with a probability set by the segment, the item and the user's own taste.

- weeks 0-2: ``ranker-v1`` alone (its scores are the truth blurred by noise);
- weeks 2-4: ``ranker-v1`` and ``ranker-v2`` side by side, users split 50/50; v2's scores are much
  closer to the truth: **a real improvement was built** (a few points of click rate);
- weeks 4-8: ``ranker-v2`` and ``ranker-v3`` side by side; v3 is a retrain that changed nothing: **no
  improvement was built** (the same policy).

:class:`ProductionDemo` keeps the simulation's truth, so tests can check what the comparison and the
off-policy estimates should find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PRODUCTION_DATASET",
    "PRODUCTION_SIGNALS",
    "PRODUCTION_VERSIONS",
    "ProductionDemo",
    "make_production_events",
]

PRODUCTION_DATASET = "Ranker in production (demo)"
PRODUCTION_VERSIONS = ("ranker-v1", "ranker-v2", "ranker-v3")
PRODUCTION_SIGNALS = {"click": ("implicit", "positive", 1.0), "skip": ("implicit", "negative", 1.0)}
N_SEGMENTS, N_ITEMS = 5, 12
WEEKS = 8.0
EXPLORATION = 0.10
_SWITCH_AB, _SWITCH_CD = 2.0, 4.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _policy(scores: np.ndarray, sharpness: float = 2.0) -> np.ndarray:
    """Segments × items probabilities: a softmax of the scores mixed with uniform exploration."""
    z = np.exp(sharpness * (scores - scores.max(axis=1, keepdims=True)))
    return (1 - EXPLORATION) * z / z.sum(axis=1, keepdims=True) + EXPLORATION / scores.shape[1]


@dataclass(frozen=True, eq=False)
class ProductionDemo:
    """The generated events and the truth behind them: each version's policy and the click model."""

    events: pd.DataFrame
    policies: dict[str, np.ndarray]  # version -> segments × items probabilities
    logit: np.ndarray  # segments × items: the click logit before the user's taste
    taste: np.ndarray  # per user code: the user's logit offset
    segment: np.ndarray  # per user code: the user's segment
    user_codes: np.ndarray  # per event: the user's code

    def value_on(self, version: str, rows: np.ndarray) -> float:
        """The exact expected click rate ``version``'s policy would have earned on the events ``rows`` (a mask):
        the logged truth of a policy, for the users and contexts of that traffic."""
        users = self.user_codes[rows]
        seg = self.segment[users]
        p_click = _sigmoid(self.logit[seg] + self.taste[users][:, None])  # events × items
        return float((self.policies[version][seg] * p_click).sum(axis=1).mean())


def make_production_events(n_events: int = 200_000, *, random_state: int = 11) -> ProductionDemo:
    """Generate the production log (see the module docstring); ``n_events`` served events."""
    import pandas as pd

    if n_events < 1_000:
        raise ValueError("n_events must be at least 1,000")
    rng = np.random.default_rng(random_state)
    n_users = max(200, n_events // 20)
    segment = rng.integers(0, N_SEGMENTS, n_users)
    taste = rng.normal(0.0, 0.3, n_users)
    item_appeal = rng.normal(-1.0, 0.6, N_ITEMS)
    fit = rng.normal(0.0, 0.9, (N_SEGMENTS, N_ITEMS))  # which items suit which segment
    logit = item_appeal[None, :] + fit
    v1 = _policy(logit + rng.normal(0.0, 2.0, logit.shape))
    v2 = _policy(logit + rng.normal(0.0, 0.25, logit.shape))
    policies = {"ranker-v1": v1, "ranker-v2": v2, "ranker-v3": v2.copy()}
    # Events through time; each user has a share of activity.
    t = np.sort(rng.uniform(0.0, WEEKS, n_events))
    activity = rng.gamma(2.0, 1.0, n_users)
    user = rng.choice(n_users, size=n_events, p=activity / activity.sum())
    arm_ab = rng.random(n_users) < 0.5  # the first experiment's split
    arm_cd = rng.random(n_users) < 0.5  # the second experiment's split, drawn afresh
    version = np.where(
        t < _SWITCH_AB,
        0,
        np.where(t < _SWITCH_CD, np.where(arm_ab[user], 1, 0), np.where(arm_cd[user], 2, 1)),
    )
    seg = segment[user]
    tables = np.stack([policies[v] for v in PRODUCTION_VERSIONS])  # versions × segments × items
    probs = tables[version, seg]  # events × items
    cumulative = probs.cumsum(axis=1)
    item = (rng.random(n_events)[:, None] > cumulative).sum(axis=1).clip(max=N_ITEMS - 1)
    propensity = probs[np.arange(n_events), item]
    click = rng.random(n_events) < _sigmoid(logit[seg, item] + taste[user])
    seconds = np.round(t * 7 * 86_400).astype("int64")
    day = (t * 7).astype(np.int64)
    frame = pd.DataFrame(
        {
            "user": np.char.add("u", np.char.zfill(user.astype(str), 6)),
            "item": np.char.add("item", np.char.zfill(item.astype(str), 2)),
            "timestamp": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            "event": np.where(click, "click", "skip"),
            "session": np.char.add(np.char.add("s", user.astype(str)), np.char.add("-", day.astype(str))),
            "model_version": np.asarray(PRODUCTION_VERSIONS)[version],
            "propensity": np.round(propensity, 6),
            "f_segment": seg.astype(float),
        }
    )
    for column in ("user", "item", "event", "session", "model_version"):
        frame[column] = frame[column].astype("str")
    return ProductionDemo(frame, policies, logit, taste, segment, user)
