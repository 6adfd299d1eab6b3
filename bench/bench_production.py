"""Production benchmark: the comparison by logged version on 5M events, and off-policy evaluation on 1M.

- production: ``compare_production`` (per version: events, users, positives, the positive rate with its
  user-clustered interval, positives per user; consecutive versions' differences with a cluster-robust
  variance; the sample-ratio check) on 5M events of three versions, with and without a session column;
- reference: a bare pandas groupby computing the same per-version rates and cluster-robust intervals
  (one groupby by version and user, then sums by version), no comparisons;
- offpolicy: ``evaluate_policy`` (context found from the data, IPS / SNIPS / DR, 500 bootstrap resamples of
  users) on the 1M-event production demo.

    python bench/run.py production
    BENCH_PRODUCTION_EVENTS=1000000 python bench/run.py production
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from common import Figure, median_time, report

N_EVENTS = int(os.environ.get("BENCH_PRODUCTION_EVENTS", "5000000"))
N_OPE = int(os.environ.get("BENCH_OPE_EVENTS", "1000000"))


def _log(n: int, random_state: int = 0) -> pd.DataFrame:
    """Events as a stored dataset reads back: categorical ids and events, a text session, UTC times."""
    rng = np.random.default_rng(random_state)
    n_users = n // 20
    user = rng.integers(0, n_users, n)
    t = np.sort(rng.uniform(0, 8 * 7 * 86_400, n)).astype("int64")
    version = np.where(t < 2 * 7 * 86_400, 0, np.where(t < 4 * 7 * 86_400, user % 2, 1 + user % 2))
    click = rng.random(n) < 0.3 + 0.02 * version
    return pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(user, [f"u{i}" for i in range(n_users)]),
            "timestamp": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(t, unit="s"),
            "event": pd.Categorical.from_codes(click.astype(np.int8), ["skip", "click"]),
            "model_version": pd.Categorical.from_codes(version, ["v1", "v2", "v3"]),
            "session": pd.Series(user * 100 + t // 86_400).astype(str),
        }
    )


def _reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The bare pandas computation of each version's rate and its user-clustered 95% interval."""
    from scipy import stats

    y = frame["event"].eq("click").astype(float)
    cells = y.groupby([frame["model_version"], frame["user"]], observed=True).agg(["size", "sum"])
    by_version = cells.groupby(level=0, observed=True)
    n, positives, users = by_version["size"].sum(), by_version["sum"].sum(), by_version.size()
    rate = positives / n
    resid = cells["sum"] - rate.reindex(cells.index.get_level_values(0)).to_numpy() * cells["size"]
    var = (resid**2).groupby(level=0, observed=True).sum() / n**2 * users / (users - 1)
    half = stats.t.ppf(0.975, users - 1) * np.sqrt(var)
    return pd.DataFrame({"rate": rate, "low": rate - half, "high": rate + half})


def main() -> None:
    from flywheel_core.data.signals import SignalDictionary, SignalSpec
    from flywheel_core.demo_production import PRODUCTION_SIGNALS, make_production_events
    from flywheel_core.learning.offpolicy import evaluate_policy
    from flywheel_core.learning.production import compare_production

    signals = SignalDictionary(events={k: SignalSpec(*v) for k, v in PRODUCTION_SIGNALS.items()})
    frame = _log(N_EVENTS)
    bare = frame.drop(columns=["session"])
    check = compare_production(bare, signals)
    ref = _reference(bare)
    assert np.allclose([v.rate for v in check.versions], ref["rate"].to_numpy(), atol=1e-6)
    figures = [
        Figure(
            f"production comparison, {N_EVENTS / 1e6:g}M events",
            median_time(lambda: compare_production(bare, signals), repeat=3),
            reference="bare pandas groupby (rates and intervals only)",
            reference_seconds=median_time(lambda: _reference(bare), repeat=3),
            rows=N_EVENTS,
            target="< 2 s",
        ),
        Figure(
            f"  with per-session conversion, {N_EVENTS / 1e6:g}M",
            median_time(lambda: compare_production(frame, signals), repeat=3),
            rows=N_EVENTS,
        ),
    ]
    demo = make_production_events(N_OPE)
    figures.append(
        Figure(
            f"off-policy IPS/SNIPS/DR + 500 bootstraps, {N_OPE / 1e6:g}M",
            median_time(lambda: evaluate_policy(demo.events, signals, policy="ranker-v2", on=["ranker-v1"]), repeat=3),
            rows=N_OPE,
        )
    )
    report("Production evidence", figures)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
