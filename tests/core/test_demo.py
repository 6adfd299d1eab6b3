"""Demo archetypes: deterministic, sized by a parameter, and carrying their mechanisms."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_core.demo import ARCHETYPES, DEMO_SIGNALS, load_demo_workspace, make_demo_events
from flywheel_core.exceptions import DataValidationError
from flywheel_core.storage.store import Store


@pytest.mark.parametrize("archetype", sorted(ARCHETYPES))
def test_demo_events_are_deterministic_and_sized(archetype: str) -> None:
    first = make_demo_events(archetype, 5_000, random_state=3)
    again = make_demo_events(archetype, 5_000, random_state=3)
    other = make_demo_events(archetype, 5_000, random_state=4)
    assert first.equals(again)
    assert not first.equals(other)
    assert 5_000 <= len(first) <= 5_100
    assert {"user", "item", "timestamp", "event"} <= set(first.columns)
    assert set(first["event"].unique()) <= set(DEMO_SIGNALS[archetype])
    assert first["timestamp"].is_monotonic_increasing
    assert str(first["timestamp"].dt.tz) == "UTC"


def test_demo_size_is_checked() -> None:
    with pytest.raises(DataValidationError, match="between 1,000 and 5,000,000"):
        make_demo_events("music", 10)
    with pytest.raises(DataValidationError, match="Unknown demo archetype"):
        make_demo_events("nope", 1_000)


def test_music_audience_grows_and_support_does_not() -> None:
    music = make_demo_events("music", 20_000)
    support = make_demo_events("support", 20_000)

    def growth(frame):
        weeks = frame["timestamp"].dt.isocalendar().week
        counts = frame.groupby(weeks).size()
        return counts.iloc[-4:].mean() / counts.iloc[:4].mean()

    assert growth(music) > 4.0
    assert growth(support) < 2.0


def test_backward_loop_feeds_more_of_its_own_output_over_time() -> None:
    frame = make_demo_events("backward", 20_000)
    own = frame["event"].str.startswith("auto_")
    halves = np.array_split(own.to_numpy(), 2)
    assert halves[1].mean() > 2 * halves[0].mean()


def test_support_ratings_cluster_at_the_extremes() -> None:
    frame = make_demo_events("support", 20_000)
    ratings = frame.loc[frame["event"] == "rating", "value"]
    assert ratings.isin([1, 5]).mean() > 0.5


def test_load_demo_is_idempotent(store: Store) -> None:
    first = load_demo_workspace(store, actor="local", n_events=1_000)
    second = load_demo_workspace(store, actor="local", n_events=1_000)
    assert len(first.datasets_created) == 4
    assert second.datasets_created == () and len(second.datasets_kept) == 4
    workspace = store.get_workspace(name="Demo")
    assert len(store.list_datasets(workspace_id=workspace.id)) == 4
    third = load_demo_workspace(store, actor="local", n_events=2_000)  # another size replaces the data
    assert len(third.datasets_created) == 4
    assert {d.rows >= 2_000 for d in store.list_datasets(workspace_id=workspace.id)} == {True}
