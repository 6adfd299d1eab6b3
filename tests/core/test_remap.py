"""Re-map a stored dataset's meanings without re-upload; value rules; signal weights as sample weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data import api as data_api
from flywheel_core.data.signals import SignalDictionary, SignalSpec, parse_rule_option
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.learning.api import run_training
from flywheel_core.learning.registry import version_infos
from flywheel_core.learning.turns import build_feedback_task
from flywheel_core.storage.store import Store


def _plays(n: int = 1_500) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "user": [f"u{u}" for u in rng.integers(0, 60, n)],
            "item": [f"i{i}" for i in rng.integers(0, 30, n)],
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, 10**7, n)), "s"),
            "event": rng.choice(["stream", "save"], n, p=[0.8, 0.2]),
            "value": rng.uniform(0, 240, n).round(),
        }
    )


def test_rules_read_from_the_command_line_form() -> None:
    rule = parse_rule_option("purchase: value >= 50 -> positive:4")
    assert (rule.event, rule.op, rule.threshold, rule.polarity, rule.weight) == (
        "purchase",
        ">=",
        50.0,
        "positive",
        4.0,
    )
    with pytest.raises(DataValidationError, match="expected 'EVENT: value OP NUMBER"):
        parse_rule_option("stream < 30")


def test_remap_makes_a_new_dictionary_version_and_keeps_what_earlier_versions_used(
    store: Store, workspace_id: int
) -> None:
    signals = {"stream": SignalSpec("implicit", "positive", 1.0), "save": SignalSpec("explicit", "positive", 3.0)}
    data_api.store_frame(store, workspace_id=workspace_id, frame=_plays(), dataset="plays", actor="a", signals=signals)
    before = data_api.get_dataset(store, workspace_id=workspace_id, name="plays", actor="a")
    assert before.signals.version == 1
    events_before = store.read_events(workspace_id=workspace_id, name="plays")
    no_rules = data_api.remap_dataset(store, workspace_id=workspace_id, name="plays", actor="a", rules=[])
    assert no_rules.signals.version == 2 and no_rules.signals.rules == ()
    with pytest.raises(InsufficientDataError, match="every one of the 1,500 feedback events of 'plays' is positive"):
        run_training(store, workspace_id=workspace_id, dataset_name="plays", actor="a", n_turns=2)
    remapped = data_api.remap_dataset(
        store, workspace_id=workspace_id, name="plays", actor="a",
        rules=[parse_rule_option("stream: value < 30 -> negative")],
    )  # fmt: skip
    assert remapped.signals.version == 3
    assert remapped.signals.explain_rules() == ["'stream' with value < 30 counts as negative (weight 1)"]
    pd.testing.assert_frame_equal(store.read_events(workspace_id=workspace_id, name="plays"), events_before)
    task = build_feedback_task(events_before, remapped.signals)
    assert set(np.unique(task.y)) == {0, 1}  # short streams are now negative: a feedback model can be trained
    versions = version_infos(run_training(store, workspace_id=workspace_id, dataset_name="plays", actor="a", n_turns=2))
    assert {v.signal_dictionary_version for v in versions} == {3}
    data_api.remap_dataset(
        store,
        workspace_id=workspace_id,
        name="plays",
        actor="a",
        signals={"save": SignalSpec("explicit", "positive", 5.0)},
    )
    stored = version_infos(store.list_model_versions(workspace_id=workspace_id))
    assert {v.signal_dictionary_version for v in stored} == {3}  # trained before the re-map: they say which
    assert data_api.get_dataset(store, workspace_id=workspace_id, name="plays", actor="a").signals.version == 4
    with pytest.raises(DataValidationError, match="'skip'"):
        data_api.remap_dataset(
            store,
            workspace_id=workspace_id,
            name="plays",
            actor="a",
            rules=[parse_rule_option("skip: value < 3 -> negative")],
        )
    assert ("a", "remap") in {(e.actor, e.action) for e in store.audit(workspace_id=workspace_id)}


def test_signal_weights_weigh_the_feedback_models_loss(store: Store, workspace_id: int) -> None:
    frame = _plays(3_000)
    dictionary = SignalDictionary(
        events={"stream": SignalSpec("implicit", "negative", 1.0), "save": SignalSpec("explicit", "positive", 5.0)}
    )
    task = build_feedback_task(frame, dictionary)
    assert task.weight is not None and set(np.unique(task.weight)) == {1.0, 5.0}
    signals = dict(dictionary.events)
    data_api.store_frame(store, workspace_id=workspace_id, frame=frame, dataset="w", actor="a", signals=signals)
    plain = run_training(store, workspace_id=workspace_id, dataset_name="w", actor="a", n_turns=2)
    weighted = run_training(
        store, workspace_id=workspace_id, dataset_name="w", actor="a", n_turns=2, weight_by_signal=True
    )
    assert weighted[0].params["weight_by_signal"] is True and plain[0].params["weight_by_signal"] is False
    assert weighted[0].metrics["brier"] != plain[0].metrics["brier"]  # the weights changed what was learnt
