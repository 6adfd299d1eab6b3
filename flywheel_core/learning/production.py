"""Production evidence: how each logged model version did on the traffic it served, and what changed.

Events that carry the ``model_version`` that served them are grouped by version. For each version: its
events, users and positive outcomes (events the signal dictionary reads as positive), the **positive rate**
with a 95% interval clustered by user (the cluster-robust mean of :func:`flywheel_core.learning.evidence.mean_score`,
computed here from per-user sums so 5M events cost one pass), **positives per user** and, when a session is
mapped, the **per-session conversion** (share of sessions with a positive outcome).

Consecutive versions (by the time they first served) are compared by the difference of their positive rates,
with a cluster-robust variance over users (a user seen by both versions counts once, with both halves).
Versions that ran **side by side** (each served at least a quarter of its events while the other was
serving) are compared over that shared period, with a **sample-ratio check**: a chi-square test of the
users each version saw against the planned split. Versions that ran one after the other are compared over
their whole periods, and the comparison says that time and version are then confounded.

A difference's conclusion reads its interval against the material difference: **effect** when the
interval excludes 0 and the difference is at least material, **no_effect** when the whole interval lies
within ±material, **inconclusive** otherwise.

The versions' rates in order form a series judged like any other (:func:`judge_production`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.evidence import LEVEL, Score
from flywheel_core.params import PRODUCTION_MATERIAL, check

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_core.curves.judge import CurveReport
    from flywheel_core.data.signals import SignalDictionary

__all__ = [
    "CONCLUSIONS",
    "MATERIAL_RATE",
    "SIDE_BY_SIDE_SHARE",
    "SRM_ALPHA",
    "ProductionReport",
    "SampleRatio",
    "VersionComparison",
    "VersionOutcome",
    "cluster_mean",
    "compare_production",
    "conclude",
    "judge_production",
]

CONCLUSIONS = ("effect", "no_effect", "inconclusive")
MATERIAL_RATE = PRODUCTION_MATERIAL.default or 0.02  # two points of positive rate, as for any metric in [0, 1]
SIDE_BY_SIDE_SHARE = 0.25  # each version served at least this share of its events while the other served
SRM_ALPHA = 0.001  # a sample-ratio p-value below this is a mismatch


def cluster_mean(sums: np.ndarray, counts: np.ndarray, *, decimals: int = 6) -> Score:
    """The mean of per-row values with its cluster-robust 95% interval, from each cluster's sum and count.

    The same estimator as :func:`flywheel_core.learning.evidence.mean_score` with ``groups``, computed
    from per-cluster sums (clusters with no rows are ignored).
    """
    sums, counts = np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep]
    n = float(counts.sum())
    if n == 0:
        return Score(None, reason="no rows to score")
    mean = float(sums.sum()) / n
    clusters = len(sums)
    if clusters < 2:
        return Score(round(mean, decimals))
    resid = sums - mean * counts
    var = float((resid**2).sum()) / n**2 * clusters / (clusters - 1)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, clusters - 1)) * np.sqrt(var)
    return Score(round(mean, decimals), round(float(mean - half), decimals), round(float(mean + half), decimals))


def conclude(low: float, high: float, difference: float, material: float) -> str:
    """effect | no_effect | inconclusive, read from a difference's interval against ±material."""
    if (low > 0 or high < 0) and abs(difference) >= material:
        return "effect"
    if -material <= low and high <= material:
        return "no_effect"
    return "inconclusive"


@dataclass(frozen=True)
class VersionOutcome:
    """What one served version earned on the events it served, each rate with its 95% interval."""

    version: str
    order: int  # 1 for the first version served
    events: int
    users: int
    positives: int
    rate: float
    low: float
    high: float
    positives_per_user: float
    ppu_low: float
    ppu_high: float
    sessions: int | None
    session_conversion: float | None
    conversion_low: float | None
    conversion_high: float | None
    first_served: datetime
    last_served: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "order": self.order,
            "events": self.events,
            "users": self.users,
            "positives": self.positives,
            "rate": self.rate,
            "interval": [self.low, self.high],
            "positives_per_user": self.positives_per_user,
            "positives_per_user_interval": [self.ppu_low, self.ppu_high],
            "sessions": self.sessions,
            "session_conversion": self.session_conversion,
            "session_conversion_interval": None
            if self.conversion_low is None
            else [self.conversion_low, self.conversion_high],
            "first_served": self.first_served.isoformat(),
            "last_served": self.last_served.isoformat(),
        }


@dataclass(frozen=True)
class SampleRatio:
    """Users each of two side-by-side versions saw over their shared period, against the planned split."""

    users_a: int
    users_b: int
    expected_share_a: float
    chi2: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA

    def to_json(self) -> dict[str, Any]:
        return {
            "users_a": self.users_a,
            "users_b": self.users_b,
            "expected_share_a": self.expected_share_a,
            "chi2": round(self.chi2, 4),
            "p_value": self.p_value,
            "mismatch": self.mismatch,
        }


