"""AppTest: the report downloads prepare on demand, per workspace, with a safe CSV of the model registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from flywheel_core.demo import DEMO_WORKSPACE, load_demo_workspace
from flywheel_core.storage.models import ModelVersion
from flywheel_core.storage.store import Store

SCRIPT = Path(__file__).with_name("report_app.py")


def _keys(at: AppTest) -> set[str]:
    return {str(el.proto.id).rsplit("-", 1)[-1] for el in at.get("download_button")}


@pytest.fixture
def demo(store: Store, app_env: dict[str, str]) -> int:
    load_demo_workspace(store, actor="local", n_events=1_000)
    workspace_id = store.get_workspace(name=DEMO_WORKSPACE).id
    assert workspace_id is not None
    dataset = store.list_datasets(workspace_id=workspace_id)[0]
    assert dataset.id is not None
    for turn, rows in enumerate((500, 1_000, 2_000), start=1):
        version = ModelVersion(
            workspace_id=workspace_id,
            dataset_id=dataset.id,
            version=0,
            run_id=f"r{turn}",
            task="feedback",
            algorithm="=cmd|' /C calc'!A0",
            turn=turn,
            train_rows=rows,
            metrics={"holdout_auc": 0.6 + 0.02 * turn},
        )
        store.add_model_version(workspace_id=workspace_id, version=version, actor="local")
    return workspace_id


def _app(workspace: str) -> AppTest:
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.session_state["app.workspace_request"] = workspace
    return at.run()


def test_report_downloads_appear_after_prepare(demo: int) -> None:
    at = _app(DEMO_WORKSPACE)
    assert not at.exception
    assert _keys(at) == {"report.csv"}  # the registry is cheap; the report waits for the button
    at.button(key="report.prepare").click().run()
    assert not at.exception
    assert _keys(at) == {"report.html", "report.md", "report.csv"}
    prepared = at.session_state["report.prepared"]
    assert prepared.workspace_id == demo
    assert b"Workspace report: Demo" in prepared.html and b"Plotly.newPlot(" in prepared.html
    assert prepared.markdown.startswith(b"# Workspace report: Demo")
    assert "Prepared 20" in " ".join(c.value for c in at.caption)


def test_prepared_report_does_not_follow_another_workspace(demo: int, store: Store) -> None:
    store.create_workspace(name="Other", actor="local")
    at = _app(DEMO_WORKSPACE)
    at.button(key="report.prepare").click().run()
    assert "report.html" in _keys(at)
    at.session_state["app.workspace_request"] = "Other"
    at.run()
    assert not at.exception
    assert _keys(at) == set()  # no Demo report, and no versions to export in Other
    assert "Prepare the report to download it" in " ".join(c.value for c in at.caption)
