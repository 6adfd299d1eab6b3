"""The loop-map model: JSON form, checks, templates, diff, Markdown, versions through the store."""

from __future__ import annotations

import json

import pytest

from flywheel_core.exceptions import ConflictError, DataValidationError
from flywheel_core.loop.diagnosis import diagnose, to_markdown
from flywheel_core.loop.diff import diff_loops
from flywheel_core.loop.model import TEMPLATES, LoopMap, template_map


def test_loop_json_round_trips_exactly_for_every_template() -> None:
    for key in TEMPLATES:
        data = template_map(key).to_json()
        text = json.dumps(data, ensure_ascii=False)
        again = LoopMap.from_json(json.loads(text))
        assert again.to_json() == data
        assert json.dumps(again.to_json(), ensure_ascii=False) == text
        assert again == template_map(key)


def test_loop_json_keeps_integers_and_fills_absent_parts() -> None:
    data = LoopMap.from_json({"name": "Bare", "components": {"storage": {"latency_hours": 2, "health": 3}}}).to_json()
    assert data["components"]["storage"]["latency_hours"] == 2 and isinstance(
        data["components"]["storage"]["latency_hours"], int
    )
    assert set(data["components"]) == {"collection", "storage", "analysis", "application", "feedback"}
    assert data["network_learning"] == {"answer": "unsure", "why": "", "headroom": "unsure"}
    assert LoopMap.from_json(data).to_json() == data


@pytest.mark.parametrize(
    ("patch", "field", "problem"),
    [
        ({"name": ""}, "name", "required"),
        ({"components": {"storage": {"health": 9}}}, "components.storage.health", "from 1"),
        ({"components": {"storage": {"automated": "sometimes"}}}, "components.storage.automated", "one of"),
        ({"components": {"storage": {"latency_hours": -1}}}, "components.storage.latency_hours", "≥ 0"),
        ({"components": {"warehouse": {}}}, "components.warehouse", "unknown key"),
        ({"signals": [{"name": "skip", "kind": "loud"}]}, "signals[0].kind", "one of"),
        ({"signals": [{"name": "a"}, {"name": "a"}]}, "signals[1].name", "listed twice"),
        ({"network_learning": {"answer": "maybe"}}, "network_learning.answer", "one of"),
        ({"cold_start": {"expert_seeding": {"used": "yes"}}}, "cold_start.expert_seeding.used", "true or false"),
        ({"risks": [{"risk": "model_collapse", "impact": "huge"}]}, "risks[0].impact", "one of"),
        ({"velocity": {"deploys_per_week": "many"}}, "velocity.deploys_per_week", "number"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_loop_from_json_names_the_bad_field(patch: dict, field: str, problem: str) -> None:
    data = {**template_map("spotify").to_json(), **patch}
    with pytest.raises(DataValidationError, match=problem) as info:
        LoopMap.from_json(data)
    assert field in [p.column for p in info.value.problems]
    assert field in str(info.value)


def test_loop_from_json_text_rejects_broken_json_with_position() -> None:
    with pytest.raises(DataValidationError, match=r"not valid JSON \(line 1"):
        LoopMap.from_json_text('{"name": ')
    with pytest.raises(DataValidationError, match="JSON object"):
        LoopMap.from_json_text("[1, 2]")


def test_loop_markdown_brief_reads_well_and_imports_back() -> None:
    loop_map = template_map("klarna")
    text = to_markdown(loop_map)
    assert text.startswith("# Klarna — AI customer-service assistant")
    assert "**Verdict: Feedback loop.**" in text and "## Next steps" in text and "| Storage |" in text
    assert "would other users notice?" in text
    assert LoopMap.from_json_text(text) == loop_map


def test_loop_template_names_read_well_and_unknown_template_is_refused() -> None:
    assert template_map("spotify").name == "Spotify — music recommendations"
    assert len({template_map(k).name for k in TEMPLATES}) == len(TEMPLATES) == 8
    with pytest.raises(DataValidationError, match="No template named 'myspace'"):
        template_map("myspace")


def test_loop_diff_names_changed_added_and_removed_fields() -> None:
    old = template_map("spotify").to_json()
    new = json.loads(json.dumps(old))
    new["components"]["storage"]["health"] = 2
    new["signals"] = [s for s in new["signals"] if s["name"] != "skip"]
    new["risks"].append({"risk": "model_collapse", "likelihood": "low", "impact": "high", "mitigation": ""})
    diff = diff_loops(LoopMap.from_json(old), LoopMap.from_json(new))
    by_path = {c.path: c for c in diff.changes}
    assert by_path["components.storage.health"].before == 4 and by_path["components.storage.health"].after == 2
    assert by_path["signals[skip].polarity"].kind == "removed"
    assert by_path["risks[model_collapse].impact"].kind == "added"
    assert diff_loops(LoopMap.from_json(old), LoopMap.from_json(old)).is_empty


def test_loop_versions_grow_and_stale_save_is_refused(store, workspace_id) -> None:
    loop_map = template_map("duolingo")
    first = store.save_loop(
        workspace_id=workspace_id, name=loop_map.name, content=loop_map.to_json(), actor="alice", base_version=None
    )
    edited = LoopMap.from_json({**loop_map.to_json(), "product": "Lessons v2"})
    second = store.save_loop(
        workspace_id=workspace_id,
        name=loop_map.name,
        content=edited.to_json(),
        actor="bob",
        base_version=first.version,
        note="v2",
    )
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(ConflictError, match="draft is kept"):
        store.save_loop(
            workspace_id=workspace_id, name=loop_map.name, content=loop_map.to_json(), actor="alice", base_version=1
        )
    versions = store.loop_versions(workspace_id=workspace_id, name=loop_map.name)
    assert [(v.version, v.author) for v in versions] == [(1, "alice"), (2, "bob")]
    assert LoopMap.from_json(store.get_loop_version(workspace_id=workspace_id, name=loop_map.name).content) == edited


def test_loop_invalid_import_saves_nothing(store, workspace_id) -> None:
    with pytest.raises(DataValidationError):
        loop_map = LoopMap.from_json_text(b'{"name": "Bad", "components": {"feedback": {"health": 0}}}')
        store.save_loop(
            workspace_id=workspace_id, name=loop_map.name, content=loop_map.to_json(), actor="a", base_version=None
        )
    assert store.list_loops(workspace_id=workspace_id) == []


def test_loop_demo_workspace_gets_every_template(store) -> None:
    from flywheel_core.demo import _demo_loops

    workspace = store.create_workspace(name="Demo", actor="local")
    saved = _demo_loops(store, workspace_id=workspace.id, actor="local")
    assert sorted(saved) == sorted(template_map(k).name for k in TEMPLATES)
    assert _demo_loops(store, workspace_id=workspace.id, actor="local") == []
    rows = store.list_loops(workspace_id=workspace.id)
    assert all(r.latest_version == 1 for r in rows) and len(rows) == 8
    assert diagnose(LoopMap.from_json(store.get_loop_version(workspace_id=workspace.id, name=rows[0].name).content))
