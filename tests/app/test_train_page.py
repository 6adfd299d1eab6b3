"""Train & compare page: pick a dataset, run (inline, through the job function), registry, chart, compare."""

from __future__ import annotations

import json

import pytest

from flywheel_core.config import load_settings
from flywheel_core.storage.store import Store

PAGE = "pages/train_compare.py"


@pytest.fixture
def demo(app_env, demo_instance: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("FLYWHEEL_JOBS_INLINE", "1")
    return Store(load_settings(app_env))


def _specs(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def test_train_page_empty_workspace_says_what_to_do(make_app) -> None:
    at = make_app(PAGE)
    assert not at.exception
    assert any("No datasets" in i.value for i in at.info)


def test_train_page_trains_then_shows_registry_chart_and_compare(make_app, demo: Store) -> None:
    at = make_app(PAGE, workspace="Demo")
    assert not at.exception, at.exception
    at.selectbox(key="train_compare.dataset").set_value("Support assistant (demo)")
    at.slider(key="train_compare.turns").set_value(3)
    workspace = demo.get_workspace(name="Demo")
    dataset = demo.get_dataset(workspace_id=workspace.id, name="Support assistant (demo)")
    before = len(demo.list_model_versions(workspace_id=workspace.id, dataset_id=dataset.id))  # the demo's own
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    job = demo.list_jobs(workspace_id=workspace.id)[0]
    assert job.status == "done" and len(job.result["versions"]) == 3
    at.run()
    runs = next(df.value for df in at.dataframe if "Made" in df.value.columns)
    assert runs["Made"].iloc[0] == f"versions {before + 1}–{before + 3}"  # a finished run says what it made
    registry = next(df.value for df in at.dataframe if "train_rows" in df.value.columns)
    assert list(registry["version"]) == list(range(1, before + 4))  # numbering continues after the demo's versions
    assert {"holdout rows", "holdout positives", "holdout_auc 95% CI"} <= set(registry.columns)
    import json

    shown = next(df for df in at.dataframe if "train_rows" in df.value.columns)
    config = json.loads(shown.proto.columns)  # the table's column formats, as the browser receives them
    assert config["train_rows"]["type_config"]["format"] == "localized"  # 12,440, not 12440
    assert config["holdout_auc"]["type_config"]["format"] == "%.3f" and config["version"]["label"] == "Version"
    specs = _specs(at)
    by_turn = next(s for s in specs if "by turn, with 95% intervals" in s["layout"]["title"]["text"])
    assert any(trace.get("error_y", {}).get("array") for trace in by_turn["data"])  # intervals drawn as bars
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert any("ROC" in t for t in titles) and any("Calibration" in t for t in titles)
    compare = next(df.value for df in at.dataframe if "reading" in df.value.columns)
    assert {"change", "change 95% CI", "basis"} <= set(compare.columns)
    assert set(compare["reading"]) <= {"better", "worse", "no detectable difference", "not enough feedback to compare"}


def test_train_page_runs_an_experiment_with_its_options_and_shows_effect_interval_and_conclusion(
    make_app, demo: Store
) -> None:
    at = make_app(PAGE, workspace="Demo")
    at.selectbox(key="train_compare.dataset").set_value("Vehicle fleet (demo)")
    at.selectbox(key="train_compare.experiment").set_value("capture").run()
    assert at.slider(key="train_compare.repeats").value == 5  # the declared default
    at.slider(key="train_compare.repeats").set_value(2)
    at.number_input(key="train_compare.label_budget").set_value(12)
    at.button(key="train_compare.run_experiment").click().run()
    assert not at.exception, at.exception
    at.run()
    workspace = demo.get_workspace(name="Demo")
    assert demo.list_jobs(workspace_id=workspace.id)[0].params["options"] == {"label_budget": 12, "repeats": 2}
    assert any("12 labels per turn" in m.value and "95% interval" in m.value for m in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Repeats scored"].endswith("of 2")
    assert metrics["Conclusion"] in ("Effect", "No effect", "Inconclusive")
    assert "Effect" in metrics and "95% interval" in metrics
    titles = [s["layout"]["title"]["text"] for s in _specs(at)]
    assert any("Selective capture" in t and "repeats" in t for t in titles)
    at.selectbox(key="train_compare.experiment").set_value("network").run()
    assert at.slider(key="train_compare.network.cohort_share").value == 0.5


def test_train_page_shows_a_failed_run_clearly(make_app, demo: Store) -> None:
    at = make_app(PAGE, workspace="Demo")
    at.selectbox(key="train_compare.dataset").set_value("Music streaming (demo)")
    at.selectbox(key="train_compare.experiment").set_value("weighting")
    at.run()
    at.selectbox(key="train_compare.dataset").set_value("Vehicle fleet (demo)")
    at.button(key="train_compare.run_experiment").click().run()
    assert not at.exception
    assert any("strong positives" in e.value for e in at.error)
