"""The "Map the loop" page: fill a component form, save, reload, history, diagram, diagnosis, import."""

from __future__ import annotations

import json

from flywheel_core.config import load_settings
from flywheel_core.loop.model import LoopMap, template_map
from flywheel_core.storage.store import Store
from tests.app.conftest import shown

PAGE = "pages/map_loop.py"


def _dot(at) -> str:
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    return charts[0].proto.spec


def _fill_stage(at, stage: str, *, system: str, health: int, automated: str = "yes", hours: float = 1.0) -> None:
    at.text_area(key=f"map.{stage}.description").set_value(f"{stage} in our product")
    at.text_input(key=f"map.{stage}.system").set_value(system)
    at.text_input(key=f"map.{stage}.owner").set_value("Data team")
    at.selectbox(key=f"map.{stage}.automated").set_value(automated)
    at.number_input(key=f"map.{stage}.latency_hours").set_value(hours)
    at.selectbox(key=f"map.{stage}.health").set_value(health)


def test_map_loop_fill_save_reload_history_grows(make_app, app_env) -> None:
    at = make_app(PAGE)
    assert not at.exception
    assert "collection" in _dot(at) and "not mapped" in _dot(at)
    assert any("Broken loop" in m.value for m in at.markdown)
    at.text_input(key="map.name").set_value("Team loop")
    _fill_stage(at, "collection", system="Event logger", health=4)
    at.run()
    assert not at.exception
    assert "health 4/5" in _dot(at) and "Collection\\nhealth 4/5 · 1 h\\nautomated" in _dot(at)
    at.button(key="map.save").click().run()
    assert not at.exception and not at.error
    assert any("version 1" in s.value for s in at.success)
    _fill_stage(at, "storage", system="Lake", health=2)
    at.text_input(key="map.note").set_value("storage mapped")
    at.button(key="map.save").click().run()
    assert any("version 2" in s.value for s in at.success)

    store = Store(load_settings(app_env))
    workspace = store.list_workspaces()[0]
    versions = store.loop_versions(workspace_id=workspace.id, name="Team loop")
    assert [(v.version, v.note) for v in versions] == [(1, ""), (2, "storage mapped")]
    assert versions[1].content["components"]["storage"]["health"] == 2

    again = make_app(PAGE)  # a new session: the saved map opens with its fields
    assert not again.exception
    assert again.text_input(key="map.name").value == "Team loop"
    assert again.text_input(key="map.collection.system").value == "Event logger"
    assert again.selectbox(key="map.storage.health").value == 2
    history = next(d.value for d in again.dataframe if "Version" in d.value.columns)
    assert history["Version"].tolist() == [1, 2]
    diff = next(d.value for d in again.dataframe if "Field" in d.value.columns)
    assert "components.storage.health" in diff["Field"].tolist()
    assert "Storage\\nhealth 2/5" in _dot(again)
    assert [m.label for m in again.metric] == ["Weakest stage", "Cycle time", "Moat"]
    assert again.metric[0].value == "Analysis"  # not mapped yet: the weakest of all


def test_map_loop_template_shows_diagnosis_and_stale_save_keeps_draft(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.selectbox(key="map.template").set_value("tesla")
    at.button(key="map.template_button").click().run()
    assert at.text_input(key="map.name").value == "Tesla — Autopilot fleet learning"
    assert any("Feedback loop" in m.value and "Analysis needs a person every cycle" in m.value for m in at.markdown)
    assert at.metric[0].value == "Analysis" and at.metric[2].value == "Network"
    assert "analysis -> application" in _dot(at) and "by hand" in _dot(at)
    at.button(key="map.save").click().run()
    assert any("version 1" in s.value for s in at.success)

    store = Store(load_settings(app_env))
    workspace = store.list_workspaces()[0]
    name = "Tesla — Autopilot fleet learning"
    store.save_loop(
        workspace_id=workspace.id, name=name, content=template_map("tesla").to_json(), actor="bob", base_version=1
    )
    at.text_input(key="map.collection.owner").set_value("My edit")
    at.button(key="map.save").click().run()
    assert not at.exception
    assert any("saved by someone else" in e.value for e in at.error)
    assert at.text_input(key="map.collection.owner").value == "My edit"
    assert store.get_loop_version(workspace_id=workspace.id, name=name).version == 2
    compared = next(d.value for d in at.dataframe if "Field" in d.value.columns)
    assert "components.collection.owner" in compared["Field"].tolist()
    at.button(key="map.rebase").click().run()  # keep the draft on top of version 2, then save
    at.button(key="map.save").click().run()
    assert any("version 3" in s.value for s in at.success)
    assert (
        store.get_loop_version(workspace_id=workspace.id, name=name).content["components"]["collection"]["owner"]
        == "My edit"
    )


def test_map_loop_import_invalid_names_field_and_saves_nothing(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.text_input(key="map.name").set_value("Spotify — music recommendations").run()
    bad = json.dumps({"name": "Imported", "components": {"storage": {"health": 9}}}).encode()
    at.file_uploader(key="map.import").set_value(("bad.json", bad, "application/json")).run()
    assert not at.exception
    assert any("components.storage.health" in shown(e.value) for e in at.error)
    assert at.text_input(key="map.name").value == "Spotify — music recommendations"
    store = Store(load_settings(app_env))
    assert store.list_loops(workspace_id=store.list_workspaces()[0].id) == []


def test_map_loop_import_valid_map_becomes_the_draft(make_app) -> None:
    at = make_app(PAGE)
    text = template_map("netflix").to_json_text().encode()
    at.file_uploader(key="map.import").set_value(("netflix.json", text, "application/json")).run()
    assert not at.exception and not at.error
    assert at.text_input(key="map.name").value == "Netflix — deployment velocity"
    assert at.number_input(key="map.application.latency_hours").value == 0.1
    assert any("15 minutes" in c.value for c in at.caption)


def test_map_loop_export_buttons_and_canvas_lint_with_the_demo(make_app, demo_instance) -> None:
    at = make_app(PAGE, workspace="Demo")
    assert not at.exception and not at.error
    assert at.text_input(key="map.name").value.startswith("Duolingo")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download JSON", "Download Markdown brief"]
    at.selectbox(key="map.open").set_value("Spotify — music recommendations")
    at.button(key="map.open_button").click().run()
    assert at.text_input(key="map.name").value == "Spotify — music recommendations"
    at.selectbox(key="map.lint.dataset").set_value(at.selectbox(key="map.lint.dataset").options[0])
    at.button(key="map.lint.run").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert {"Check", "Claimed", "Measured"} <= set(table.columns) and len(table) > 0
    assert LoopMap.from_json(json.loads(template_map("spotify").to_json_text())) == template_map("spotify")
