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
    assert "health 4/5" in _dot(at) and "Collection\\nhealth 4/5\\n1 h\\nautomated" in _dot(at)
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
    assert "Storage · health" in diff["Field"].tolist()  # paths said for people, not components.storage.health
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
    assert "Collection · owner" in compared["Field"].tolist()
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


def _columns(at, first: str) -> dict:
    """The column configuration of the editable table whose first column is ``first``."""
    for frame in at.dataframe:
        columns = json.loads(frame.proto.columns or "{}")
        if first in columns:
            return columns
    raise AssertionError(f"no table with a '{first}' column")


def test_map_loop_start_from_template_asks_before_discarding_unsaved_edits(make_app) -> None:
    at = make_app(PAGE)
    at.selectbox(key="map.template").set_value("tesla")
    at.button(key="map.template_button").click().run()  # the blank draft was untouched: no question
    assert at.text_input(key="map.name").value == "Tesla — Autopilot fleet learning"
    assert not any("not saved" in w.value for w in at.warning)
    at.text_input(key="map.analysis.owner").set_value("Labeling lead").run()
    at.selectbox(key="map.template").set_value("klarna")
    at.button(key="map.template_button").click().run()
    assert not at.exception
    assert any("changes that are not saved" in w.value and "Klarna template" in w.value for w in at.warning)
    assert at.text_input(key="map.name").value == "Tesla — Autopilot fleet learning"  # nothing replaced yet
    at.button(key="map.discard.cancel").click().run()
    assert at.text_input(key="map.analysis.owner").value == "Labeling lead"
    assert not any("not saved" in w.value for w in at.warning)
    at.button(key="map.template_button").click().run()
    at.button(key="map.discard.confirm").click().run()
    assert not at.exception
    assert at.text_input(key="map.name").value.startswith("Klarna")
    at.text_input(key="map.name").set_value("Mine").run()
    at.button(key="map.blank").click().run()  # a blank sheet asks too
    assert any("A blank map replaces them" in w.value for w in at.warning)
    at.button(key="map.discard.confirm").click().run()
    assert at.text_input(key="map.name").value == "My loop"


def test_map_loop_names_a_stage_without_an_owner(make_app) -> None:
    at = make_app(PAGE)
    at.selectbox(key="map.template").set_value("spotify")
    at.button(key="map.template_button").click().run()
    assert not any("no owner" in m.value for m in at.markdown)
    at.text_input(key="map.analysis.owner").set_value("").run()
    assert any("Analysis: no owner" in m.value and "insights die" in m.value for m in at.markdown)
    assert any("Name an owner for Analysis" in m.value for m in at.markdown)
    assert "Analysis\\nhealth 5/5\\n12 h\\nautomated\\nno owner" in _dot(at)


def test_map_loop_diagram_text_is_large_and_link_labels_clear_the_stages(make_app) -> None:
    import re

    from ui.loop_diagram import MAX_WIDTH_PT, MIN_FONT_PT, NODE_HEIGHT_IN, NODE_WIDTH_IN

    at = make_app(PAGE)  # a blank map: every link missing, with the three common breaks named
    dot = _dot(at)
    assert min(float(f) for f in re.findall(r"fontsize=([\d.]+)", dot)) >= MIN_FONT_PT
    pos = {n: (float(x), float(y)) for n, x, y in re.findall(r"(\w+) \[[^\]]*pos=\"([-\d.]+),([-\d.]+)!\"", dot)}
    stages = {n: p for n, p in pos.items() if n in ("collection", "storage", "analysis", "application", "feedback")}
    labels = {n: p for n, p in pos.items() if n.startswith("label_")}
    assert "label_analysis_application" in labels and "insights die" in dot
    links = [line for line in dot.splitlines() if " -> " in line]
    assert len(links) == 5 and not any("label=" in line for line in links)  # no midpoint label a box could hide
    for name, (x, y) in labels.items():
        for stage, (sx, sy) in stages.items():
            inside = abs(x - sx) < NODE_WIDTH_IN / 2 and abs(y - sy) < NODE_HEIGHT_IN / 2
            assert not inside, (name, stage)
    width_in = max(abs(x) for x, _ in stages.values()) * 2 + NODE_WIDTH_IN
    assert width_in * 72 <= MAX_WIDTH_PT  # drawn at natural size it fits a 1280-px window's column, unshrunk


