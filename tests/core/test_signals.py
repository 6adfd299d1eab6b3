"""The signal dictionary: defaults, rules, JSON form, command-line form, confidence weights."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_core.data.signals import (
    SignalDictionary,
    SignalSpec,
    confidence_weights,
    default_dictionary,
    parse_signal_option,
)
from flywheel_core.exceptions import DataValidationError


def test_defaults_for_common_names() -> None:
    d = default_dictionary(["Thumbs Up", "thumbs_down", "skip", "purchase", "weird"])
    assert d.events["Thumbs Up"] == SignalSpec("explicit", "positive", 2.0)
    assert d.events["thumbs_down"].polarity == "negative"
    assert d.events["purchase"].weight > d.events["skip"].weight
    assert d.events["weird"] == SignalSpec("implicit", "neutral", 0.0)


def test_json_round_trip_and_errors() -> None:
    d = default_dictionary(["rating", "stream"])
    assert SignalDictionary.from_json(d.to_json()) == d
    with pytest.raises(DataValidationError, match="signal 'x': polarity must be"):
        SignalDictionary.from_json({"events": {"x": {"kind": "implicit", "polarity": "great"}}})
    with pytest.raises(DataValidationError, match="rule 1: op must be"):
        SignalDictionary.from_json({"rules": [{"event": "x", "op": "~", "value": 1, "polarity": "positive"}]})


def test_rating_rules_split_the_scale() -> None:
    d = default_dictionary(["rating"])
    import pandas as pd

    annotated = d.annotate(pd.Series(["rating"] * 5), pd.Series([1, 2, 3, 4, 5]))
    assert annotated["polarity"].tolist() == [-1, -1, 0, 1, 1]


def test_parse_signal_option() -> None:
    assert parse_signal_option("save=positive:3:explicit") == ("save", SignalSpec("explicit", "positive", 3.0))
    assert parse_signal_option("skip=negative") == ("skip", SignalSpec("implicit", "negative", 1.0))
    with pytest.raises(DataValidationError, match="expected EVENT=POLARITY"):
        parse_signal_option("save")
    with pytest.raises(DataValidationError, match="'lots' is neither a weight nor a kind"):
        parse_signal_option("save=positive:lots")


def test_confidence_weights_follow_hu_koren_volinsky() -> None:
    assert confidence_weights(np.array([0.0, 1.0, 2.0]), alpha=40).tolist() == [1.0, 41.0, 81.0]
    with pytest.raises(ValueError, match="alpha"):
        confidence_weights(np.array([1.0]), alpha=-1)
