"""Recommendation: rank items for each user; a popularity baseline and confidence-weighted collaborative filtering.

Positive signals become a user x item matrix of confidences c = 1 + alpha * r (Hu, Koren & Volinsky 2008),
where r is the summed signal weight of the pair. ``svd`` factorises log(c) with scikit-learn's TruncatedSVD
and ranks by the reconstructed preference; users the model has not met get the popularity ranking. Only
items the version has met (a positive interaction before its cut) are recommended.

**Seen items.** With ``exclude_seen`` (the default) an item a user already had a positive interaction with
before the cut is not recommended to that user, and the scored window keeps only each user's positives on
items new to them: a ranking is judged on what it adds, not on repeating a user's own history (which
flatters whichever model echoes it best, the popularity baseline included). Turn it off for logs where
re-consumption is the outcome to predict (replays, re-orders).

**Metrics** over the users with a positive in the scored window: hit rate@k (share of users with at least
one of their items in their top k) and NDCG@k (binary relevance), each with a 95% interval over users
(:func:`flywheel_core.learning.evidence.mean_score`, one value per user); and **catalog coverage**, the
number of distinct items recommended to those users divided by the catalog, the items the version has
met (so a share in [0, 1]; it has no interval: it describes the lists, it does not estimate a mean).
Below :data:`MIN_USERS` users with a positive in a window, none of its metrics is scored (None, and the
reason says how many users there were).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from flywheel_core.data.analytics import codes
from flywheel_core.data.signals import SignalDictionary, confidence_weights
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.evidence import MIN_POSITIVES, mean_score
from flywheel_core.learning.turns import Progress, TrainingResult, VersionResult, _time_ns, cut_turns
from flywheel_core.params import HOLDOUT_FRACTION, N_TURNS, RECOMMEND_MODEL, TEMPLATE, TURN_BY, check

__all__ = [
    "MIN_USERS",
    "RECOMMENDERS",
    "WindowScore",
    "fit_recommender",
    "rank_items",
    "score_ranking",
    "seen_items",
    "train_recommend_versions",
]

RECOMMENDERS = ("popularity", "svd")
MIN_USERS = MIN_POSITIVES  # users with a positive in a window below which its ranking metrics are not scored
_BLOCK = 1 << 23  # scores held at once while ranking (32 MB of float32)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a neighbour comparison: faster than np.unique's hashing)."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


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
    """Fit a recommender on positive interactions; returns its arrays (what is stored with skops).

    Raises:
        DataValidationError: an unknown model. InsufficientDataError: fewer than two items to rank.
    """
    if model not in RECOMMENDERS:
        raise DataValidationError(f"Unknown recommender '{model}'. Choose one of: {', '.join(RECOMMENDERS)}.")
    if n_items < 2:
        raise InsufficientDataError(f"A recommender needs at least 2 items to rank; got {n_items}.")
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


def seen_items(user: np.ndarray, item: np.ndarray, *, n_users: int, n_items: int) -> sp.csr_matrix:
    """The (user, item) pairs of some interactions as a 0/1 users x items matrix (what each user has had)."""
    keys = _distinct(user.astype(np.int64) * n_items + item)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // n_items, minlength=n_users))])
    return sp.csr_matrix((np.ones(len(keys), dtype=np.int8), keys % n_items, indptr), shape=(n_users, n_items))


def _top(cost: np.ndarray, width: int, tie: np.ndarray | None = None) -> np.ndarray:
    """Column positions of each row's ``width`` lowest costs, best first (equal costs: lower ``tie`` first);
    -1 where only excluded (+inf) columns are left."""
    if width < cost.shape[1]:
        top = np.argpartition(cost, width - 1, axis=1)[:, :width]
    else:
        top = np.broadcast_to(np.arange(cost.shape[1]), cost.shape)
    best = np.take_along_axis(cost, top, axis=1)
    order = np.lexsort((tie[top], best), axis=-1) if tie is not None else np.argsort(best, axis=1, kind="stable")
    top, best = np.take_along_axis(top, order, axis=1), np.take_along_axis(best, order, axis=1)
    return np.where(np.isposinf(best), -1, top)


def _blocks(spans: np.ndarray, batch: int) -> Iterator[slice]:
    """Consecutive slices of rows (ascending ``spans``: columns per row) of at most about ``_BLOCK`` scores."""
    start = 0
    while start < len(spans):
        cost = np.arange(1, len(spans) - start + 1) * np.maximum(spans[start:], 1)
        step = min(batch, max(1, int(np.searchsorted(cost, _BLOCK, side="right"))))
        yield slice(start, start + step)
        start += step


def _positions(columns: np.ndarray, n_items: int) -> np.ndarray:
    """Item code -> its column among ``columns`` (-1 for the others)."""
    position = np.full(n_items, -1, dtype=np.int64)
    position[columns] = np.arange(len(columns))
    return position


def _exclude(cost: np.ndarray, users: np.ndarray, seen: sp.csr_matrix, position: np.ndarray) -> None:
    """Set the costs of each row's seen items to +inf (``position``: item code -> column of the block)."""
    sub = seen[users]
    r = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
    c = position[sub.indices]
    keep = (c >= 0) & (c < cost.shape[1])
    cost[r[keep], c[keep]] = np.inf


