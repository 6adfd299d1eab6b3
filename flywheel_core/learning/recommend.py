"""Recommendation: rank items for each user; a popularity baseline and confidence-weighted collaborative filtering.

Positive signals become a user x item matrix of confidences c = 1 + alpha * r (Hu, Koren & Volinsky 2008),
where r is the summed signal weight of the pair. ``svd`` factorises log(c) with scikit-learn's TruncatedSVD
and ranks by the reconstructed preference; users the model has not met get the popularity ranking.
Items a user already has are not removed from the ranking: repeat consumption is a real outcome.
Metrics over the users active in the scored window: hit rate@k (at least one of their items in the top k),
NDCG@k (binary relevance) and catalogue coverage (share of known items that appear in some top k).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from flywheel_core.data.analytics import codes
from flywheel_core.data.signals import SignalDictionary, confidence_weights
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.turns import Progress, TrainingResult, VersionResult, _time_ns, cut_turns

__all__ = ["RECOMMENDERS", "fit_recommender", "rank_items", "score_ranking", "train_recommend_versions"]

RECOMMENDERS = ("popularity", "svd")


def _matrix(user: np.ndarray, item: np.ndarray, r: np.ndarray, shape: tuple[int, int], alpha: float) -> sp.csr_matrix:
    summed = sp.coo_matrix((r, (user, item)), shape=shape).tocsr()
    summed.sum_duplicates()
    summed.data = np.log(confidence_weights(summed.data, alpha))
    return summed


def fit_recommender(
    model: str,
    user: np.ndarray,
    item: np.ndarray,
    strength: np.ndarray,
    *,
    n_users: int,
    n_items: int,
    alpha: float = 40.0,
    factors: int = 32,
    random_state: int = 0,
) -> dict[str, np.ndarray]:
    """Fit a recommender on positive interactions; returns its arrays (what is stored with skops)."""
    if model not in RECOMMENDERS:
        raise DataValidationError(f"Unknown recommender '{model}'. Choose one of: {', '.join(RECOMMENDERS)}.")
    popularity = np.bincount(item, weights=strength, minlength=n_items).astype(float)
    fitted: dict[str, np.ndarray] = {"popularity": popularity, "known_users": np.bincount(user, minlength=n_users) > 0}
    if model == "svd":
        from sklearn.decomposition import TruncatedSVD

        matrix = _matrix(user, item, strength, (n_users, n_items), alpha)
        k = max(1, min(factors, min(matrix.shape) - 1))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=random_state)
        fitted["user_factors"] = svd.fit_transform(matrix)
        fitted["item_factors"] = svd.components_.T.copy()
    return fitted


def rank_items(fitted: dict[str, np.ndarray], users: np.ndarray, k: int = 10, batch: int = 2048) -> np.ndarray:
    """Top-``k`` item codes for each user code (popularity for users the model has not met)."""
    popularity = fitted["popularity"]
    k = min(k, len(popularity))
    popular = np.argsort(-popularity, kind="stable")[:k]
    out = np.tile(popular, (len(users), 1))
    if "user_factors" not in fitted:
        return out
    known = fitted["known_users"][users]
    rows = np.flatnonzero(known)
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        scores = fitted["user_factors"][users[chunk]] @ fitted["item_factors"].T
        scores += 1e-9 * popularity  # break ties towards popular items, deterministically
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[chunk] = np.take_along_axis(top, order, axis=1)
    return out


def score_ranking(
    fitted: dict[str, np.ndarray], user: np.ndarray, item: np.ndarray, *, k: int = 10, prefix: str = ""
) -> dict[str, Any]:
    """Hit rate@k, NDCG@k and coverage for the positive (user, item) pairs of a window."""
    if len(user) == 0:
        return {
            f"{prefix}hit_rate@{k}": None,
            f"{prefix}ndcg@{k}": None,
            f"{prefix}coverage": None,
            f"{prefix}users": 0,
        }
    users = np.unique(user)
    top = rank_items(fitted, users, k)
    n_items = len(fitted["popularity"])
    position = np.searchsorted(users, user)
    relevant = sp.csr_matrix((np.ones(len(user)), (position, item)), shape=(len(users), n_items))
    relevant.data[:] = 1.0
    gains = np.asarray(relevant[np.arange(len(users))[:, None], top].todense())
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = gains @ discounts
    n_rel = np.minimum(np.diff(relevant.indptr), top.shape[1])
    ideal = np.cumsum(discounts)[np.maximum(n_rel, 1) - 1]
    catalogue = max(int((fitted["popularity"] > 0).sum()), 1)
    return {
        f"{prefix}hit_rate@{k}": float((gains.sum(axis=1) > 0).mean()),
        f"{prefix}ndcg@{k}": float(np.mean(dcg / ideal)),
        f"{prefix}coverage": float(len(np.unique(top)) / catalogue),
        f"{prefix}users": len(users),
    }


def train_recommend_versions(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    n_turns: int = 5,
    model: str = "svd",
    by: str = "time",
    holdout_fraction: float = 0.15,
    alpha: float = 40.0,
    k: int = 10,
    random_state: int = 0,
    progress: Progress | None = None,
) -> TrainingResult:
    """One recommender version per turn, scored on the next turn's and the holdout's positive interactions.

    Raises:
        InsufficientDataError: no item column or no positive interactions.
    """
    report = progress or (lambda fraction, message: None)
    if "item" not in events.columns:
        raise InsufficientDataError("Recommendation needs an item column. Map one when importing the log.")
    signals = dictionary.annotate(events["event"], events.get("value"))
    positive = (signals["polarity"] > 0).to_numpy()
    if positive.sum() < 10:
        raise InsufficientDataError(
            "Recommendation needs at least 10 positive interactions; check the signal dictionary."
        )
    user, n_users = codes(events["user"])
    item, n_items = codes(events["item"])
    time_ns = _time_ns(events)
    strength = signals["weight"].to_numpy(dtype=float)
    u, i, t, r = user[positive], item[positive], time_ns[positive], np.maximum(strength[positive], 1e-3)
    plan = cut_turns(t, n_turns=n_turns, by=by, holdout_fraction=holdout_fraction)
    turn = plan.turn_of(t)
    holdout = turn == n_turns + 1
    first_seen = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, user, time_ns)
    versions = []
    for v in range(1, n_turns + 1):
        report(0.05 + 0.9 * (v - 1) / n_turns, f"Training turn {v} of {n_turns}")
        window = turn <= v
        started = time.perf_counter()
        fitted = fit_recommender(
            model,
            u[window],
            i[window],
            r[window],
            n_users=n_users,
            n_items=n_items,
            alpha=alpha,
            random_state=random_state,
        )
        seconds = time.perf_counter() - started
        nxt = turn == v + 1
        metrics = {
            **score_ranking(fitted, u[nxt], i[nxt], k=k),
            **score_ranking(fitted, u[holdout], i[holdout], k=k, prefix="holdout_"),
        }
        returning = first_seen[u[holdout]] < plan.edges_ns[v - 1]
        segments = {
            "returning users": score_ranking(fitted, u[holdout][returning], i[holdout][returning], k=k),
            "new users": score_ranking(fitted, u[holdout][~returning], i[holdout][~returning], k=k),
        }
        versions.append(
            VersionResult(
                turn=v,
                train_rows=int(window.sum()),
                metrics=metrics,
                drift={},
                train_seconds=round(seconds, 4),
                evaluation={"segments": segments},
                estimator=fitted,
            )
        )
    report(0.95, "Scored every version")
    return TrainingResult(
        run_id=uuid.uuid4().hex[:12],
        task="recommend",
        algorithm=model,
        params={
            "n_turns": n_turns,
            "by": by,
            "holdout_fraction": holdout_fraction,
            "alpha": alpha,
            "k": k,
            "random_state": random_state,
            "turn_ends": [pd.Timestamp(e, tz="UTC").isoformat() for e in plan.edges_ns],
        },
        feature_names=(),
        versions=tuple(versions),
    )