@dataclass(frozen=True)
class VersionComparison:
    """Positive rate of ``b`` minus that of ``a`` with its 95% interval, p-value and conclusion."""

    a: str
    b: str
    basis: str  # "side_by_side" (same period) | "sequential" (time and version confounded)
    period_start: datetime
    period_end: datetime
    events_a: int
    events_b: int
    rate_a: float
    rate_b: float
    difference: float
    low: float
    high: float
    p_value: float
    conclusion: str
    sample_ratio: SampleRatio | None

    @property
    def sentence(self) -> str:
        what = {"effect": "an effect", "no_effect": "no material effect", "inconclusive": "inconclusive"}[
            self.conclusion
        ]
        basis = (
            "side by side over the same period"
            if self.basis == "side_by_side"
            else "one after the other (time and version are confounded)"
        )
        text = (
            f"{self.b} vs {self.a}: {self.difference:+.2%} positive rate (95% CI {self.low:+.2%} to {self.high:+.2%}), "
            f"{what}; they ran {basis}."
        )
        if self.sample_ratio is not None and self.sample_ratio.mismatch:
            text += (
                f" Sample ratio mismatch (users {self.sample_ratio.users_a:,} vs {self.sample_ratio.users_b:,}, "
                f"p = {self.sample_ratio.p_value:.1e}): the split is not what was planned, so the comparison may be biased."
            )
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "basis": self.basis,
            "period": [self.period_start.isoformat(), self.period_end.isoformat()],
            "events": [self.events_a, self.events_b],
            "rates": [self.rate_a, self.rate_b],
            "difference": self.difference,
            "interval": [self.low, self.high],
            "p_value": self.p_value,
            "conclusion": self.conclusion,
            "sample_ratio": None if self.sample_ratio is None else self.sample_ratio.to_json(),
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class ProductionReport:
    """Every served version's outcomes, the comparisons of consecutive ones, and what was left out."""

    outcome: str
    material: float
    versions: tuple[VersionOutcome, ...]
    comparisons: tuple[VersionComparison, ...]
    unversioned_events: int

    def series(self, x: str = "order") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, positive rate, its standard error) by version: x is the order served or days since the first."""
        if x not in ("order", "first_served"):
            raise DataValidationError(f"x must be 'order' or 'first_served', got {x!r}.")
        first = min((v.first_served for v in self.versions), default=None)
        xs = [
            float(v.order) if x == "order" or first is None else (v.first_served - first).total_seconds() / 86_400
            for v in self.versions
        ]
        z = float(stats.norm.ppf(0.5 + LEVEL / 2))
        sd = [(v.high - v.low) / (2 * z) for v in self.versions]
        return np.array(xs), np.array([v.rate for v in self.versions]), np.array(sd)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "material": self.material,
            "versions": [v.to_json() for v in self.versions],
            "comparisons": [c.to_json() for c in self.comparisons],
            "unversioned_events": self.unversioned_events,
        }


def _per_group(keys: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, sum of y) per key in [0, size), by bincount when small, else by unique keys."""
    if size <= 50_000_000:
        return np.bincount(keys, minlength=size), np.bincount(keys, weights=y, minlength=size)
    index = np.unique(keys, return_inverse=True)[1]
    return np.bincount(index), np.bincount(index, weights=y)


