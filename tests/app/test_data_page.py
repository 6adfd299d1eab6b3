"""The Interaction data page: upload with mapping, report, datasets, Explore charts, bad files."""

from __future__ import annotations

import json

from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store
from tests.app.conftest import shown
from tests.conftest import DEMO_EVENTS, OTTO

PAGE = "pages/interaction_data.py"


def _datasets(app_env) -> list[str]:
    store = Store(load_settings(app_env))
    workspace = store.get_workspace(name="Default")
    return [d.name for d in store.list_datasets(workspace_id=workspace.id)]


def test_upload_otto_maps_columns_and_stores(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.get("file_uploader")[0].upload("events.csv", OTTO.read_bytes(), "text/csv").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="data.role.user").value == "— each session is a user —"  # OTTO has no user column
    assert at.selectbox(key="data.role.timestamp").value == "ts_ms"
    at.selectbox(key="data.role.item").set_value("aid")
    at.text_input(key="data.name").set_value("otto")
    at.button(key="data.import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Stored **862** of 862 rows" in s.value for s in at.success)
    assert _datasets(app_env) == ["otto"]


def test_bad_file_shows_a_clear_message_and_stores_nothing(make_app, app_env) -> None:
    at = make_app(PAGE)
    at.get("file_uploader")[0].upload("events.csv", OTTO.read_bytes(), "text/csv").run()
    at.text_input(key="data.name").set_value("first")
    at.button(key="data.import").click().run()
    assert _datasets(app_env) == ["first"]
    bad = b"user,timestamp,event\nu1,2026-01-01,click\nu2,not a date,click\n"
    at.get("file_uploader")[0].upload("bad.csv", bad, "text/csv").run()
    at.text_input(key="data.name").set_value("second")
    at.button(key="data.import").click().run()
    assert not at.exception
    messages = [shown(e.value) for e in at.error]
    assert any("'bad.csv' was not stored" in m and "row 2: 'not a date'" in m for m in messages), messages
    assert _datasets(app_env) == ["first"]


def test_explore_shows_every_chart_for_the_demo(make_app, demo_instance) -> None:
    at = make_app(PAGE, workspace="Demo")
    assert not at.get("plotly_chart")  # the Explore tab computes nothing until it is opened
    at.session_state["data.tab"] = "Explore"
    at.run()
    at.selectbox(key="data.explore.dataset").set_value("Support assistant (demo)").run()
    assert not at.exception, at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    for expected in (
        "Events per",
        "Signal mix",
        "Active users",
        "New vs returning",
        "Weekly retention",
        "Item popularity long tail",
        "Explicit ratings",
        "Events per user",
    ):
        assert any(t.startswith(expected) for t in titles), (expected, titles)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events"] == f"{DEMO_EVENTS:,}" and metrics["Items"] == "24"


def test_a_pandas_export_maps_explicitly_lists_every_event_and_shows_quality(make_app, app_env) -> None:
    from tests.core.test_ingest_quality import analyst_log

    at = make_app(PAGE)
    at.get("file_uploader")[0].upload("recs.csv", analyst_log(first_click=587, copies=2), "text/csv").run()
    assert not at.exception, at.exception
    assert any("Header column 1 has no name" in shown(i.value) for i in at.info)
    assert at.selectbox(key="data.role.user").value is None  # never the row index (column_1) by default
    assert at.selectbox(key="data.role.event").value == "click"
    assert not [b for b in at.button if b.key == "data.import"]  # no import until the user is chosen
    at.selectbox(key="data.role.user").set_value("— several columns (one key) —").run()
    at.multiselect(key="data.role.user.parts").set_value(["age", "country", "device", "plan"]).run()
    editor = at.dataframe[-1].value
    assert dict(zip(editor["event"], editor["rows"], strict=True)) == {"0": 1456, "1": 144}  # 1 first at row 587
    at.selectbox(key="data.role.event").set_value("item_id").run()
    assert any("Column 'item_id' is mapped to two roles, 'event' and 'item'" in shown(e.value) for e in at.error)
    assert not [b for b in at.button if b.key == "data.import"]
    at.selectbox(key="data.role.event").set_value("click").run()
    at.button(key="data.check").click().run()
    assert not at.exception, at.exception
    assert any("exact duplicates" in shown(w.value) for w in at.warning) and _datasets(app_env) == []
    at.text_input(key="data.name").set_value("recs")
    at.button(key="data.import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Stored **1,600** of 1,600 rows" in s.value for s in at.success)
    warnings = [shown(w.value) for w in at.warning]
    assert any("800 rows (50%) are exact duplicates" in w for w in warnings), warnings
    assert _datasets(app_env) == ["recs"]


