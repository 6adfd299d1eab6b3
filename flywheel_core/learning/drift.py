"""Drift between turns: has turn k met a different population than turns 1..k-1, beyond sampling noise?

The population stability index compares two distributions over the same bins,
PSI = sum over bins of (cur - ref) * ln(cur / ref). The industry reads it as: below 0.1 stable, 0.1 to 0.25
a moderate shift, above 0.25 a major shift. Read raw, it alarms on noise: two samples of one population
have a PSI of about (bins - 1) * (1/n_ref + 1/n_cur) on average, since (1/n_ref + 1/n_cur)^-1 * PSI is
asymptotically chi-square with bins - 1 degrees of freedom (PSI is the symmetric Kullback-Leibler
divergence, whose second-order term is Pearson's two-sample statistic). Hence the **alarm rule**:

- bins come from the reference (its deciles for a number, its levels for a category) and adjacent bins
  are merged until each expects at least :data:`MIN_BIN_ROWS` (effective) rows in the smaller sample; a
  distribution left with one bin is not tested (its PSI is None, its name in ``untested``);
- a distribution **shifts** only when both hold: its PSI exceeds the chi-square critical value at a
  family-wise false-alarm rate of :data:`ALARM_LEVEL` per turn (Bonferroni over the distributions tested),
  so noise alone rarely alarms; and its PSI less the expected noise (the bias above) exceeds 0.1
  ("moderate") or 0.25 ("major"), so a tiny but significant difference in a large log is no alarm either;
- with ``groups`` (users), sample sizes are Kish's effective sizes n^2 / sum(rows per user^2), the bound
  for rows of one user that all move together.

What is compared: the feedback task's **mapped features** (the ``f_*`` columns, a categorical's one-hot
columns as one distribution) and its **target rate**. History features (user_/item_ counts and rates
*before* an event) grow and spread with the log by construction: they are not drift and are left out.
The recommendation task's drift compares which items the positive interactions go to and the positive rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "ALARM_LEVEL",
    "MAJOR_SHIFT",
    "MIN_BIN_ROWS",
    "MODERATE_SHIFT",
    "PsiTest",
    "merge_bins",
    "psi",
    "psi_binary",
    "psi_test",
    "recommend_drift",
    "turn_drift",
]

MODERATE_SHIFT = 0.1
MAJOR_SHIFT = 0.25
MIN_BIN_ROWS = 30  # rows a bin must expect in the smaller sample
ALARM_LEVEL = 0.01  # chance per turn that sampling noise alone raises an alarm
SHIFTS = ("none", "moderate", "major")
_EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = 10) -> float:
    """The raw population stability index of ``current`` against ``reference`` (decile bins of the reference).

    No merging of small bins and no allowance for noise: :func:`psi_test` is the one to alarm on.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    ref, cur = _numeric_counts(reference, current, bins)
    return _psi(ref / len(reference), cur / len(current))


