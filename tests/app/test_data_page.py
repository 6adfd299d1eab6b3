"""The Interaction data page: upload with mapping, report, datasets, Explore charts, bad files."""

from __future__ import annotations

import json

from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store
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
    assert at.selectbox(key="data.role.user").value == "session"  # OTTO has no user column: sessions are users
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
    messages = [e.value for e in at.error]
    assert any("'bad.csv' was not stored" in m and "row 2: 'not a date'" in m for m in messages), messages
    assert _datasets(app_env) == ["first"]


def test_explore_shows_every_chart_for_the_demo(make_app, demo_instance) -> None:
    at = make_app(PAGE, workspace="Demo")
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