def test_dropping_duplicates_on_the_page(make_app, app_env) -> None:
    from tests.core.test_ingest_quality import analyst_log

    at = make_app(PAGE)
    at.get("file_uploader")[0].upload("recs.csv", analyst_log(n=100, first_click=5, copies=3), "text/csv").run()
    at.selectbox(key="data.role.user").set_value("— one anonymous user for all rows —").run()
    at.checkbox(key="data.drop_duplicates").check().run()
    at.text_input(key="data.name").set_value("once")
    at.button(key="data.import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Stored **100** of 300 rows" in s.value and "200 duplicates dropped" in s.value for s in at.success)
    warnings = [shown(w.value) for w in at.warning]
    assert any("were exact duplicates of another row and were dropped" in w for w in warnings)
    assert any("One anonymous user for all rows" in w for w in warnings)


def test_the_datasets_tab_remaps_meanings_without_a_new_import(make_app, demo_instance) -> None:
    from flywheel_core.config import load_settings as _settings
    from flywheel_core.data import api as data_api
    from flywheel_core.storage.store import Store as _Store

    at = make_app(PAGE, workspace=demo_instance)
    at.selectbox(key="data.meanings.dataset").set_value("Music streaming (demo)").run()
    rules = next(a for a in at.text_area if a.key and a.key.startswith("data.meanings.rules."))
    rules.set_value("stream: value < 45 -> negative:2").run()
    at.button(key="data.meanings.save").click().run()
    assert not at.exception, at.exception
    assert any("Saved signal dictionary v2" in s.value for s in at.success)
    store = _Store(_settings())
    ws = store.get_workspace(name=demo_instance)
    info = data_api.get_dataset(store, workspace_id=ws.id, name="Music streaming (demo)", actor="local")
    assert info.signals.version == 2 and info.signals.explain_rules() == [
        "'stream' with value < 45 counts as negative (weight 2)"
    ]
    rules.set_value("stream < 45").run()
    at.button(key="data.meanings.save").click().run()
    assert any("expected 'EVENT: value OP NUMBER" in shown(e.value) for e in at.error)


def test_explore_retention_shows_a_percentage_in_every_cell_and_a_curve_beside_it(make_app, demo_instance) -> None:
    at = make_app(PAGE, workspace="Demo")
    at.session_state["data.tab"] = "Explore"
    at.run()
    specs = {
        json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in at.get("plotly_chart")
    }
    heatmap = specs["Weekly retention by first-week cohort"]
    week0, later = heatmap["data"]
    assert later["texttemplate"] == "%{text}" and all(cell.endswith("%") for cell in week0["text"][0])
    assert later["zmin"] == 0 and later["x"][0] == 1  # the colour scale starts at week 1
    assert "Retention curve" in specs


def test_explore_a_one_item_catalogue_says_why_there_is_no_long_tail(make_app, app_env) -> None:
    at = make_app(PAGE)
    rows = "".join(f"u{i % 7},2026-01-{1 + i % 20:02d},click,only-item\n" for i in range(60))
    at.get("file_uploader")[0].upload("one.csv", ("user,timestamp,event,item\n" + rows).encode(), "text/csv").run()
    at.text_input(key="data.name").set_value("one item")
    at.button(key="data.import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.session_state["data.tab"] = "Explore"
    at.run()
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert not any(t.startswith("Item popularity long tail") for t in titles)
    assert any("No long tail to draw" in shown(i.value) and "1 item" in shown(i.value) for i in at.info)


def test_the_uploader_refuses_in_the_browser_what_the_import_would(make_app, monkeypatch) -> None:
    """One upload limit: the uploader tells the browser FLYWHEEL_MAX_UPLOAD_MB, not Streamlit's own default."""
    monkeypatch.setenv("FLYWHEEL_MAX_UPLOAD_MB", "50")
    at = make_app(PAGE)
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 50
    assert "Up to 50 MB" in uploader.proto.help