def rank_items(
    fitted: dict[str, np.ndarray],
    users: np.ndarray,
    k: int = 10,
    batch: int = 2048,
    *,
    seen: sp.csr_matrix | None = None,
) -> np.ndarray:
    """Top-``k`` item codes for each user code among the items the model has met; -1 pads a short list.

    Users the model has not met get the popularity ranking. With ``seen`` (a users x items 0/1 matrix),
    a user's seen items are never recommended to them. Within a list, equal scores go to the more popular item.
    """
    popularity = fitted["popularity"]
    catalog = np.flatnonzero(popularity > 0)
    width = min(k, len(catalog))
    out = np.full((len(users), width), -1, dtype=np.int64)
    if width == 0 or len(users) == 0:
        return out
    popular = catalog[np.argsort(-popularity[catalog], kind="stable")]
    by_factors = fitted["known_users"][users] if "user_factors" in fitted else np.zeros(len(users), dtype=bool)
    n_seen = np.diff(seen.indptr)[users] if seen is not None else np.zeros(len(users), dtype=np.int64)
    plain = ~by_factors & (n_seen == 0)
    out[plain] = popular[:width]
    if seen is not None:  # popularity, skipping seen items: the popular list's first width + n_seen columns
        rows = np.flatnonzero(~by_factors & ~plain)
        rows = rows[np.argsort(n_seen[rows], kind="stable")]  # fewest seen first: blocks stay narrow
        spans = np.minimum(len(popular), width + n_seen[rows])
        rank = _positions(popular, len(popularity))
        for part in _blocks(spans, batch):
            chunk, span = rows[part], int(spans[part][-1])
            cost = np.tile(np.arange(span, dtype=np.float32), (len(chunk), 1))
            _exclude(cost, users[chunk], seen, rank)
            top = _top(cost, width)
            out[chunk] = np.where(top >= 0, popular[np.maximum(top, 0)], -1)
    rows = np.flatnonzero(by_factors)
    if len(rows):
        # costs are negated preferences in float32: half the memory traffic of the argpartition
        negated = np.ascontiguousarray(-fitted["item_factors"][catalog].T, dtype=np.float32)
        tie = -popularity[catalog]  # equal preferences go to the more popular item
        position = _positions(catalog, len(popularity))
        for part in _blocks(np.full(len(rows), len(catalog)), batch):
            chunk = rows[part]
            cost = fitted["user_factors"][users[chunk]].astype(np.float32) @ negated
            if seen is not None:
                _exclude(cost, users[chunk], seen, position)
            top = _top(cost, width, tie)
            out[chunk] = np.where(top >= 0, catalog[np.maximum(top, 0)], -1)
    return out


