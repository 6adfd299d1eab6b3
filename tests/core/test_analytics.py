"""Analytics agree with brute-force computations on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data import analytics
from flywheel_core.data.signals import SignalDictionary, SignalSpec, default_dictionary
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import InsufficientDataError
from flywheel_core.experiments.common import curate_events


def _dictionary(archetype: str, events: pd.DataFrame) -> SignalDictionary:
    dictionary = default_dictionary(sorted(events["event"].unique()))
    for event, spec in DEMO_SIGNALS[archetype].items():
        dictionary = dictionary.with_signal(event, SignalSpec(*spec))
    return dictionary


@pytest.fixture(scope="module")
def music() -> pd.DataFrame:
    return make_demo_events("music", 4_000, random_state=11)


def test_rolling_actives_match_brute_force(music: pd.DataFrame) -> None:
    result = analytics.active_users(music).daily
    day = music["timestamp"].dt.floor("D")
    for i in (0, 10, len(result) // 2, len(result) - 1):
        when = result["date"].iloc[i]
        for window, column in ((1, "dau"), (7, "wau"), (30, "mau")):
            mask = (day <= when) & (day > when - pd.Timedelta(days=window))
            assert result[column].iloc[i] == music.loc[mask, "user"].nunique(), (column, i)


def test_dau_mau_is_mean_dau_of_last_30_days_over_mau(music: pd.DataFrame) -> None:
    result = analytics.active_users(music)
    daily = result.daily
    assert result.dau_mau == pytest.approx(daily["dau"].iloc[-30:].mean() / daily["mau"].iloc[-1])
    assert 0 < result.dau_mau <= 1


def test_profile_shares_and_counts(music: pd.DataFrame) -> None:
    dictionary = _dictionary("music", music)
    profile = analytics.profile_events(music, dictionary)
    assert profile.events == len(music) and profile.users == music["user"].nunique()
    assert profile.explicit_share == pytest.approx(music["event"].isin(["save", "thumbs_down"]).mean())
    assert profile.explicit_share + profile.implicit_share == pytest.approx(1.0)
    assert profile.feedback_coverage == 1.0  # every music event carries a polarity
    assert sum(profile.event_counts.values()) == len(music)


def test_thirty_second_rule_turns_short_streams_into_skips() -> None:
    events = pd.DataFrame({"event": ["stream", "stream", "skip"], "value": [12.0, 95.0, 3.0]})
    annotated = default_dictionary(["stream", "skip"]).annotate(events["event"], events["value"])
    assert annotated["polarity"].tolist() == [-1, 1, -1]


def test_retention_cohorts_match_brute_force(music: pd.DataFrame) -> None:
    cohorts = analytics.retention_cohorts(music, max_weeks=4)
    week = (music["timestamp"].dt.floor("D") - music["timestamp"].dt.floor("D").min()).dt.days // 7
    first = week.groupby(music["user"]).transform("min")
    second = cohorts.iloc[1]
    cohort_week = int((second["cohort"] - cohorts["cohort"].iloc[0]).days // 7)
    members = set(music.loc[first == cohort_week, "user"])
    assert second["users"] == len(members)
    back = set(music.loc[(first == cohort_week) & (week == cohort_week + 1), "user"])
    assert second["week 1"] == pytest.approx(len(back) / len(members))
    assert (cohorts["week 0"] == 1.0).all()


def test_new_vs_returning_counts_each_user_new_once(music: pd.DataFrame) -> None:
    frame = analytics.new_vs_returning(music)
    assert frame["new"].sum() == music["user"].nunique()


def test_long_tail_head_share_and_coverage() -> None:
    events = pd.DataFrame(
        {
            "user": list("abcdefghij"),
            "timestamp": pd.date_range("2026-01-01", periods=10, tz="UTC"),
            "event": ["click"] * 9 + ["skip"],
            "item": ["x"] * 8 + ["y", "z"],
        }
    )
    result = analytics.item_long_tail(events, default_dictionary(["click", "skip"]))
    assert result.items == 3
    assert result.head_share == pytest.approx(0.8)  # top 20% of 3 items = 1 item = 8 of 10 events
    assert result.catalog_coverage == pytest.approx(2 / 3)  # z only ever skipped
    assert result.top_items["item"].tolist()[0] == "x"


def test_rating_bias_measures_extremes() -> None:
    support = make_demo_events("support", 5_000)
    result = analytics.rating_bias(support, _dictionary("support", support))
    assert result.extreme_share > 0.5 and result.bias > 1.0
    with pytest.raises(InsufficientDataError, match="No explicit ratings"):
        music = make_demo_events("music", 2_000)
        analytics.rating_bias(music, _dictionary("music", music))


def test_user_outliers_flag_the_built_bots_by_behaviour(music: pd.DataFrame) -> None:
    flagged = analytics.user_outliers(music)
    n_listeners = max(60, 4_000 // 60)  # the demo numbers its bots after its listeners
    built = {u for u in music["user"].unique() if int(u[1:]) >= n_listeners}
    assert set(flagged.loc[flagged["bot_like"], "user"]) == built and len(built) >= 3
    bots = flagged[flagged["bot_like"]]
    assert (bots["gap_cv"] < analytics.BOT_GAP_CV).all() and (bots["top_item_share"] >= 0.5).all()
    assert (flagged["outlier"] == flagged["bot_like"]).all()
    profile = analytics.profile_events(music, _dictionary("music", music))
    assert profile.bot_like_users == len(built) and profile.outlier_users == len(built)
    shown = profile.to_json()
    assert shown["bot_like_users"] == len(built) and shown["heavy_users"] == profile.heavy_users
    assert shown["bot_rule"] == analytics.BOT_RULE and "never makes a user bot-like" in shown["bot_rule"]


def _purchases(n_customers: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """18 months of an online shop: most customers buy once or twice, the best ones 10 to 60 times, at
    irregular times (days to months apart), across a catalogue of thousands of products."""
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(n_customers) < 0.1, rng.integers(10, 61, n_customers), rng.integers(1, 3, n_customers))
    user = np.repeat(np.arange(n_customers), counts)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    seconds = rng.uniform(0, 540 * 86_400, len(user))  # 18 months
    return pd.DataFrame(
        {
            "user": np.char.add("c", user.astype(str)),
            "item": np.char.add("p", rng.integers(0, 5_000, len(user)).astype(str)),
            "timestamp": start + pd.to_timedelta(np.round(seconds), unit="s"),
            "event": "purchase",
        }
    ).sort_values("timestamp", kind="stable", ignore_index=True)


def test_honest_heavy_customers_are_heavy_not_bots() -> None:
    shop = _purchases()
    flagged = analytics.user_outliers(shop)
    best = flagged[flagged["events"] >= 10]
    assert len(best) > 250 and flagged["heavy"].sum() > 100  # volume alone flags many of the best customers
    assert flagged["bot_like"].sum() == 0  # behaviour flags none of them
    profile = analytics.profile_events(shop, default_dictionary(["purchase"]))
    assert profile.bot_like_users == 0 and profile.heavy_users == int(flagged["heavy"].sum())
    curated, keep = curate_events(shop)
    assert keep.all() and len(curated) == len(shop)  # curation keeps every one of them


def test_bot_signs_match_brute_force() -> None:
    start = pd.Timestamp("2026-03-02 08:00", tz="UTC")
    bot = [start + pd.Timedelta(seconds=32 * i) for i in range(30)]  # every 32 s on one track, 15 minutes
    person = [
        start + pd.Timedelta(minutes=m) for m in (0, 3, 4, 11, 12, 40, 41, 45, 300, 301, 307, 308, 315, 316, 2_000)
    ]
    frame = pd.DataFrame(
        {
            "user": ["bot"] * len(bot) + ["ann"] * len(person),
            "item": ["t1"] * len(bot) + [f"t{i}" for i in range(len(person))],
            "timestamp": bot + person,
            "event": "stream",
        }
    )
    flagged = analytics.user_outliers(frame).set_index("user")
    assert flagged.loc["bot", "gap_cv"] == 0.0 and flagged.loc["bot", "top_item_share"] == 1.0
    assert flagged.loc["bot", "events_per_active_minute"] == pytest.approx(30 / 16)  # 30 plays over 16 minutes
    assert flagged.loc["bot", "longest_session_hours"] == pytest.approx(29 * 32 / 3600, abs=1e-3)
    assert flagged.loc["bot", "bot_signs"] == 2 and flagged.loc["bot", "bot_like"]
    gaps = np.array([3, 1, 7, 1, 28, 1, 4, 1, 6, 1, 7, 1]) * 60.0  # ann's gaps within sessions (a pause: 30 min)
    assert flagged.loc["ann", "gap_cv"] == pytest.approx(gaps.std(ddof=1) / gaps.mean(), abs=1e-3)
    assert flagged.loc["ann", "longest_session_hours"] == pytest.approx(45 / 60)
    assert not flagged.loc["ann", "bot_like"]  # too few events to judge, and no sign of a bot anyway
    assert flagged.loc["ann", "bot_signs"] == 0


def test_curation_removes_bots_and_exact_duplicates_only(music: pd.DataFrame) -> None:
    heavy_listener = music["user"].value_counts().index[0]
    curated, keep = curate_events(music)
    bots = set(analytics.user_outliers(music).query("bot_like")["user"])
    assert heavy_listener not in bots and heavy_listener in set(curated["user"])
    assert not set(curated["user"]) & bots
    duplicates = music[~music["user"].isin(bots)].duplicated(subset=["user", "item", "timestamp", "event"]).sum()
    assert duplicates > 0 and (~keep).sum() == music["user"].isin(bots).sum() + duplicates


def test_empty_selection_is_a_clear_error(music: pd.DataFrame) -> None:
    empty = analytics.filter_dates(music, pd.Timestamp("2030-01-01", tz="UTC"), None)
    with pytest.raises(InsufficientDataError, match="no events in this selection"):
        analytics.profile_events(empty, default_dictionary([]))


def test_filtered_stored_dataset_counts_only_what_is_in_the_range(store, workspace_id) -> None:
    from flywheel_core.data.api import store_frame

    frame = make_demo_events("music", 4_000, random_state=5)
    store_frame(store, workspace_id=workspace_id, frame=frame, dataset="m", actor="t")
    events = store.read_events(workspace_id=workspace_id, name="m")
    assert isinstance(events["user"].dtype, pd.CategoricalDtype)  # stored events come back categorical
    cut = events["timestamp"].quantile(0.2)
    late = analytics.filter_dates(events, None, cut)  # the early weeks: the audience was smaller
    dictionary = _dictionary("music", late)
    profile = analytics.profile_events(late, dictionary)
    assert profile.users == late["user"].astype(str).nunique() < events["user"].nunique()
    assert profile.items == late["item"].astype(str).nunique()
    tail = analytics.item_long_tail(late, dictionary)
    assert tail.items == profile.items and tail.curve["item_share"].iloc[-1] == pytest.approx(1.0)
    outliers = analytics.user_outliers(late)
    assert len(outliers) == profile.users and (outliers["events"] > 0).all()
