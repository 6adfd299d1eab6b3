"""Canvas lint: a map's claims held against an interaction dataset."""

from __future__ import annotations

import pandas as pd

from flywheel_core.data.analytics import profile_events
from flywheel_core.data.api import ingest_file
from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.loop.api import lint_loop_against_dataset
from flywheel_core.loop.lint import lint_loop
from flywheel_core.loop.model import LoopMap

DICTIONARY = SignalDictionary(
    events={"stream": SignalSpec("implicit", "positive", 1.0), "skip": SignalSpec("implicit", "negative", 1.0),
            "view": SignalSpec("implicit", "neutral", 0.0)}
)  # fmt: skip


def _events() -> pd.DataFrame:
    """10 days; per day: 10 streams, 5 skips, 5 views."""
    rows = []
    for day in range(10):
        for i, event in enumerate(["stream"] * 10 + ["skip"] * 5 + ["view"] * 5):
            rows.append({"user": f"u{i % 4}", "item": f"i{i}", "event": event,
                         "timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day, minutes=i)})  # fmt: skip
    return pd.DataFrame(rows)


def _map(signals: list[dict]) -> LoopMap:
    return LoopMap.from_json({"name": "Claims", "signals": signals})


def test_lint_flags_a_listed_signal_absent_from_the_data_and_unmapped_events() -> None:
    report = lint_loop(
        _map([{"name": "save", "kind": "explicit"}, {"name": "stream"}]),
        profile_events(_events(), DICTIONARY),
        DICTIONARY,
        dataset="log",
    )
    by = {(f.check, f.subject): f for f in report.findings}
    assert not by[("signal_absent", "save")].ok and "never appears in 'log'" in by[("signal_absent", "save")].message
    assert not by[("signal_unmapped", "skip")].ok and ("signal_unmapped", "stream") not in by


def test_lint_compares_claimed_volume_per_day_with_measured() -> None:
    signals = [{"name": "stream", "volume_per_day": 11}, {"name": "skip", "polarity": "negative", "volume_per_day": 500},
               {"name": "view", "polarity": "neutral", "volume_per_day": 5}]  # fmt: skip
    report = lint_loop(_map(signals), profile_events(_events(), DICTIONARY), DICTIONARY)
    volume = {f.subject: f for f in report.findings if f.check == "volume"}
    assert volume["stream"].ok and volume["view"].ok
    assert not volume["skip"].ok and volume["skip"].claimed == "500/day" and volume["skip"].measured == "5/day"


def test_lint_compares_claimed_feedback_coverage_with_measured() -> None:
    honest = [{"name": "stream", "volume_per_day": 10}, {"name": "skip", "polarity": "negative", "volume_per_day": 5},
              {"name": "view", "polarity": "neutral", "volume_per_day": 5}]  # fmt: skip
    report = lint_loop(_map(honest), profile_events(_events(), DICTIONARY), DICTIONARY)
    coverage = next(f for f in report.findings if f.check == "feedback_coverage")
    assert coverage.ok and coverage.claimed == coverage.measured == "75%"
    rosy = [{"name": "stream", "volume_per_day": 10}, {"name": "skip", "polarity": "negative", "volume_per_day": 5}]
    coverage = next(
        f
        for f in lint_loop(_map(rosy), profile_events(_events(), DICTIONARY), DICTIONARY).findings
        if f.check == "feedback_coverage"
    )
    assert not coverage.ok and coverage.claimed == "100%"


def test_lint_flags_a_signal_whose_meaning_disagrees_with_the_dictionary() -> None:
    report = lint_loop(
        _map([{"name": "skip", "polarity": "positive"}]), profile_events(_events(), DICTIONARY), DICTIONARY
    )
    meaning = next(f for f in report.findings if f.check == "signal_meaning")
    assert meaning.claimed == "implicit positive" and meaning.measured == "implicit negative"


def test_lint_against_a_stored_dataset(store, workspace_id) -> None:
    csv = _events().assign(timestamp=lambda f: f["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(index=False)
    ingest_file(store, workspace_id=workspace_id, source=csv.encode(), dataset="log", actor="alice",
                signals={"view": SignalSpec("implicit", "neutral", 0.0)}, source_name="log.csv")  # fmt: skip
    loop_map = _map([{"name": "stream", "volume_per_day": 10}])
    report = lint_loop_against_dataset(store, workspace_id=workspace_id, loop_map=loop_map, dataset="log", actor="a")
    assert report.events == 200 and report.days == 10 and report.dataset == "log"
    assert {f.subject for f in report.problems} == {"skip", "view", "map"}
    assert report.to_json()["problems"] == 3
