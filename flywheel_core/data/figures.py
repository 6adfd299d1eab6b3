"""The profile's and the Explore view's figures from the stored aggregates (:mod:`flywheel_core.data.aggregates`).

The same figures as :mod:`flywheel_core.data.analytics` computes from the events (tests compare them), read
from tables of kilobytes to a few megabytes: counts and shares from the daily counts, distinct-user figures
from the (day, user) pairs, the long tail from the per-item counts, the bot rule from per-user sums. Ties in
the per-user and per-item rankings are ordered by id here (by first appearance in the events there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from flywheel_core.data import analytics
from flywheel_core.data.signals import SignalDictionary
from flywheel_core.exceptions import InsufficientDataError

__all__ = [
    "Summary",
    "long_tail",
    "outliers",
    "over_time",
    "pairs",
    "profile",
    "rating_bias",
    "signals",
]

_DAY_US = 86_400 * 1_000_000
_SIGN = {"positive": 1, "negative": -1, "neutral": 0}
_POLARITY_NAME = {1: "positive", -1: "negative", 0: "neutral"}


@dataclass(frozen=True)
class Summary:
    """The aggregates of one date range (whole days, or the whole dataset).

    ``daily``: day, event, rule, events, first_us, last_us. ``items``: item, event, rule, events (None: no item
    column). ``ratings``: day, event, value, events for narrow-valued events; ``wide``: the events whose values
    are not a small whole-number scale. ``behaviour``: ``analytics.user_outliers`` of the range (``aggregates.behaviour_table``).
    ``activity``, ``retention``, ``new_returning``: the distinct-user figures, computed once.
    """

    daily: pd.DataFrame
    items: pd.DataFrame | None
    ratings: pd.DataFrame
    wide: frozenset[str]
    has_value: bool
    behaviour: pd.DataFrame
    activity: analytics.ActivityResult
    retention: pd.DataFrame
    new_returning: pd.DataFrame


def signals(frame: pd.DataFrame, dictionary: SignalDictionary) -> tuple[np.ndarray, np.ndarray]:
    """Per row of an aggregate with ``event`` and ``rule``: its kind (str) and polarity (+1, 0, -1), as
    ``SignalDictionary.annotate`` reads the events it counts."""
    codes, uniques = pd.factorize(frame["event"].astype(object))  # a lookup per event name, not per row
    known = [dictionary.events.get(u) for u in uniques]
    kind = np.array([spec.kind if spec else "unknown" for spec in known] or ["unknown"], dtype=object)[codes]
    polarity = np.array([_SIGN[spec.polarity] if spec else 0 for spec in known] or [0], dtype=np.int8)[codes]
    rule = frame["rule"].to_numpy()
    for index, found in enumerate(dictionary.rules):
        polarity[rule == index] = _SIGN[found.polarity]
    return kind, polarity


def pairs(user_days: pa.Table) -> tuple[np.ndarray, np.ndarray, int]:
    """The distinct (user, day) pairs, sorted by user then day, with days counted from the first (the input
    of ``analytics.activity_from_pairs`` and its siblings); batches may repeat a pair. Users are coded by
    Arrow's dictionary encoding (no Python string per row: 12M pairs of a 25M-event log stay small)."""
    column = user_days.column("user")
    if pa.types.is_dictionary(column.type):  # one dictionary over every chunk, then the chunks' codes
        column = column.unify_dictionaries()
        parts = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
        user = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        del parts
    else:
        codes = column.combine_chunks().dictionary_encode().indices
        user = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)
    del column
    day = np.asarray(user_days.column("day").to_numpy(), dtype=np.int64)
    day0 = int(day.min())
    span = int(day.max()) - day0 + 1
    key = analytics.distinct(user * span + (day - day0))  # a sort: np.unique hashes, 20x slower here
    return key // span, key % span, day0


