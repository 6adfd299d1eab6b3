"""Importing the team's model versions: from a tracking store MLflow writes here, and from CSV / JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flywheel_core.curves.sources import judge_model_versions
from flywheel_core.data.api import store_frame
from flywheel_core.demo_production import make_production_events
from flywheel_core.exceptions import ConfigurationError, DataValidationError, NotFoundError
from flywheel_core.learning import api
from flywheel_core.learning.imports import read_versions_file
from flywheel_core.learning.registry import compare_versions, registry_table, version_row
from flywheel_core.storage.store import Store

SIZES = [2_000, 4_000, 8_000, 16_000, 32_000]
AUCS = [0.640, 0.672, 0.695, 0.712, 0.724]
DATASET = "ranker"


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite tracking store written by MLflow's own client: five finished runs on growing data with a
    growing AUC (and its interval and holdout counts), plus one run still running."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("ranker-weekly")
    start = 1_767_225_600_000  # 2026-01-01, in ms
    for week, (rows, auc) in enumerate(zip(SIZES, AUCS, strict=True)):
        run = client.create_run(experiment, start_time=start + week * 7 * 86_400_000, run_name=f"week-{week + 1}")
        run_id = run.info.run_id
        client.log_param(run_id, "train_rows", rows)
        client.log_param(run_id, "model", "lightgbm")
        for name, value in {
            "auc": auc,
            "auc_low": auc - 0.012,
            "auc_high": auc + 0.012,
            "log_loss": 0.6 - auc / 4,
            "holdout_rows": 5_000,
            "holdout_positives": 900,
        }.items():
            client.log_metric(run_id, name, value)
        client.set_terminated(run_id)
    client.create_run(experiment, run_name="still-training")  # not finished: left out
    return uri


def _dataset(store: Store, workspace_id: int) -> None:
    store_frame(
        store, workspace_id=workspace_id, frame=make_production_events(2_000).events, dataset=DATASET, actor="local"
    )


def test_mlflow_runs_become_versions_that_compare_and_get_a_verdict(
    mlflow_store: str, store: Store, workspace_id: int
) -> None:
    _dataset(store, workspace_id)
    result = api.import_versions(
        store,
        workspace_id=workspace_id,
        dataset_name=DATASET,
        actor="local",
        mlflow_uri=mlflow_store,
        experiment="ranker-weekly",
        x_param="train_rows",
    )
    versions = list(result.imported)
    assert [v.train_rows for v in versions] == SIZES
    assert [v.metrics["auc"] for v in versions] == pytest.approx(AUCS)
    assert versions[0].intervals["auc"] == pytest.approx((0.628, 0.652))
    assert versions[0].counts["holdout"].rows == 5_000 and versions[0].counts["holdout"].positives == 900
    assert {v.algorithm for v in versions} == {"imported:mlflow"} and [v.turn for v in versions] == [1, 2, 3, 4, 5]
    assert versions[0].created_at.isoformat().startswith("2026-01-01")
    assert len(result.left_out) == 1 and "still-training" in result.left_out[0]
    # The registry's table and JSON mark them imported; the stored row keeps the run and its params.
    table = registry_table(versions)
    assert set(table["algorithm"]) == {"imported:mlflow"} and table["auc 95% CI"].iloc[0] == "0.628–0.652"
    assert version_row(versions[-1])["algorithm"] == "imported:mlflow"
    rows = store.list_model_versions(workspace_id=workspace_id)
    assert rows[0].params["source"]["kind"] == "mlflow" and rows[0].params["source"]["label"] == "week-1"
    assert rows[0].params["imported_params"] == {"train_rows": "2000", "model": "lightgbm"}
    # Compare reads their intervals; the verdict rests on all five points.
    report = compare_versions([versions[0], versions[-1]])
    auc = report.metrics.set_index("metric").loc["auc"]
    assert auc["reading"] == "better" and auc["basis"] == "unpaired (conservative)"
    verdict = judge_model_versions(
        api.list_model_versions(store, workspace_id=workspace_id, dataset_id=rows[0].dataset_id, actor="local")
    )
    assert verdict.metric == "auc" and verdict.points == 5 and verdict.verdict.value != "insufficient_data"
    # Importing again adds nothing: the runs are already in the registry.
    again = api.import_versions(
        store, workspace_id=workspace_id, dataset_name=DATASET, actor="local",
        mlflow_uri=mlflow_store, experiment="ranker-weekly",
    )  # fmt: skip
    assert again.imported == () and len(again.already_imported) == 5


def test_mlflow_errors_name_the_run_the_experiment_or_the_store(
    mlflow_store: str, store: Store, workspace_id: int, tmp_path: Path
) -> None:
    _dataset(store, workspace_id)

    def load(**options: str) -> object:
        return api.import_versions(store, workspace_id=workspace_id, dataset_name=DATASET, actor="local", **options)

    with pytest.raises(DataValidationError, match=r"run 'week-1' .* no whole, positive param or metric 'rows_seen'"):
        load(mlflow_uri=mlflow_store, experiment="ranker-weekly", x_param="rows_seen")
    with pytest.raises(NotFoundError, match=r"has no experiment 'nope'; its experiments: .*ranker-weekly"):
        load(mlflow_uri=mlflow_store, experiment="nope")
    with pytest.raises(NotFoundError, match="No MLflow database at"):
        load(mlflow_uri=f"sqlite:///{tmp_path / 'missing.db'}", experiment="ranker-weekly")
    (tmp_path / "mlruns").mkdir()
    with pytest.raises(ConfigurationError, match="MLFLOW_ALLOW_FILE_STORE=true"):
        load(mlflow_uri=str(tmp_path / "mlruns"), experiment="ranker-weekly")
    assert store.list_model_versions(workspace_id=workspace_id) == []  # nothing was stored


CSV = b""",version,trained_at,train_rows,auc,auc_low,auc_high,holdout_rows,holdout_positives,notes
0,w1,2026-01-05,1000,0.61,0.58,0.64,4000,700,first
1,w2,2026-01-12,2000,0.65,0.62,0.68,4000,700,
2,w3,2026-01-19,4000,0.67,0.64,0.70,4000,700,more data
3,w4,2026-01-26,8000,0.69,0.66,0.72,40,3,thin holdout
"""


def test_a_csv_of_versions_imports_intervals_counts_and_the_minimum_sample(store: Store, workspace_id: int) -> None:
    _dataset(store, workspace_id)
    result = api.import_versions(
        store, workspace_id=workspace_id, dataset_name=DATASET, actor="local", file=CSV, file_name="versions.csv"
    )
    v = list(result.imported)
    assert [x.train_rows for x in v] == [1000, 2000, 4000, 8000] and v[0].algorithm == "imported:file"
    assert v[1].intervals["auc"] == (0.62, 0.68) and v[1].counts["holdout"].positives == 700
    # Three positives in the holdout: not scored, like a trained version, and left out of the verdict.
    assert v[3].metrics["auc"] is None and "3 positives in the holdout" in v[3].unscored["auc"]
    verdict = judge_model_versions(v)
    assert verdict.points == 3 and verdict.left_out == 1
    rows = store.list_model_versions(workspace_id=workspace_id)
    assert rows[0].params["imported_params"] == {"notes": "first"}  # a text column is a param, not a metric


def test_a_json_file_of_versions_reads_like_the_csv() -> None:
    data = [
        {"version": "a", "trained_at": "2026-02-01T10:00:00Z", "data_size": 100, "auc": 0.6},
        {"version": "b", "trained_at": "2026-02-08T10:00:00Z", "data_size": 200, "auc": 0.62, "brier": None},
    ]
    batch = read_versions_file(json.dumps({"versions": data}).encode(), name="v.json")
    assert [v.train_rows for v in batch.versions] == [100, 200]
    assert batch.versions[1].unscored["brier"] == "not reported by the import"
    assert batch.versions[0].trained_at is not None and batch.versions[0].trained_at.hour == 10


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            b"version,train_rows,auc\na,10,0.6\nb,20,0.7x\n",
            r"row 2 \(line 3\), column 'auc': not a number \(e.g. '0.7x'\)",
        ),
        (b"version,auc\na,0.6\n", "needs a column with each version's data size: train_rows"),
        (
            b"version,train_rows,auc\na,-5,0.6\n",
            r"row 1 \(line 2\), column 'train_rows': must be a whole number of rows",
        ),
        (b"version,train_rows,auc,auc_low,auc_high\na,10,0.9,0.5,0.6\n", "lies outside its interval"),
        (b"version,train_rows,auc,auc_low\na,10,0.6,0.5\n", "needs both 'auc_low' and 'auc_high'"),
        (b"version,train_rows,holdout_rows,holdout_positives\na,10,5,9\n", "between 0 and holdout_rows"),
        (b"version,train_rows,auc\na,10,0.6\na,20,0.7\n", "row 2 .*column 'version': version 'a' is also row 1"),
        (b"version,trained_at,train_rows\na,someday,10\n", "column 'trained_at': not a date"),
        (b'[{"version": "a"}, 3]', "expected a JSON list of versions"),
    ],
)
def test_bad_version_files_are_refused_naming_the_row_and_column(content: bytes, says: str) -> None:
    with pytest.raises(DataValidationError, match=says):
        read_versions_file(content, name="versions.csv")


def test_an_import_needs_exactly_one_source(store: Store, workspace_id: int) -> None:
    _dataset(store, workspace_id)
    with pytest.raises(DataValidationError, match="Import from one source"):
        api.import_versions(store, workspace_id=workspace_id, dataset_name=DATASET, actor="local")