@dataclass(frozen=True)
class WindowScore:
    """The ranking metrics of one window with their evidence."""

    metrics: dict[str, float | None]  # hit_rate@k, ndcg@k, catalog_coverage (prefixed)
    intervals: dict[str, list[float]]  # metric -> [low, high] (95%, over users)
    unscored: dict[str, str]  # metric -> why it is None
    users: int  # users with a positive in the window (on an item new to them, when seen items are excluded)
    positives: int  # their positive interactions scored
    recommended_items: int
    catalog_items: int


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _score_window(
    ranked: tuple[np.ndarray, np.ndarray],
    user: np.ndarray,
    item: np.ndarray,
    *,
    n_items: int,
    catalog_items: int,
    k: int,
    prefix: str,
    window: str,
    seen: sp.csr_matrix | None,
    min_users: int,
) -> WindowScore:
    """Score the window's positive (user, item) pairs against rankings made beforehand for its users."""
    names = (f"{prefix}hit_rate@{k}", f"{prefix}ndcg@{k}", f"{prefix}catalog_coverage")
    if seen is not None and len(user):
        new = np.asarray(seen[user, item]).ravel() == 0
        user, item = user[new], item[new]
    pairs = _distinct(user.astype(np.int64) * n_items + item)  # sorted by user, then item
    users = _distinct(pairs // n_items)
    if len(users) < max(min_users, 1):
        where = "a positive on an item new to them" if seen is not None else "a positive"
        reason = f"not enough feedback to score ({_plural(len(users), 'user')} with {where} in the {window}; "
        reason += f"needs {min_users})"
        return WindowScore(
            dict.fromkeys(names), {}, dict.fromkeys(names, reason), len(users), len(user), 0, catalog_items
        )
    ranked_users, ranked_top = ranked
    top = ranked_top[np.searchsorted(ranked_users, users)]
    keys = users[:, None].astype(np.int64) * n_items + top
    found = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
    gains = (top >= 0) & (pairs[found] == keys)
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    n_rel = np.minimum(np.bincount(np.searchsorted(users, pairs // n_items), minlength=len(users)), top.shape[1])
    ndcg = (gains @ discounts) / np.cumsum(discounts)[np.maximum(n_rel, 1) - 1]
    hit = gains.any(axis=1).astype(float)
    metrics: dict[str, float | None] = {}
    intervals: dict[str, list[float]] = {}
    for name, values in zip(names[:2], (hit, ndcg), strict=True):
        score = mean_score(values)  # one value per user: the interval clustered by user is this one
        metrics[name] = None if score.value is None else float(score.value)
        if score.low is not None and score.high is not None:
            intervals[name] = [float(score.low), float(score.high)]
    recommended = int(np.count_nonzero(np.bincount(top[top >= 0], minlength=1)))
    metrics[names[2]] = round(recommended / max(catalog_items, 1), 4)
    return WindowScore(metrics, intervals, {}, len(users), len(user), recommended, catalog_items)


def score_ranking(
    fitted: dict[str, np.ndarray],
    user: np.ndarray,
    item: np.ndarray,
    *,
    k: int = 10,
    prefix: str = "",
    seen: sp.csr_matrix | None = None,
    min_users: int = MIN_USERS,
) -> dict[str, Any]:
    """Hit rate@k, NDCG@k and catalog coverage for the positive (user, item) pairs of a window, and its users.

    With ``seen``, seen items are neither recommended nor counted as hits (module docstring).
    """
    users = np.unique(user)
    ranked = (users, rank_items(fitted, users, k, seen=seen))
    catalog = int(np.count_nonzero(fitted["popularity"] > 0))
    n_items = len(fitted["popularity"])
    result = _score_window(
        ranked, user, item, n_items=n_items, catalog_items=catalog, k=k, prefix=prefix, window="window",
        seen=seen, min_users=min_users,
    )  # fmt: skip
    return {**result.metrics, f"{prefix}users": result.users}


def _check_options(model: str, n_turns: int, by: str, holdout_fraction: float, exclude_seen: object) -> None:
    for param, value in (
        (RECOMMEND_MODEL, model),
        (N_TURNS, n_turns),
        (TURN_BY, by),
        (HOLDOUT_FRACTION, holdout_fraction),
    ):
        check(param, value, caller="train_recommend_versions")
    if not isinstance(exclude_seen, bool):
        raise DataValidationError(
            TEMPLATE.format(
                name="exclude_seen", caller="train_recommend_versions", constraint="a bool", value=exclude_seen
            )
        )


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
    exclude_seen: bool = True,
    random_state: int = 0,
    progress: Progress | None = None,
) -> TrainingResult:
    """One recommender version per turn, scored on the next turn's and the holdout's positive interactions.

    ``exclude_seen`` (default True): items a user had before the version's cut are not recommended to them
    and not scored as hits; set False where re-consumption is the outcome (module docstring).

    Each version's ``evaluation`` carries ``intervals`` ({metric: [low, high]}), ``counts`` (rows, positives
    and users of ``next_turn`` and ``holdout``), ``unscored`` ({metric: reason}), ``coverage`` (recommended
    and catalog items per window) and ``segments``; its ``drift`` is :func:`~flywheel_core.learning.drift.recommend_drift`.

    Raises:
        DataValidationError: bad options. InsufficientDataError: no item column, fewer than 10 positive
            interactions, or positives on fewer than 2 distinct items.
    """
    from flywheel_core.learning.drift import recommend_drift

    _check_options(model, n_turns, by, holdout_fraction, exclude_seen)
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
    distinct = np.unique(item[positive])
    if len(distinct) < 2:
        raise InsufficientDataError(
            f"Recommendation needs positive interactions with at least 2 distinct items; this log's "
            f"{int(positive.sum()):,} positive interactions are all with one item "
            f"('{events['item'].iloc[int(np.flatnonzero(positive)[0])]}'). Map another item column, "
            "or use the feedback task."
        )
    time_ns = _time_ns(events)
    strength = signals["weight"].to_numpy(dtype=float)
    u, i, t, r = user[positive], item[positive], time_ns[positive], np.maximum(strength[positive], 1e-3)
    plan = cut_turns(t, n_turns=n_turns, by=by, holdout_fraction=holdout_fraction)
    turn, event_turn = plan.turn_of(t), plan.turn_of(time_ns)
    holdout = turn == n_turns + 1
    first_seen = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, user, time_ns)
    versions = []
    for v in range(1, n_turns + 1):
        report(0.05 + 0.9 * (v - 1) / n_turns, f"Training turn {v} of {n_turns}")
        window = turn <= v
        started = time.perf_counter()
        fitted = fit_recommender(
            model, u[window], i[window], r[window], n_users=n_users, n_items=n_items, alpha=alpha,
            random_state=random_state,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        seen = seen_items(u[window], i[window], n_users=n_users, n_items=n_items) if exclude_seen else None
        nxt = turn == v + 1
        scored = _distinct(np.concatenate([u[nxt], u[holdout]]))  # rank each user once for every window
        ranked = (scored, rank_items(fitted, scored, k, seen=seen))
        catalog = int(np.count_nonzero(fitted["popularity"] > 0))

        def score(rows: np.ndarray, prefix: str, window_name: str) -> WindowScore:
            return _score_window(
                ranked, u[rows], i[rows], n_items=n_items, catalog_items=catalog, k=k, prefix=prefix,  # noqa: B023
                window=window_name, seen=seen, min_users=MIN_USERS,  # noqa: B023
            )  # fmt: skip

        windows = {"next_turn": score(nxt, "", "next turn"), "holdout": score(holdout, "holdout_", "holdout")}
        returning = holdout & (first_seen[u] < plan.edges_ns[v - 1])
        segments = {
            name: {**s.metrics, "users": s.users, "intervals": s.intervals, "unscored": s.unscored}
            for name, s in (
                ("returning users", score(returning, "", "holdout's returning users")),
                ("new users", score(holdout & ~returning, "", "holdout's new users")),
            )
        }
        metrics: dict[str, Any] = {}
        for prefix, w in zip(("", "holdout_"), windows.values(), strict=True):
            metrics.update({**w.metrics, f"{prefix}users": w.users})
        window_rows = {"next_turn": event_turn == v + 1, "holdout": event_turn == n_turns + 1}
        evaluation = {
            "segments": segments,
            "intervals": {m: iv for w in windows.values() for m, iv in w.intervals.items()},
            "counts": {
                name: {"rows": int(window_rows[name].sum()), "positives": w.positives, "users": w.users}
                for name, w in windows.items()
            },
            "unscored": {m: why for w in windows.values() for m, why in w.unscored.items()},
            "coverage": {
                name: {"recommended_items": w.recommended_items, "catalog_items": w.catalog_items}
                for name, w in windows.items()
            },
        }
        drift = recommend_drift(user, item, event_turn, v, positive=positive) if v > 1 else {}
        versions.append(
            VersionResult(
                turn=v,
                train_rows=int(window.sum()),
                metrics=metrics,
                drift=drift,
                train_seconds=round(seconds, 4),
                evaluation=evaluation,
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
            "exclude_seen": exclude_seen,
            "random_state": random_state,
            "turn_ends": [pd.Timestamp(e, tz="UTC").isoformat() for e in plan.edges_ns],
        },
        feature_names=(),
        versions=tuple(versions),
    )