def psi_binary(reference_rate: float, current_rate: float) -> float:
    """PSI of a 0/1 target whose positive rate moved from ``reference_rate`` to ``current_rate``."""
    return _psi(np.array([1 - reference_rate, reference_rate]), np.array([1 - current_rate, current_rate]))


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    ref, cur = np.maximum(ref, _EPS), np.maximum(cur, _EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _numeric_counts(reference: np.ndarray, current: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples in the reference's quantile bins, in value order."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    size = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=size)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=size)
    return ref.astype(float), cur.astype(float)


def merge_bins(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    min_rows: int = MIN_BIN_ROWS,
    design_effect: tuple[float, float] = (1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent bins until each expects ``min_rows`` rows in the smaller sample.

    The expectation is the reference share times the smaller sample's (effective) size, so the bins
    depend on the reference alone (never on the sample under test). A short last group joins the one
    before it.
    """
    ref, cur = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    n_ref, n_cur = ref.sum(), cur.sum()
    if n_ref == 0 or n_cur == 0:
        return ref[:0], cur[:0]
    expected = ref / n_ref * _smaller(n_ref, n_cur, design_effect)
    group = np.zeros(len(ref), dtype=np.int64)
    current, filled = 0, 0.0
    for b, e in enumerate(expected):  # a handful of bins: deciles or a categorical's top levels
        group[b] = current
        filled += e
        if filled >= min_rows:
            current, filled = current + 1, 0.0
    if filled < min_rows and current > 0:  # the short last group joins the one before it
        group[group == current] = current - 1
    return np.bincount(group, weights=ref), np.bincount(group, weights=cur)


def _smaller(n_ref: float, n_cur: float, design_effect: tuple[float, float]) -> float:
    """The smaller of the two samples' effective sizes."""
    return min(n_ref / max(design_effect[0], 1.0), n_cur / max(design_effect[1], 1.0))


@dataclass(frozen=True)
class PsiTest:
    """One distribution of one turn against the turns before it."""

    psi: float | None  # on the merged bins; None when fewer than two bins have enough rows
    bins: int
    bias: float  # the PSI that sampling noise alone gives on average
    critical: float  # the PSI that sampling noise alone exceeds with probability level / tests
    shift: str  # "none", "moderate" or "major"

    @property
    def tested(self) -> bool:
        return self.psi is not None


def psi_test(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    tests: int = 1,
    level: float = ALARM_LEVEL,
    design_effect: tuple[float, float] = (1.0, 1.0),
    min_rows: int = MIN_BIN_ROWS,
) -> PsiTest:
    """PSI of merged bins and whether it is a shift beyond noise (the rule in the module docstring).

    ``tests`` is the number of distributions tested in the turn (Bonferroni); ``design_effect`` divides
    each side's rows into its effective size (1 for independent rows).
    """
    ref, cur = merge_bins(ref_counts, cur_counts, min_rows=min_rows, design_effect=design_effect)
    if len(ref) < 2:
        return PsiTest(None, len(ref), 0.0, 0.0, "none")
    n_ref = float(ref.sum()) / max(design_effect[0], 1.0)
    n_cur = float(cur.sum()) / max(design_effect[1], 1.0)
    value = _psi(ref / ref.sum(), cur / cur.sum())
    scale = 1.0 / n_ref + 1.0 / n_cur
    bias = (len(ref) - 1) * scale
    critical = float(stats.chi2.isf(level / max(tests, 1), len(ref) - 1)) * scale
    excess = value - bias
    shift = "none"
    if value > critical:
        shift = "major" if excess > MAJOR_SHIFT else "moderate" if excess > MODERATE_SHIFT else "none"
    return PsiTest(round(value, 4), len(ref), round(float(bias), 4), round(float(critical), 4), shift)


def _design_effect(groups: np.ndarray | None, rows: np.ndarray) -> float:
    """Kish's bound: rows / effective rows when every row of a group moves together."""
    if groups is None or len(rows) == 0:
        return 1.0
    members = groups[rows]
    if np.issubdtype(members.dtype, np.integer) and members.min() >= 0:  # codes: a count per code is cheaper
        per_group = np.bincount(members).astype(float)
    else:
        per_group = np.unique(members, return_counts=True)[1].astype(float)
    return float((per_group**2).sum() / per_group.sum())


def _thin(rows: np.ndarray, max_rows: int) -> np.ndarray:
    return rows[:: max(1, len(rows) // max_rows)]


def _binary_counts(flags: np.ndarray) -> np.ndarray:
    positives = float(np.count_nonzero(flags))
    return np.array([len(flags) - positives, positives])


def _categorical_counts(ref: np.ndarray, cur: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per level, levels in order of reference share (largest first), so rare levels merge together."""
    ref_counts = np.bincount(ref, minlength=levels).astype(float)
    cur_counts = np.bincount(cur, minlength=levels).astype(float)
    order = np.argsort(-ref_counts, kind="stable")
    return ref_counts[order], cur_counts[order]


def _mapped_counts(
    X: np.ndarray, ref_rows: np.ndarray, cur_rows: np.ndarray, feature_names: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Counts of each mapped feature: numbers in reference deciles, a one-hot family as one categorical."""
    families: dict[str, list[int]] = {}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, name in enumerate(feature_names):
        if not name.startswith("f_"):
            continue
        if "=" in name:
            families.setdefault(name.split("=", 1)[0], []).append(j)
        else:
            out[name] = _numeric_counts(X[ref_rows, j], X[cur_rows, j], 10)
    for family, members in families.items():
        columns = np.asarray(members)

        def level(rows: np.ndarray, columns: np.ndarray = columns) -> np.ndarray:
            """The hot column of each row, or len(columns) for a level outside the one-hot top levels."""
            block = X[np.ix_(rows, columns)] > 0.5
            return np.where(block.any(axis=1), block.argmax(axis=1), len(columns))

        out[family] = _categorical_counts(level(ref_rows), level(cur_rows), len(columns) + 1)
    return out


def _summary(
    tests: dict[str, PsiTest], *, target: str, rows_before: int, rows_turn: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """The drift dict a version carries (the compare page and the report read its keys)."""
    features = {name: t.psi for name, t in tests.items() if name != target}
    tested = [name for name, value in features.items() if value is not None]
    worst = max(tested, key=lambda n: features[n] or 0.0) if tested else ""
    shifted = {name: t.shift for name, t in tests.items() if t.shift != "none"}
    shift = max((t.shift for t in tests.values()), key=SHIFTS.index, default="none")
    return {
        "shift": shift,
        "shifted": shifted,
        "target_psi": tests[target].psi,
        **extra,
        "max_feature_psi": features[worst] if worst else None,
        "max_feature": worst,
        "max_feature_noise_psi": tests[worst].critical if worst else None,
        "features": features,
        "untested": sorted(name for name, t in tests.items() if not t.tested),
        "rows_before": rows_before,
        "rows_turn": rows_turn,
    }


def _run_tests(
    counts: dict[str, tuple[np.ndarray, np.ndarray]],
    effects: dict[str, tuple[float, float]],
    *,
    level: float,
    min_rows: int,
) -> dict[str, PsiTest]:
    """Test every distribution, Bonferroni over those that have at least two bins."""
    one = (1.0, 1.0)
    testable = sum(
        len(merge_bins(r, c, min_rows=min_rows, design_effect=effects.get(name, one))[0]) >= 2
        for name, (r, c) in counts.items()
    )
    return {
        name: psi_test(r, c, tests=testable, level=level, design_effect=effects.get(name, one), min_rows=min_rows)
        for name, (r, c) in counts.items()
    }


def turn_drift(
    X: np.ndarray,
    y: np.ndarray,
    turn: np.ndarray,
    k: int,
    feature_names: Sequence[str],
    *,
    max_rows: int = 200_000,
    min_rows: int = MIN_BIN_ROWS,
    level: float = ALARM_LEVEL,
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """How far turn ``k``'s feedback examples moved from turns 1..k-1: mapped features and the target rate.

    Returns ``{}`` when either side is empty, else ``shift`` ("none", "moderate" or "major": the largest
    shift beyond noise), ``shifted`` (the distributions that shifted), ``target_psi``, the target rates,
    ``max_feature_psi`` / ``max_feature`` (the largest feature PSI), ``max_feature_noise_psi`` (what noise
    alone could give that feature), ``features`` (PSI per mapped feature, None when not testable),
    ``untested``, ``rows_before`` and ``rows_turn``. At most ``max_rows`` rows of each side are binned for
    the features (an even, deterministic thinning); ``groups`` (user per row) makes sizes effective ones.
    """
    ref_mask, cur_mask = turn < k, turn == k
    if not ref_mask.any() or not cur_mask.any():
        return {}
    ref_all, cur_all = np.flatnonzero(ref_mask), np.flatnonzero(cur_mask)
    ref_rows, cur_rows = _thin(ref_all, max_rows), _thin(cur_all, max_rows)
    counts = _mapped_counts(X, ref_rows, cur_rows, feature_names)
    thinned = (_design_effect(groups, ref_rows), _design_effect(groups, cur_rows))
    effects = dict.fromkeys(counts, thinned)
    counts["target"] = (_binary_counts(y[ref_all]), _binary_counts(y[cur_all]))
    effects["target"] = (_design_effect(groups, ref_all), _design_effect(groups, cur_all))
    tests = _run_tests(counts, effects, level=level, min_rows=min_rows)
    extra = {
        "target_rate_before": round(float(np.mean(y[ref_all])), 4),
        "target_rate_turn": round(float(np.mean(y[cur_all])), 4),
    }
    return _summary(tests, target="target", rows_before=len(ref_all), rows_turn=len(cur_all), extra=extra)


def _item_counts(
    ref: np.ndarray, cur: np.ndarray, min_rows: int, design_effect: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the items common enough before to stand alone, then one bin for every other item.

    An item stands alone when it expects ``min_rows`` rows in the smaller sample; the rest, items new in
    the turn included, share the last bin, so a long tail of rare items compares as one share. (Ordering
    items by their sampled popularity and binning that order would favour the reference by construction.)
    """
    size = int(max(ref.max(), cur.max())) + 1
    ref_counts = np.bincount(ref, minlength=size).astype(float)
    cur_counts = np.bincount(cur, minlength=size).astype(float)
    alone = ref_counts / len(ref) * _smaller(len(ref), len(cur), design_effect) >= min_rows
    order = np.flatnonzero(alone)[np.argsort(-ref_counts[alone], kind="stable")]
    rest = ~alone
    return (
        np.append(ref_counts[order], ref_counts[rest].sum()),
        np.append(cur_counts[order], cur_counts[rest].sum()),
    )


def recommend_drift(
    user: np.ndarray,
    item: np.ndarray,
    turn: np.ndarray,
    k: int,
    *,
    positive: np.ndarray,
    min_rows: int = MIN_BIN_ROWS,
    level: float = ALARM_LEVEL,
) -> dict[str, Any]:
    """How far turn ``k``'s interactions moved from turns 1..k-1, for the recommendation task.

    ``user``, ``item`` (integer codes) and ``turn`` are per event, ``positive`` marks the positive
    interactions. Compared: ``items``, which items the positive interactions went to (each item common
    enough before in its own bin, every other item in one), and the target, the positive rate of the
    events. Rows of one user are not independent: sizes are Kish's effective sizes by user. User activity
    is not compared: interactions per user in a turn depend on the turn's length and on users' lifetimes
    by construction, as history counts do. Same keys as :func:`turn_drift`.
    """
    ref_mask, cur_mask = turn < k, turn == k
    if not ref_mask.any() or not cur_mask.any():
        return {}
    ref_pos, cur_pos = np.flatnonzero(ref_mask & positive), np.flatnonzero(cur_mask & positive)
    counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    effects: dict[str, tuple[float, float]] = {}
    if len(ref_pos) and len(cur_pos):
        effects["items"] = (_design_effect(user, ref_pos), _design_effect(user, cur_pos))
        counts["items"] = _item_counts(item[ref_pos], item[cur_pos], min_rows, effects["items"])
    counts["target"] = (_binary_counts(positive[ref_mask]), _binary_counts(positive[cur_mask]))
    ref_all, cur_all = np.flatnonzero(ref_mask), np.flatnonzero(cur_mask)
    effects["target"] = (_design_effect(user, ref_all), _design_effect(user, cur_all))
    tests = _run_tests(counts, effects, level=level, min_rows=min_rows)
    extra = {
        "target_rate_before": round(float(np.mean(positive[ref_all])), 4),
        "target_rate_turn": round(float(np.mean(positive[cur_all])), 4),
    }
    return _summary(tests, target="target", rows_before=len(ref_all), rows_turn=len(cur_all), extra=extra)
