"""The Compounding vs plateau page: each source that needs no data, the simulator tab, and model versions."""

from __future__ import annotations

import json

import pytest

PAGE = "pages/curves.py"


def _specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _titles(at) -> list[str]:
    return [spec["layout"]["title"]["text"] for spec in _specs(at)]


@pytest.mark.slow
def test_curves_page_typed_values_show_perplexity_as_compounding(make_app) -> None:
    at = make_app(PAGE)
    assert not at.exception
    assert any("Compounding" in s.value for s in at.success)
    assert any("queries per month vs months since May 2024" in t for t in _titles(at))


@pytest.mark.slow
def test_curves_page_simulation_source_judges_a_preset(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("Simulation").run()
    at.selectbox(key="curves.sim_source").set_value("klarna").run()
    assert not at.exception
    assert any("Plateau" in w.value for w in at.warning)


@pytest.mark.slow
def test_curves_page_model_versions_without_data_says_what_to_do(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("Model versions").run()
    assert not at.exception
    assert any("Train versions" in i.value for i in at.info)


@pytest.mark.slow
def test_curves_page_csv_source_waits_for_an_upload(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("CSV upload").run()
    assert not at.exception
    assert any("Upload a CSV" in i.value for i in at.info)


@pytest.mark.slow
def test_curves_page_simulator_compares_scenarios_with_bands_and_tornado(make_app) -> None:
    at = make_app(PAGE)
    at.selectbox(key="curves.sim.preset").set_value("netflix-velocity").run()
    at.multiselect(key="curves.sim.compare").set_value(["bank-velocity"]).run()
    assert not at.exception
    titles = _titles(at)
    assert any(t.startswith("Simulated product quality") for t in titles)
    assert any(t.startswith("Which component drags most") for t in titles)
    sim = next(s for s in _specs(at) if s["layout"]["title"]["text"].startswith("Simulated"))
    names = [trace.get("name", "") for trace in sim["data"]]
    assert any("netflix-velocity: median" in n for n in names)
    assert any("bank-velocity: median" in n for n in names)
    assert any("5–95%" in n for n in names)


@pytest.mark.slow
def test_curves_page_slider_change_reruns_the_simulation(make_app) -> None:
    at = make_app(PAGE)
    at.selectbox(key="curves.sim.preset").set_value("spotify").run()
    at.slider(key="curves.sim.spotify.synthetic_share").set_value(1.0).run()
    assert not at.exception
    assert any("Spotify: spinning backward" in e.value for e in at.error)


def _seed_versions(store, settings) -> None:
    from flywheel_core.data.api import ingest_file
    from flywheel_core.storage.models import ModelVersion

    ws = store.ensure_workspace(name=settings.default_workspace, actor="local")
    lines = ["user,item,timestamp,event"]
    for u in range(60):
        for week in range(8 if u % 3 else 3):
            lines.append(f"u{u},i{(u + week) % 7},2026-01-{1 + week * 3:02d}T10:00:00,click")
    ingest_file(store, workspace_id=ws.id, source="\n".join(lines).encode(), dataset="clicks", actor="local")
    dataset = store.get_dataset(workspace_id=ws.id, name="clicks")
    for k in range(8):
        rows = 1000 * 2**k
        auc = 0.80 - 0.25 * (rows / 1000) ** -0.7
        version = ModelVersion(
            workspace_id=ws.id,
            dataset_id=dataset.id,
            version=0,
            run_id=f"r{k}",
            task="feedback",
            algorithm="logistic",
            params={},
            turn=k,
            train_rows=rows,
            metrics={"auc": auc, "log_loss": 0.7 - auc / 2},
        )
        store.add_model_version(workspace_id=ws.id, version=version, actor="local")


@pytest.mark.slow
def test_curves_page_model_versions_give_a_verdict_and_calibrate(make_app, store, settings) -> None:
    _seed_versions(store, settings)
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("Model versions").run()
    assert not at.exception
    assert at.selectbox(key="curves.metric").value == "auc"
    assert any("Plateau" in w.value for w in at.warning)
    assert any(t == "AUC (next turn) vs training rows: <span style='color:#c77d0a'>plateau</span>" for t in _titles(at))
    at.button(key="curves.cal.run").click().run()
    assert not at.exception
    assert any("Learning curve: ceiling" in m.value for m in at.markdown)


@pytest.mark.slow
def test_curves_page_judges_every_series_of_a_long_format_upload(make_app) -> None:
    lines = ["model,train_rows,auc"]
    for k in range(6):
        rows = 1000 * 2**k
        lines += [f"grows,{rows},{0.60 + 0.02 * k:.3f}", f"flat,{rows},{0.80 + 0.0005 * (k % 2):.4f}"]
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("CSV upload").run()
    at.get("file_uploader")[0].upload("runs.csv", "\n".join(lines).encode(), "text/csv").run()
    at.selectbox(key="curves.csv_x").set_value("train_rows").run()
    at.selectbox(key="curves.csv_y").set_value("auc").run()
    assert at.selectbox(key="curves.csv_by").value == "model"  # the text column is taken as the series name
    assert not at.exception
    table = at.dataframe[0].value
    verdicts = dict(zip(table["series"], table["verdict"], strict=True))
    assert verdicts == {"flat": "Plateau", "grows": "Compounding"}
    assert any(r"The next three doublings of train\_rows" in w.value for w in at.warning)  # the first series shown


@pytest.mark.slow
def test_curves_page_shows_a_hostile_column_name_as_text(make_app) -> None:
    hostile = "![p](http://127.0.0.1:9/p.png)"
    rows = "\n".join(f"{1000 * 2**k},{0.6 + 0.02 * k:.3f}" for k in range(6))
    at = make_app(PAGE)
    at.radio(key="curves.source").set_value("CSV upload").run()
    at.get("file_uploader")[0].upload("runs.csv", f'"{hostile}",auc\n{rows}'.encode(), "text/csv").run()
    assert not at.exception
    boxes = [b.value for b in (*at.success, *at.warning, *at.error, *at.info)]
    verdict = next(v for v in boxes if "expected to add" in v)
    assert "![p](" not in verdict and r"\!\[p\]\(http" in verdict  # rendered as text, never fetched as an image