def test_map_loop_dropdowns_and_tables_show_words_not_ids(make_app) -> None:
    at = make_app(PAGE)
    assert at.selectbox(key="map.collection.automated").options == [
        "Yes, runs on its own",
        "Partly by hand",
        "No, a person every cycle",
    ]
    assert "Note-taking" in at.selectbox(key="map.template").options
    risk = _columns(at, "risk")["risk"]["type_config"]["options"]
    assert {"value": "model_collapse", "label": "Model collapse"} in risk
    assert _columns(at, "risk")["own"]["label"] == "Or your own risk"  # free text has a column of its own
    assert {"value": "explicit", "label": "Explicit"} in _columns(at, "name")["kind"]["type_config"]["options"]
    assert at.number_input(key="map.collection.latency_hours").proto.format == "%g"  # 336, not 336.00
    labels = [t.label for t in at.text_input]
    assert "Expert seeding over data hoarding" in labels  # each cold-start note is labelled by its strategy


def test_map_loop_a_risk_typed_as_free_text_is_kept(make_app, app_env) -> None:
    at = make_app(PAGE)
    data = template_map("netflix").to_json()
    data["risks"] = [{"risk": "Vendor lock-in", "likelihood": "high", "impact": "high", "mitigation": ""}]
    at.file_uploader(key="map.import").set_value(("own.json", json.dumps(data).encode(), "application/json")).run()
    assert any("Vendor lock-in (likelihood high, impact high)" in shown(m.value) for m in at.markdown)
    at.button(key="map.save").click().run()
    store = Store(load_settings(app_env))
    saved = store.get_loop_version(workspace_id=store.list_workspaces()[0].id, name=data["name"])
    assert saved.content["risks"][0]["risk"] == "Vendor lock-in"


def test_map_loop_table_rows_left_out_are_said_not_dropped_silently() -> None:
    import pandas as pd

    from ui.loop_widgets import _records

    frame = pd.DataFrame(
        [
            {"risk": None, "own": None, "likelihood": "medium", "impact": "medium", "mitigation": "an audit"},
            {"risk": None, "own": None, "likelihood": "medium", "impact": "medium", "mitigation": None},
            {"risk": None, "own": "Vendor lock-in", "likelihood": "low", "impact": "high", "mitigation": ""},
        ]
    )
    columns = ("risk", "own", "likelihood", "impact", "mitigation")
    rows, left_out = _records(frame, columns, ("risk", "own"), {"likelihood": "medium", "impact": "medium"})
    assert [r["own"] for r in rows] == ["Vendor lock-in"]
    assert left_out == [1]  # typed a mitigation but chose no risk: said; the untouched blank row is not


def test_map_loop_one_cycle_time_labelled_beside_the_entered_one(make_app) -> None:
    at = make_app(PAGE)
    at.selectbox(key="map.template").set_value("tesla")
    at.button(key="map.template_button").click().run()
    assert [m.value for m in at.metric if m.label == "Cycle time"] == ["53 days"]
    said = " ".join(shown(c.value) for c in at.caption)
    assert "Cycle time: 53 days (cycle time = the sum of the stages' latencies)" in said
    assert "entered as event to model in production: 53 days" in said
    assert "the simulator's tornado on Compounding vs plateau reads its own parameters" in said.replace("The", "the")


def test_map_loop_note_is_cleared_after_saving(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.text_input(key="map.name").set_value("Noted")
    _fill_stage(at, "collection", system="Logger", health=4)
    at.text_input(key="map.note").set_value("first cut")
    at.button(key="map.save").click().run()
    assert any("version 1" in s.value for s in at.success)
    assert at.text_input(key="map.note").value == ""
    at.button(key="map.save").click().run()
    store = Store(load_settings(app_env))
    versions = store.loop_versions(workspace_id=store.list_workspaces()[0].id, name="Noted")
    assert [v.note for v in versions] == ["first cut", ""]  # the note did not follow into version 2


def test_map_loop_after_a_conflict_the_caption_names_the_next_version(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.selectbox(key="map.template").set_value("harvey")
    at.button(key="map.template_button").click().run()
    at.button(key="map.save").click().run()
    store = Store(load_settings(app_env))
    workspace = store.list_workspaces()[0]
    name = at.text_input(key="map.name").value
    store.save_loop(
        workspace_id=workspace.id, name=name, content=template_map("harvey").to_json(), actor="bob", base_version=1
    )
    at.text_input(key="map.product").set_value("Mine").run()
    at.button(key="map.save").click().run()
    said = " ".join(shown(c.value) for c in at.caption)
    assert "version 2 was saved since" in said and "to save it as version 3" in said
    assert "Saving makes version 2" not in said
