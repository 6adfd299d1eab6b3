"""Experiments repeat, report an effect with its interval, conclude from it, and say no more than it allows.

Each demo archetype shows the effect it was built with, and support (where none was built) shows none.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError
from flywheel_core.experiments.api import latest_experiments, run_experiment
from flywheel_core.experiments.claims import CLAIMS, NETWORK_CLAIMS, describe, network_claim
from flywheel_core.experiments.common import ExperimentResult, curate_events
from flywheel_core.experiments.effects import CONCLUSIONS, Effect, Finding, claim_key, conclude, summarise
from flywheel_core.experiments.runner import (
    EXPERIMENTS,
    MATERIAL,
    capture_experiment,
    collapse_experiment,
    curation_experiment,
    network_experiment,
    poisoning_experiment,
    weighting_experiment,
)
from flywheel_core.storage.store import Store

SIZE = 30_000  # the demo workspace's size


def _dictionary(archetype: str) -> SignalDictionary:
    return SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS[archetype].items()})


@cache
def _events(archetype: str, n: int = SIZE) -> pd.DataFrame:
    return make_demo_events(archetype, n)


def _run(kind: str, archetype: str, n: int = SIZE) -> ExperimentResult:
    return EXPERIMENTS[kind](_events(archetype, n), _dictionary(archetype), repeats=5, random_state=0)


def _claims_of(kind: str) -> dict[str, str]:
    return NETWORK_CLAIMS if kind == "network" else CLAIMS[kind]


def _claim_in(result: ExperimentResult) -> list[str]:
    return [key for key, text in _claims_of(result.kind).items() if text in result.sentence]


# --- each archetype shows what was built into it, and support shows nothing ---------------------------


def test_capture_teaches_more_per_label_on_the_fleet() -> None:
    fleet = _run("capture", "fleet")
    assert fleet.conclusion == "effect" and fleet.effect is not None and fleet.effect.low > 0
    assert fleet.effect.estimate >= fleet.material == MATERIAL["capture"]
    assert _claim_in(fleet) == ["positive"] and "10 labels per turn" in fleet.sentence
    least_sure, random = fleet.series["least sure"], fleet.series["random"]
    assert least_sure[0] == random[0]  # both arms start from the same labels


def test_capture_shows_no_gain_on_support() -> None:
    support = _run("capture", "support")
    assert support.conclusion in ("no_effect", "inconclusive")
    assert _claim_in(support) == [support.conclusion]


def test_the_deletion_test_finds_network_learning_on_music_and_a_saturated_shared_model_on_support() -> None:
    music = _run("network", "music")
    assert music.conclusion == "effect" and music.effect is not None and music.effect.low > 0
    assert _claim_in(music) == ["network"]
    support = _run("network", "support")
    assert support.conclusion == "no_effect"  # deleting half the users costs the others nothing measurable
    pooled = support.comparisons["pooled over per-user"]
    assert pooled.conclusion == "effect" and pooled.effect is not None and pooled.effect.low > 0
    # a pooled model that beats per-user models is shared learning, saturated: never "individual"
    assert _claim_in(support) == ["saturated"] and "individual" not in support.sentence


def test_self_consumption_spins_the_backward_loop_and_not_support() -> None:
    backward = _run("collapse", "backward")
    assert backward.conclusion == "effect" and backward.effect is not None and backward.effect.high < 0
    assert _claim_in(backward) == ["negative"] and "spins backward" in backward.sentence
    support = _run("collapse", "support")
    assert support.conclusion in ("no_effect", "inconclusive")
    assert _claim_in(support) == [support.conclusion]


def test_curation_removes_the_built_bots_and_duplicates_on_music_and_it_pays() -> None:
    events = _events("music")
    curated, keep = curate_events(events)
    removed_users = set(events.loc[~keep, "user"]) - set(curated["user"])
    built_bots = {u for u in events["user"].unique() if int(u[1:]) >= SIZE // 60}  # bots follow the listeners
    assert removed_users == built_bots and len(built_bots) >= 10
    keys = ["user", "item", "timestamp", "event"]
    assert not curated.duplicated(subset=keys).any()
    assert (~keep).sum() == events["user"].isin(built_bots).sum() + events[~events["user"].isin(built_bots)].duplicated(
        subset=keys
    ).sum()
    result = _run("curation", "music")
    assert result.conclusion == "effect" and result.effect is not None and result.effect.low > 0
    assert result.figures["bot_like_users"] == len(built_bots) and result.figures["duplicate_rows"] > 0
    assert _claim_in(result) == ["positive"]


def test_curation_finds_nothing_to_remove_on_support() -> None:
    result = _run("curation", "support")
    assert result.figures["rows_removed"] == 0 and result.figures["bot_like_users"] == 0
    assert result.conclusion == "no_effect" and result.effect == Effect(0.0, 0.0, 0.0, "AUC")


def test_weighting_finds_the_wrong_incentive_on_music_and_refuses_a_log_without_a_strong_signal() -> None:
    music = _run("weighting", "music")
    assert music.conclusion == "effect" and music.effect is not None and music.effect.low > 0
    assert set(music.series) == {"trained on clicks", "trained on strong signals"}
    assert _claim_in(music) == ["positive"]
    with pytest.raises(InsufficientDataError, match="strong positives"):
        weighting_experiment(_events("support", 2_000), _dictionary("support"))


def test_poisoning_reports_the_others_damage_with_its_interval() -> None:
    result = poisoning_experiment(_events("music"), _dictionary("music"), repeats=3)
    clean, poisoned, curated = result.series["holdout AUC"]
    assert clean is not None and poisoned is not None and curated is not None
    assert result.effect is not None and result.effect.estimate == pytest.approx(clean - poisoned, abs=0.002)
    assert "recovered by curation" in result.comparisons
    assert _claim_in(result) == [claim_key(result.finding)]


# --- too little feedback is never evidence -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["curation", "capture", "network", "collapse", "poisoning"])
def test_forty_clicks_are_inconclusive_and_say_why(kind: str) -> None:
    tiny = make_demo_events("fleet", 1_000).head(60).reset_index(drop=True)
    result = EXPERIMENTS[kind](tiny, _dictionary("fleet"), repeats=3)
    assert result.conclusion == "inconclusive" and result.scored_repeats < 2 and result.effect is None
    assert "not enough feedback to score" in result.reason and result.reason in result.sentence
    assert _claim_in(result) == ["unclear" if kind == "network" else "inconclusive"]
    assert all(v is None for values in result.series.values() for v in values)  # never scored as chance (0.500)


# --- the interval and the conclusion -------------------------------------------------------------------


def test_the_interval_is_the_half_sample_t_interval() -> None:
    values = [0.02, 0.03, 0.025, 0.035, 0.015]
    finding = summarise(values, [""] * 5, material=0.01, unit="AUC")
    s = float(np.std(values, ddof=1))
    half = 2.7764451 * s * np.sqrt(1 + 1 / 5)  # t(0.975, 4) · s · √(1 + 1/R)
    assert finding.effect is not None and finding.effect.estimate == pytest.approx(0.025)
    assert (finding.effect.low, finding.effect.high) == pytest.approx((0.025 - half, 0.025 + half), abs=1e-4)
    assert finding.conclusion == "effect" and finding.scored == finding.repeats == 5
    # within-repeat variance (the experiment's own randomness) is not data uncertainty: the interval narrows
    narrower = summarise(values, [""] * 5, material=0.01, unit="AUC", within=[s**2] * 5)
    assert narrower.effect is not None and finding.effect is not None
    assert narrower.effect.high - narrower.effect.low == pytest.approx(2 * 2.7764451 * s / np.sqrt(5), abs=2e-4)


def test_conclusions_read_from_the_interval_against_material() -> None:
    assert conclude(Effect(0.03, 0.01, 0.05, "AUC"), 0.01) == "effect"
    assert conclude(Effect(-0.03, -0.05, -0.01, "AUC"), 0.01) == "effect"
    assert conclude(Effect(0.004, 0.001, 0.007, "AUC"), 0.01) == "no_effect"  # detectable but immaterial
    assert conclude(Effect(0.0, -0.008, 0.008, "AUC"), 0.01) == "no_effect"
    assert conclude(Effect(0.02, -0.01, 0.05, "AUC"), 0.01) == "inconclusive"
    assert conclude(Effect(0.008, 0.002, 0.014, "AUC"), 0.01) == "inconclusive"  # excludes zero, below material


def test_too_few_scored_repeats_are_inconclusive_with_the_reason() -> None:
    why = "not enough feedback to score (3 positives in the holdout; needs 10)"
    finding = summarise([0.05, None, None, 0.06, None], ["", why, why, "", why], material=0.01, unit="AUC")
    assert finding.conclusion == "inconclusive" and finding.scored == 2
    assert finding.reason == f"{why} in 3 of 5 repeats"
    none = summarise([None, None, None], [why] * 3, material=0.01, unit="AUC")
    assert none.effect is None and none.conclusion == "inconclusive" and none.reason.startswith(why)


def _finding(conclusion: str, sign: float = 1.0) -> Finding:
    effect = {
        "positive": Effect(0.04 * sign, 0.02 * sign, 0.06 * sign, "AUC"),
        "negative": Effect(-0.04, -0.06, -0.02, "AUC"),
        "no_effect": Effect(0.001, -0.004, 0.006, "AUC"),
        "inconclusive": Effect(0.02, -0.01, 0.05, "AUC"),
    }[conclusion]
    label = "effect" if conclusion in ("positive", "negative") else conclusion
    return Finding(effect, label, 0.01, 5, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(CLAIMS))
@pytest.mark.parametrize("key", ["positive", "negative", "no_effect", "inconclusive"])
def test_each_sentence_makes_exactly_the_claim_its_conclusion_allows(kind: str, key: str) -> None:
    finding = _finding(key)
    assert claim_key(finding) == key
    sentence = describe(kind, finding, {"recovered by curation": _finding("no_effect")}, {"label_budget": 10})
    made = [k for k, text in CLAIMS[kind].items() if text in sentence]
    assert made == [key], sentence
    effect = finding.effect
    assert effect is not None and f"{effect.estimate:+.3f}" in sentence and f"{effect.low:+.3f}" in sentence


@pytest.mark.parametrize(
    ("deletion", "pooled", "claim"),
    [
        ("positive", "positive", "network"),
        ("negative", "positive", "harmful"),  # a deletion that raises the others' metric is not "barely notice"
        ("no_effect", "positive", "saturated"),  # pooled 0.99 vs per-user 0.49: shared, not individual
        ("no_effect", "no_effect", "individual"),
        ("no_effect", "negative", "individual"),
        ("no_effect", "inconclusive", "shared_unclear"),
        ("inconclusive", "positive", "unclear"),
    ],
)
def test_the_deletion_tests_claim_follows_both_intervals(deletion: str, pooled: str, claim: str) -> None:
    main, shared = _finding(deletion), _finding(pooled)
    assert network_claim(main, shared) == claim
    sentence = describe("network", main, {"pooled over per-user": shared}, {"cohort_share": 0.5})
    assert [k for k, text in NETWORK_CLAIMS.items() if text in sentence] == [claim]
    assert ("individual" in sentence) == (claim == "individual")


def test_every_conclusion_has_a_claim_for_every_experiment() -> None:
    assert set(CLAIMS) | {"network"} == set(EXPERIMENTS)
    assert all(set(claims) == {"positive", "negative", "no_effect", "inconclusive"} for claims in CLAIMS.values())
    assert set(CONCLUSIONS) == {"effect", "no_effect", "inconclusive"}


# --- results are typed, stored and parsed back ---------------------------------------------------------


def test_a_result_round_trips_through_json_and_an_old_one_reads_as_inconclusive() -> None:
    result = network_experiment(_events("support", 4_000), _dictionary("support"), repeats=2)
    assert ExperimentResult.from_json(result.to_json()) == result
    old = {"kind": "capture", "title": "t", "sentence": "s", "x_label": "x", "y_label": "y", "x": [1], "series": {}}
    parsed = ExperimentResult.from_json(old | {"figures": {"advantage_auc": 0.2, "diversity": {"a": [1]}}})
    assert parsed.conclusion == "inconclusive" and parsed.effect is None and "run it again" in parsed.reason
    assert parsed.figures == {"advantage_auc": 0.2}


def test_experiments_repeat_and_state_their_material_effect() -> None:
    result = collapse_experiment(_events("backward", 6_000), _dictionary("backward"), repeats=3, n_turns=3)
    assert result.repeats == 3 and result.material == 0.01 and result.unit == "AUC"
    assert re.search(r"95% interval [+-]\d\.\d{3} to [+-]\d\.\d{3}, 3 repeats", result.sentence)
    with pytest.raises(DataValidationError, match=r"'repeats' parameter of collapse_experiment .*\[2, 50\]"):
        collapse_experiment(_events("backward", 6_000), _dictionary("backward"), repeats=1)


def test_run_experiment_records_the_result_and_latest_parses_it(store: Store, workspace_id: int) -> None:
    from flywheel_core.data.api import store_frame

    store_frame(
        store,
        workspace_id=workspace_id,
        frame=make_demo_events("support", 2_000),
        dataset="support",
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["support"].items()},
        source_name="support.parquet",
    )
    experiment = run_experiment(
        store, workspace_id=workspace_id, dataset_name="support", kind="curation", actor="alice", repeats=2
    )
    listed = store.list_experiments(workspace_id=workspace_id)
    assert [e.id for e in listed] == [experiment.id] and listed[0].result["conclusion"] in CONCLUSIONS
    dataset = store.get_dataset(workspace_id=workspace_id, name="support")
    latest = latest_experiments(store, workspace_id=workspace_id, dataset_id=dataset.id, actor="alice")
    assert len(latest) == 1 and isinstance(latest[0].result, ExperimentResult)
    assert latest[0].result.repeats == 2 and latest[0].author == "alice" and latest[0].params == {"repeats": 2}
    with pytest.raises(DataValidationError, match="'kind' parameter of run_experiment"):
        run_experiment(store, workspace_id=workspace_id, dataset_name="support", kind="magic", actor="alice")
    with pytest.raises(DataValidationError, match="curation experiment has no option 'label_budget'"):
        run_experiment(
            store, workspace_id=workspace_id, dataset_name="support", kind="curation", actor="alice", label_budget=5
        )


def test_every_experiment_checks_its_options_before_reading_data() -> None:
    with pytest.raises(DataValidationError, match="'label_budget' parameter of capture_experiment"):
        capture_experiment(None, None, label_budget=1)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="'cohort_share' parameter of network_experiment"):
        network_experiment(None, None, cohort_share=0.9)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="'repeats' parameter of curation_experiment"):
        curation_experiment(None, None, repeats=0)  # type: ignore[arg-type]
