"""Diagnosis rules, one test each, and the story every seed template must tell."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flywheel_core.loop.diagnosis import diagnose, to_markdown, velocity_band
from flywheel_core.loop.diff import field_label, value_text
from flywheel_core.loop.markdown import render_markdown
from flywheel_core.loop.model import STAGES, LoopMap, template_map


def _good() -> dict[str, Any]:
    """A healthy, automated, network-learning loop with both kinds of signal."""
    component = {
        "description": "works",
        "system": "sys",
        "owner": "team",
        "automated": "yes",
        "latency_hours": 1,
        "health": 4,
        "evidence": "metric",
    }
    return {
        "name": "Good loop",
        "components": {stage: dict(component) for stage in STAGES},
        "signals": [
            {"name": "click", "kind": "implicit", "polarity": "positive", "volume_per_day": 1000},
            {"name": "thumbs_down", "kind": "explicit", "polarity": "negative", "volume_per_day": 10},
        ],
        "network_learning": {"answer": "yes", "why": "shared", "headroom": "grows"},
        "cold_start": {"expert_seeding": {"used": True, "notes": ""}},
        "risks": [{"risk": "model_collapse", "likelihood": "low", "impact": "high", "mitigation": "filter"}],
    }


def _diag(edit=None):
    data = _good()
    if edit:
        edit(data)
    return diagnose(LoopMap.from_json(data))


def test_diagnosis_healthy_automated_network_loop_is_a_flywheel() -> None:
    d = _diag()
    assert d.verdict == "flywheel" and d.missing_links == () and d.breaks == ()
    assert d.signal_warnings == () and d.unmitigated_risks == ()


def test_diagnosis_empty_component_breaks_both_its_links() -> None:
    d = _diag(lambda m: m["components"].pop("analysis"))
    assert d.verdict == "broken"
    assert [link.name for link in d.missing_links] == ["Storage→Analysis", "Analysis→Application"]
    assert "Analysis is not mapped" in d.missing_links[0].reason
    assert d.weakest == "analysis" and d.next_steps[0].startswith("Map Analysis")


def test_diagnosis_component_with_only_blank_text_counts_as_absent() -> None:
    def blank(m):
        m["components"]["collection"] = {
            "description": "  ",
            "system": "",
            "owner": "",
            "evidence": "",
            "automated": "yes",
            "health": 5,
        }

    assert _diag(blank).verdict == "broken"


def test_diagnosis_stage_done_by_hand_makes_a_feedback_loop() -> None:
    d = _diag(lambda m: m["components"]["application"].update(automated="no"))
    assert d.verdict == "feedback_loop" and d.manual_stages == ("application",)
    assert "Application needs a person every cycle" in d.verdict_reason
    assert any(s.startswith("Automate Application") for s in d.next_steps)


def test_diagnosis_partly_automated_stage_is_not_a_person_every_cycle() -> None:
    assert _diag(lambda m: m["components"]["application"].update(automated="partly")).verdict == "flywheel"


def test_diagnosis_break_data_in_silos() -> None:
    d = _diag(lambda m: m["components"]["storage"].update(health=1))
    assert [b.name for b in d.breaks] == ["data in silos"] and d.breaks[0].link == "Storage→Analysis"
    assert any("same snapshot" in s for s in d.next_steps)


def test_diagnosis_break_insights_die_in_slide_decks() -> None:
    d = _diag(lambda m: m["components"]["application"].update(automated="no"))
    assert [b.key for b in d.breaks] == ["insights_die_in_slide_decks"]
    assert d.breaks[0].name == "insights die in slide decks" and d.breaks[0].link == "Analysis→Application"


def test_diagnosis_break_no_feedback_link() -> None:
    d = _diag(lambda m: m["components"].pop("feedback"))
    assert "you ship but don't know if it worked" in [b.name for b in d.breaks]
    assert {link.name for link in d.missing_links} == {"Application→Feedback", "Feedback→Collection"}


def test_diagnosis_weakest_stage_is_lowest_health_then_by_hand_then_slowest() -> None:
    d = _diag(lambda m: m["components"]["analysis"].update(health=2))
    assert d.weakest == "analysis" and "health 2/5" in d.weakest_reason
    d = _diag(lambda m: m["components"]["storage"].update(automated="partly"))
    assert d.weakest == "storage" and "partly by hand" in d.weakest_reason
    d = _diag(lambda m: m["components"]["feedback"].update(latency_hours=50))
    assert d.weakest == "feedback"


def test_diagnosis_cycle_time_is_the_sum_of_latencies_on_the_seed_scale() -> None:
    assert _diag().cycle_time_hours == 5.0
    assert velocity_band(0.2)[0] == "netflix" and "15 minutes" in velocity_band(0.2)[1]
    assert velocity_band(24)[0] == "fast"
    assert velocity_band(30 * 24) == ("enterprise", "8 to 90 days, like traditional enterprises")
    assert velocity_band(120 * 24)[0] == "slow"
    assert velocity_band(270 * 24)[0] == "bank" and "Fortune 100 banks" in velocity_band(270 * 24)[1]
    assert velocity_band(None)[0] == "unknown"
    slow = _diag(lambda m: m["components"]["application"].update(latency_hours=2000))
    assert slow.velocity_band == "enterprise" and any(
        "Cut the cycle time" in s and "Application" in s for s in slow.next_steps
    )


def test_diagnosis_moat_follows_the_deletion_test() -> None:
    assert _diag().moat == "network"
    individual = _diag(lambda m: m["network_learning"].update(answer="no"))
    assert individual.moat == "individual" and individual.verdict == "feedback_loop"
    unsure = _diag(lambda m: m["network_learning"].update(answer="unsure"))
    assert unsure.moat == "unknown" and any("deletion test" in s for s in unsure.next_steps)


def test_diagnosis_saturating_task_plateaus() -> None:
    d = _diag(lambda m: m["network_learning"].update(headroom="saturates"))
    assert d.plateau and d.verdict == "feedback_loop" and "does not compound" in d.plateau_reason
    assert any("Expect a plateau" in s for s in d.next_steps)


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [(["explicit"], "biased"), (["implicit"], "noisy"), ([], "No feedback signals at all")],
)
def test_diagnosis_signal_mix_warnings(kinds: list[str], expected: str) -> None:
    def signals(m):
        m["signals"] = [
            {"name": f"s{i}", "kind": k, "polarity": "negative", "volume_per_day": 5} for i, k in enumerate(kinds)
        ]

    d = _diag(signals)
    assert len(d.signal_warnings) == 1 and expected in d.signal_warnings[0]


def test_diagnosis_warns_when_no_signal_is_negative() -> None:
    d = _diag(lambda m: m["signals"][1].update(polarity="positive"))
    assert any("No negative signal" in w for w in d.signal_warnings)


def test_diagnosis_lists_unmitigated_risks_worst_first() -> None:
    def risks(m):
        m["risks"] = [
            {"risk": "model_collapse", "likelihood": "low", "impact": "low"},
            {"risk": "data_poisoning", "likelihood": "high", "impact": "high"},
            {"risk": "wrong_incentives", "likelihood": "high", "impact": "high", "mitigation": "retention metric"},
        ]

    d = _diag(risks)
    assert len(d.unmitigated_risks) == 2 and d.unmitigated_risks[0].startswith("Data poisoning")


def test_diagnosis_without_cold_start_plan_suggests_one() -> None:
    d = _diag(lambda m: m.pop("cold_start"))
    assert d.cold_start == () and any(s.startswith("Plan the cold start") for s in d.next_steps)


def test_diagnosis_is_pure_and_serialisable() -> None:
    loop_map = template_map("spotify")
    before = copy.deepcopy(loop_map.to_json())
    assert diagnose(loop_map) == diagnose(loop_map)
    assert loop_map.to_json() == before
    data = diagnose(loop_map).to_json()
    assert {"verdict", "missing_links", "weakest", "cycle_time_hours", "breaks", "moat", "next_steps"} <= set(data)


@pytest.mark.parametrize(
    ("key", "verdict", "moat"),
    [
        ("spotify", "flywheel", "network"),
        ("tesla", "feedback_loop", "network"),
        ("duolingo", "flywheel", "network"),
        ("klarna", "feedback_loop", "individual"),
        ("harvey", "flywheel", "network"),
        ("perplexity", "flywheel", "network"),
        ("netflix", "flywheel", "network"),
        ("note-taking", "feedback_loop", "individual"),
    ],
)
def test_diagnosis_template_verdict_and_moat(key: str, verdict: str, moat: str) -> None:
    d = diagnose(template_map(key))
    assert (d.verdict, d.moat) == (verdict, moat)
    assert d.missing_links == ()


def test_diagnosis_note_taking_is_individual_learning_not_a_flywheel() -> None:
    d = diagnose(template_map("note-taking"))
    assert d.verdict != "flywheel" and "individual learning" in d.verdict_reason


def test_diagnosis_tesla_collection_strong_curation_the_weak_point() -> None:
    loop_map, d = template_map("tesla"), diagnose(template_map("tesla"))
    assert loop_map.components["collection"].health == 5
    assert d.weakest == "analysis" and "curation" in loop_map.components["analysis"].description.lower()
    assert d.manual_stages == ("analysis",)
    assert any(r.startswith("Data without curation") for r in d.unmitigated_risks)


def test_diagnosis_klarna_plateaus() -> None:
    d = diagnose(template_map("klarna"))
    assert d.plateau and "does not compound" in d.plateau_reason
    assert any("Expect a plateau" in s for s in d.next_steps)


def test_diagnosis_harvey_is_an_expert_seeded_cold_start() -> None:
    d = diagnose(template_map("harvey"))
    assert d.cold_start[:2] == ("expert_seeding", "target_complexity")


def test_diagnosis_netflix_velocity_is_under_15_minutes() -> None:
    d = diagnose(template_map("netflix"))
    assert d.cycle_time_hours is not None and d.cycle_time_hours < 0.25 and d.velocity_band == "netflix"


def test_diagnosis_spotify_compounds_with_the_30_second_rule() -> None:
    loop_map, d = template_map("spotify"), diagnose(template_map("spotify"))
    assert not d.plateau and d.signal_warnings == ()
    assert any("30 s" in s.rule for s in loop_map.signals)


def test_diagnosis_names_every_mapped_stage_without_an_owner() -> None:
    data = _good()
    data["components"]["analysis"]["owner"] = ""
    data["components"]["feedback"]["owner"] = "   "
    loop_map = LoopMap.from_json(data)
    d = diagnose(loop_map)
    assert d.unowned_stages == ("analysis", "feedback") and d.verdict == "flywheel"  # a finding, not a new verdict
    assert d.ownership_findings[0].startswith("Analysis has no owner: nobody is named to act")
    assert any(s.startswith("Name an owner for Analysis and Feedback") for s in d.next_steps)
    assert d.to_json()["unowned_stages"] == ["analysis", "feedback"]
    assert _diag().unowned_stages == ()
    brief = render_markdown(loop_map, d)
    assert "- **No owner, Analysis:** nobody is named to act" in brief and "| **no owner** |" in brief


def test_diagnosis_a_stage_not_mapped_is_missing_not_unowned() -> None:
    d = _diag(lambda m: m["components"].pop("storage"))
    assert "storage" not in d.unowned_stages


def test_brief_labels_the_cycle_time_and_the_entered_end_to_end_time() -> None:
    text = to_markdown(LoopMap.from_json(_good() | {"velocity": {"event_to_production_hours": 168}}))
    assert "**Cycle time:** 5 h (cycle time = the sum of the stages' latencies); entered as event to model" in text
    assert "in production: 7 days" in text
    assert "| 1 h |" in text  # latencies said by the one formatter, never "1.00 h"


def test_diff_fields_are_said_for_people() -> None:
    assert field_label("components.analysis.owner") == "Analysis · owner"
    assert field_label("components.storage.latency_hours") == "Storage · latency (hours)"
    assert field_label("signals[skip].weight") == "Signal 'skip' · weight"
    assert field_label("risks[model_collapse].mitigation") == "Risk 'Model collapse' · mitigation"
    assert field_label("cold_start.expert_seeding.used") == "Cold start · Expert seeding over data hoarding · in use"
    assert field_label("velocity.event_to_production_hours") == "Velocity · event to model in production (hours)"
    assert value_text("risks[model_collapse].risk", "model_collapse") == "Model collapse"
    assert (value_text("x", True), value_text("x", None), value_text("x", 336.0)) == ("yes", "—", "336")