def profile(summary: Summary, dictionary: SignalDictionary) -> analytics.DataProfile:
    daily = summary.daily
    n = daily["events"].to_numpy()
    total = int(n.sum())
    kind, polarity = signals(daily, dictionary)
    first = pd.Timestamp(int(daily["first_us"].min()), unit="us", tz="UTC")
    last = pd.Timestamp(int(daily["last_us"].max()), unit="us", tz="UTC")
    per_user = summary.behaviour["events"].to_numpy()
    counts = daily.groupby("event", observed=True)["events"].sum().sort_values(ascending=False, kind="stable")
    frame = outliers(summary)
    return analytics.DataProfile(
        events=total,
        users=len(per_user),
        items=0 if summary.items is None else int(summary.items["item"].nunique()),
        first_event=first,
        last_event=last,
        days=int((last - first).total_seconds() // 86_400) + 1,
        explicit_share=float(n[kind == "explicit"].sum() / total),
        implicit_share=float(n[kind == "implicit"].sum() / total),
        feedback_coverage=float(n[polarity != 0].sum() / total),
        positive_share=float(n[polarity > 0].sum() / total),
        dau_mau=summary.activity.dau_mau,
        events_per_user_median=float(np.median(per_user)),
        bot_like_users=int(frame["bot_like"].sum()),
        heavy_users=int(frame["heavy"].sum()),
        event_counts={str(k): int(v) for k, v in counts.items()},
    )


def over_time(summary: Summary, dictionary: SignalDictionary, freq: str = "D") -> pd.DataFrame:
    """As ``analytics.events_over_time``: events per period and signal class, long format."""
    daily = summary.daily
    kind, polarity = signals(daily, dictionary)
    label = pd.Series(kind).astype(str) + " " + pd.Series(polarity).map(_POLARITY_NAME)
    stamps = pd.Series(pd.to_datetime(daily["day"].to_numpy().astype(np.int64) * _DAY_US, unit="us", utc=True))
    period = stamps.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq).dt.start_time
    frame = pd.DataFrame(
        {"period": period.to_numpy(), "signal": label.to_numpy(), "events": daily["events"].to_numpy()}
    )
    counts = frame.groupby(["period", "signal"], observed=True)["events"].sum().reset_index()
    counts["events"] = counts["events"].astype(np.int64)
    counts["period"] = counts["period"].dt.tz_localize("UTC")
    return counts


def long_tail(summary: Summary, dictionary: SignalDictionary, top: int = 20) -> analytics.LongTailResult:
    """As ``analytics.item_long_tail``, from the per-item counts."""
    if summary.items is None:
        raise InsufficientDataError("No item column is mapped, so there is no catalogue to look at.")
    items = summary.items
    _, polarity = signals(items, dictionary)
    events = items["events"].to_numpy()
    both = pd.DataFrame({"item": items["item"], "events": events, "positive": np.where(polarity > 0, events, 0)})
    sums = both.groupby("item", sort=True)[["events", "positive"]].sum()  # one pass, sorted by item
    per_item = sums["events"]
    counts = per_item.to_numpy().astype(np.int64)
    n_items = len(counts)
    order = np.argsort(-counts, kind="stable")
    sorted_counts = counts[order]
    cumulative = np.cumsum(sorted_counts) / sorted_counts.sum()
    idx = np.unique(np.linspace(0, n_items - 1, min(n_items, 500)).astype(int))
    curve = pd.DataFrame({"item_share": (idx + 1) / n_items, "event_share": cumulative[idx]})
    head = cumulative[max(0, int(np.ceil(0.2 * n_items)) - 1)]
    covered = sums["positive"].to_numpy() > 0  # items with a positive interaction
    top_items = pd.DataFrame({"item": per_item.index.to_numpy()[order[:top]], "events": sorted_counts[:top]})
    return analytics.LongTailResult(curve, n_items, float(head), float(covered.mean()), top_items)


def rating_bias(summary: Summary, dictionary: SignalDictionary) -> analytics.RatingBiasResult:
    """As ``analytics.rating_bias``, from the counts of narrow-valued events (``wide`` ones are no scale)."""
    if not summary.has_value:
        raise InsufficientDataError("No value column is mapped, so there are no ratings to look at.")
    ratings = summary.ratings
    explicit = {e for e, spec in dictionary.events.items() if spec.kind == "explicit"} - summary.wide
    rows = ratings[ratings["event"].astype(object).isin(explicit)]
    scales = rows.groupby("event", observed=True)["value"].nunique()
    rated = rows[rows["event"].astype(object).isin(set(scales.index[scales <= analytics_scale_max()]))]
    counts = rated.groupby(rated["value"].round(2))["events"].sum().sort_index()
    if int(counts.sum()) < 5 or len(counts) < 2:
        raise InsufficientDataError(
            "No explicit ratings on a small scale (such as 1-5 stars) with at least 5 ratings: no bias to measure."
        )
    counts = counts.astype(np.int64)
    low, high = counts.index.min(), counts.index.max()
    extreme = float(counts.loc[[low, high]].sum() / counts.sum())
    uniform = 2.0 / len(counts)
    distribution = pd.DataFrame(
        {"value": counts.index.to_numpy(), "count": counts.to_numpy(), "share": counts.to_numpy() / counts.sum()}
    )
    return analytics.RatingBiasResult(distribution, extreme, uniform, extreme / uniform, int(counts.sum()))


def analytics_scale_max() -> int:
    from flywheel_core.data.aggregates import RATING_SCALE_MAX

    return RATING_SCALE_MAX


def outliers(summary: Summary) -> pd.DataFrame:
    """As ``analytics.user_outliers`` (the stored frame: ties in events ordered by user)."""
    return summary.behaviour