def _difference(
    user: np.ndarray, side: np.ndarray, y: np.ndarray, n_users: int
) -> tuple[float, float, float, float, int, int, float, float]:
    """(difference, low, high, p, events a, events b, rate a, rate b) of rate(side 1) − rate(side 0)."""
    key = user * 2 + side
    counts, sums = _per_group(key, y, n_users * 2)
    if len(counts) != n_users * 2:  # the unique-keys path: spread back to a dense (user, side) grid
        unique = np.unique(key)
        dense_c, dense_s = np.zeros(n_users * 2), np.zeros(n_users * 2)
        dense_c[unique], dense_s[unique] = counts, sums
        counts, sums = dense_c, dense_s
    c, s = counts.reshape(n_users, 2), sums.reshape(n_users, 2)
    n_a, n_b = float(c[:, 0].sum()), float(c[:, 1].sum())
    p_a, p_b = float(s[:, 0].sum()) / n_a, float(s[:, 1].sum()) / n_b
    influence = (s[:, 1] - p_b * c[:, 1]) / n_b - (s[:, 0] - p_a * c[:, 0]) / n_a
    present = (c.sum(axis=1) > 0).sum()
    var = float((influence**2).sum()) * present / max(present - 1, 1)
    se = float(np.sqrt(var))
    diff = p_b - p_a
    df = max(int(present) - 1, 1)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
    p_value = float(2 * stats.t.sf(abs(diff) / se, df)) if se > 0 else (1.0 if diff == 0 else 0.0)
    return diff, diff - half, diff + half, p_value, int(n_a), int(n_b), p_a, p_b


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def compare_production(
    events: pd.DataFrame,
    dictionary: SignalDictionary,
    *,
    material: float = MATERIAL_RATE,
    expected_split: Mapping[str, float] | None = None,
) -> ProductionReport:
    """Outcomes per served version and the comparison of consecutive versions (see the module docstring).

    Parameters:
        material: the difference of positive rate that matters (default two points, 0.02).
        expected_split: planned share of users per version when versions ran side by side (default equal).

    Raises:
        DataValidationError: the log has no ``model_version`` column, or ``material`` is outside (0, 1).
        InsufficientDataError: no event carries a model version.
    """
    import pandas as pd

    if "model_version" not in events.columns:
        raise DataValidationError(
            "This dataset's events do not say which model version served them, so production cannot be "
            "compared by version. Import the log with a column mapped to the model_version role "
            "(e.g. --column model_version=variant)."
        )
    check(PRODUCTION_MATERIAL, material, caller="compare_production")
    versioned = events["model_version"].notna().to_numpy()
    unversioned = int((~versioned).sum())
    if not versioned.any():
        raise InsufficientDataError("No event carries a model version: nothing to compare in production.")
    frame = events[versioned] if unversioned else events
    column = frame["model_version"]
    v_codes, v_names = pd.factorize(column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype(str))
    v_codes = v_codes.astype(np.int64)
    names = [str(n) for n in v_names]
    u_codes = pd.factorize(frame["user"])[0].astype(np.int64)
    n_users, n_versions = int(u_codes.max()) + 1, len(names)
    y = (dictionary.annotate(frame["event"], frame.get("value"))["polarity"].to_numpy() > 0).astype(float)
    ts = frame["timestamp"]
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    t = ts.to_numpy().astype("datetime64[ns]").astype(np.int64)
    first = np.full(n_versions, np.iinfo(np.int64).max)
    last = np.full(n_versions, np.iinfo(np.int64).min)
    _extremes(v_codes, t, first, last)
    order = sorted(range(n_versions), key=lambda k: (first[k], names[k]))
    # Per (version, user): events and positives, in one pass.
    counts, sums = _per_group(v_codes * n_users + u_codes, y, n_versions * n_users)
    dense = len(counts) == n_versions * n_users
    session_stats = _sessions(frame, v_codes, u_codes, y, n_versions) if "session" in frame.columns else None
    outcomes = []
    for rank, k in enumerate(order, start=1):
        if dense:
            c_u, s_u = counts[k * n_users : (k + 1) * n_users], sums[k * n_users : (k + 1) * n_users]
        else:  # pragma: no cover - only past 50M (version, user) cells
            rows = v_codes == k
            c_u, s_u = _per_group(u_codes[rows], y[rows], n_users)
        rate = cluster_mean(s_u, c_u)
        served = c_u > 0
        ppu = cluster_mean(s_u[served], np.ones(int(served.sum())))
        conv: tuple[int, Score] | None = None if session_stats is None else session_stats[k]
        outcomes.append(
            VersionOutcome(
                version=names[k],
                order=rank,
                events=int(c_u.sum()),
                users=int(served.sum()),
                positives=int(s_u.sum()),
                rate=float(rate.value or 0.0),
                low=float(rate.low if rate.low is not None else rate.value or 0.0),
                high=float(rate.high if rate.high is not None else rate.value or 0.0),
                positives_per_user=float(ppu.value or 0.0),
                ppu_low=float(ppu.low if ppu.low is not None else ppu.value or 0.0),
                ppu_high=float(ppu.high if ppu.high is not None else ppu.value or 0.0),
                sessions=None if conv is None else conv[0],
                session_conversion=None if conv is None else conv[1].value,
                conversion_low=None if conv is None else conv[1].low,
                conversion_high=None if conv is None else conv[1].high,
                first_served=_utc(int(first[k])),
                last_served=_utc(int(last[k])),
            )
        )
    comparisons = [
        _compare(a, b, names, v_codes, u_codes, y, t, first, last, n_users, material, expected_split)
        for a, b in itertools.pairwise(order)
    ]
    return ProductionReport("positive feedback", float(material), tuple(outcomes), tuple(comparisons), unversioned)


def _extremes(codes: np.ndarray, t: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
    """First and last time per code, by sorting once (``ufunc.at`` is slow on millions of rows)."""
    order = np.lexsort((t, codes))
    c = codes[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    first[c[starts]] = t[order][starts]
    last[c[starts]] = t[order][ends]


def _sessions(
    frame: pd.DataFrame, v_codes: np.ndarray, u_codes: np.ndarray, y: np.ndarray, n_versions: int
) -> list[tuple[int, Score] | None]:
    """Per version: its sessions and the share with a positive outcome, clustered by user."""
    import pandas as pd

    column = frame["session"]
    if hasattr(column.array, "__arrow_array__") and not isinstance(column.dtype, pd.CategoricalDtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.array(column.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array).indices  # hashes text about twice as fast as pandas
        s_codes = pc.fill_null(encoded, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        s_codes = pd.factorize(column)[0].astype(np.int64)
    if (s_codes < 0).all():
        return [None] * n_versions
    keep = s_codes >= 0
    n_sessions = int(s_codes.max()) + 1
    key = v_codes[keep] * n_sessions + s_codes[keep]
    unique, index = np.unique(key, return_inverse=True)
    converted = np.bincount(index, weights=y[keep]) > 0
    user_of = np.zeros(len(unique), dtype=np.int64)
    user_of[index] = u_codes[keep]
    version_of = unique // n_sessions
    out: list[tuple[int, Score] | None] = []
    for k in range(n_versions):
        mine = version_of == k
        if not mine.any():
            out.append(None)
            continue
        users = user_of[mine]
        n_u = int(users.max()) + 1
        out.append(
            (
                int(mine.sum()),
                cluster_mean(
                    np.bincount(users, weights=converted[mine].astype(float), minlength=n_u),
                    np.bincount(users, minlength=n_u),
                ),
            )
        )
    return out


def _compare(
    a: int,
    b: int,
    names: Sequence[str],
    v_codes: np.ndarray,
    u_codes: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    n_users: int,
    material: float,
    expected_split: Mapping[str, float] | None,
) -> VersionComparison:
    start, end = max(first[a], first[b]), min(last[a], last[b])
    rows_a, rows_b = v_codes == a, v_codes == b
    side_by_side = False
    if start <= end:
        during = (t >= start) & (t <= end)
        share_a = (rows_a & during).sum() / rows_a.sum()
        share_b = (rows_b & during).sum() / rows_b.sum()
        side_by_side = bool(min(share_a, share_b) >= SIDE_BY_SIDE_SHARE)
    if side_by_side:
        rows = (rows_a | rows_b) & during
        period = (int(start), int(end))
    else:
        rows = rows_a | rows_b
        period = (int(min(first[a], first[b])), int(max(last[a], last[b])))
    side = (v_codes[rows] == b).astype(np.int64)
    users = u_codes[rows]
    diff, low, high, p, n_a, n_b, p_a, p_b = _difference(users, side, y[rows], n_users)
    srm = None
    if side_by_side:
        seen = np.zeros((n_users, 2), dtype=bool)
        seen[users, side] = True
        users_a, users_b = int(seen[:, 0].sum()), int(seen[:, 1].sum())
        split = dict(expected_split or {})
        wa, wb = float(split.get(names[a], 1.0)), float(split.get(names[b], 1.0))
        share = wa / (wa + wb) if wa + wb > 0 else 0.5
        total = users_a + users_b
        chi2, p_srm = stats.chisquare([users_a, users_b], [total * share, total * (1 - share)])
        srm = SampleRatio(users_a, users_b, round(share, 6), float(chi2), float(p_srm))
    return VersionComparison(
        a=names[a],
        b=names[b],
        basis="side_by_side" if side_by_side else "sequential",
        period_start=_utc(period[0]),
        period_end=_utc(period[1]),
        events_a=n_a,
        events_b=n_b,
        rate_a=round(p_a, 6),
        rate_b=round(p_b, 6),
        difference=round(diff, 6),
        low=round(low, 6),
        high=round(high, 6),
        p_value=p,
        conclusion=conclude(low, high, diff, material),
        sample_ratio=srm,
    )


def judge_production(report: ProductionReport, *, x: str = "order") -> CurveReport:
    """The verdict on the versions' online positive rate in the order they served (or by first-served day).

    Raises:
        InsufficientDataError: fewer than three served versions.
        DataValidationError: ``x`` is neither "order" nor "first_served".
    """
    from flywheel_core.curves.judge import MIN_POINTS, judge_curve

    xs, ys, sd = report.series(x)
    if len(xs) < MIN_POINTS:
        raise InsufficientDataError(
            f"{len(xs)} served version(s); a verdict on production needs {MIN_POINTS}. "
            "Keep tagging events with the version that served them."
        )
    return judge_curve(
        xs,
        ys,
        x_kind="time",
        bounds=(0.0, 1.0),
        y_sd=sd if (sd > 0).all() else None,
        x_name="versions served" if x == "order" else "days since the first version served",
        y_name="positive rate in production",
    )
