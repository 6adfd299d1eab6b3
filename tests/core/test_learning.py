"""Model versions turn by turn: history without leakage, turns, determinism, registry, compare."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flywheel_core.data.signals import SignalDictionary, SignalSpec
from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
from flywheel_core.exceptions import DataValidationError, InsufficientDataError, StorageError
from flywheel_core.learning.api import run_training
from flywheel_core.learning.registry import compare_versions, load_model, summarize_versions, version_infos
from flywheel_core.learning.turns import build_feedback_task, cut_turns, history_counts, train_feedback_versions
from flywheel_core.storage.store import Store


def _dictionary(archetype: str) -> SignalDictionary:
    return SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS[archetype].items()})


def _store_demo(store: Store, workspace_id: int, archetype: str, n: int = 2_000) -> str:
    from flywheel_core.data.api import store_frame

    name = f"{archetype}-demo"
    store_frame(
        store,
        workspace_id=workspace_id,
        frame=make_demo_events(archetype, n),
        dataset=name,
        actor="alice",
        signals={e: SignalSpec(*s) for e, s in DEMO_SIGNALS[archetype].items()},
        source_name=f"{archetype}.parquet",
    )
    return name


def test_history_counts_see_only_strictly_earlier_rows_of_the_group() -> None:
    group = np.array([0, 0, 0, 1, 0, 1])
    time_ns = np.array([1, 2, 2, 2, 3, 1])
    values = np.array([1.0, 1.0, 1.0, 5.0, 1.0, 2.0])
    # group 0: t1 -> 0; the two t2 rows see only t1 -> 1, 1; t3 sees 3. group 1: t1 -> 0, t2 -> 2.
    assert history_counts(group, time_ns, values).tolist() == [0.0, 1.0, 1.0, 2.0, 3.0, 0.0]


def test_no_leakage_when_twin_rows_share_a_timestamp() -> None:
    # Every interaction is logged twice at the same instant with the same random outcome. A history
    # feature that saw its twin (or anything later) would predict the label almost perfectly.
    rng = np.random.default_rng(0)
    n = 1_500
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10**6, n)), unit="s")
    liked = rng.random(n) < 0.5
    frame = pd.DataFrame(
        {
            "user": [f"u{u}" for u in rng.integers(0, 600, n)],
            "item": [f"i{i}" for i in rng.integers(0, 30, n)],
            "timestamp": times,
            "event": np.where(liked, "like", "dislike"),
        }
    )
    twins = pd.concat([frame, frame]).sort_values("timestamp", kind="stable").reset_index(drop=True)
    dictionary = SignalDictionary(
        events={"like": SignalSpec("explicit", "positive"), "dislike": SignalSpec("explicit", "negative")}
    )
    result = train_feedback_versions(twins, dictionary, n_turns=3, model="hgb", n_jobs=1)
    assert all(v.metrics["holdout_auc"] < 0.6 for v in result.versions)


def test_changing_a_future_event_does_not_change_earlier_features() -> None:
    events = make_demo_events("music", 2_000)
    dictionary = _dictionary("music")
    before = build_feedback_task(events, dictionary)
    changed = events.copy()
    last = len(changed) - 1
    changed.loc[last, "event"] = "skip" if changed.loc[last, "event"] != "skip" else "save"
    after = build_feedback_task(changed, dictionary)
    cutoff = events["timestamp"].iloc[last]
    earlier = before.time_ns < cutoff.value
    assert np.array_equal(before.X[earlier], after.X[earlier[: len(after.X)]])


def test_turns_keep_equal_timestamps_together_and_set_a_fixed_holdout() -> None:
    time_ns = np.repeat(np.arange(100), 3)
    for by in ("time", "events"):
        plan = cut_turns(time_ns, n_turns=4, by=by, holdout_fraction=0.2)
        turn = plan.turn_of(time_ns)
        assert set(turn) == {1, 2, 3, 4, 5}
        for t in range(100):
            assert len(set(turn[time_ns == t])) == 1
        assert (turn == 5).mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(InsufficientDataError, match="cannot make 40 turns"):
        cut_turns(np.arange(30), n_turns=40)
    with pytest.raises(DataValidationError, match=r"The 'by' parameter of cut_turns .*\{'time', 'events'\}"):
        cut_turns(time_ns, n_turns=3, by="weeks")


def test_versions_learn_from_turns_one_to_k_and_are_deterministic() -> None:
    events = make_demo_events("support", 3_000)
    first = train_feedback_versions(events, _dictionary("support"), n_turns=4, model="hgb", n_jobs=1)
    again = train_feedback_versions(events, _dictionary("support"), n_turns=4, model="hgb", n_jobs=2)
    rows = [v.train_rows for v in first.versions]
    assert rows == sorted(rows) and len(set(rows)) == 4
    assert [v.metrics for v in first.versions] == [v.metrics for v in again.versions]
    assert {"auc", "log_loss", "brier", "holdout_auc", "holdout_log_loss", "holdout_brier"} <= set(
        first.versions[0].metrics
    )
    assert first.versions[-1].metrics["holdout_auc"] > 0.7
    assert set(first.versions[-1].evaluation["segments"]) == {
        "new users",
        "returning users",
        "head items",
        "tail items",
    }
    assert "target_psi" in first.versions[1].drift and first.versions[0].drift == {}


def test_fits_run_on_a_dask_cluster_with_the_same_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    events = make_demo_events("fleet", 2_000)
    local = train_feedback_versions(events, _dictionary("fleet"), n_turns=3, n_jobs=1)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv("FLYWHEEL_DASK_SCHEDULER", cluster.scheduler_address)
        remote = train_feedback_versions(events, _dictionary("fleet"), n_turns=3)
    assert [v.metrics for v in local.versions] == [v.metrics for v in remote.versions]


def test_feedback_needs_both_polarities() -> None:
    events = make_demo_events("music", 1_000)
    all_positive = SignalDictionary(events={e: SignalSpec("implicit", "positive") for e in DEMO_SIGNALS["music"]})
    with pytest.raises(InsufficientDataError, match="only one polarity"):
        build_feedback_task(events, all_positive)


def test_registry_stores_skops_models_checked_by_hash(store: Store, workspace_id: int) -> None:
    name = _store_demo(store, workspace_id, "fleet")
    versions = run_training(store, workspace_id=workspace_id, dataset_name=name, actor="alice", n_turns=3, model="hgb")
    assert [v.version for v in versions] == [1, 2, 3] and {v.author for v in versions} == {"alice"}
    listed = store.list_model_versions(workspace_id=workspace_id, dataset_id=versions[0].dataset_id)
    assert [v.turn for v in listed] == [1, 2, 3] and all(v.model_hash for v in listed)
    model = load_model(store.read_model_bytes(listed[-1]))
    dataset = store.get_dataset(workspace_id=workspace_id, name=name)
    task = build_feedback_task(store.read_dataset_file(dataset), SignalDictionary.from_json(dataset.signal_dictionary))
    assert model.predict_proba(task.X[:5]).shape == (5, 2)
    path = Path(store.data_dir) / listed[-1].model_path
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(StorageError, match="does not match its recorded hash"):
        store.read_model_bytes(listed[-1])


def test_load_model_refuses_untrusted_types() -> None:
    import skops.io
    from sklearn.tree import DecisionTreeClassifier

    data = skops.io.dumps(DecisionTreeClassifier().fit([[0], [1]], [0, 1]))
    with pytest.raises(StorageError, match="does not load"):
        load_model(data)


def test_compare_shows_deltas_curves_and_segments(store: Store, workspace_id: int) -> None:
    name = _store_demo(store, workspace_id, "support")
    versions = version_infos(
        run_training(store, workspace_id=workspace_id, dataset_name=name, actor="alice", n_turns=3)
    )
    report = compare_versions(versions)
    auc = report.metrics.set_index("metric").loc["holdout_auc"]
    first, last = versions[0], versions[-1]
    assert auc["change"] == pytest.approx(last.metrics["holdout_auc"] - first.metrics["holdout_auc"], abs=1e-4)
    low, high = first.intervals["holdout_auc"]
    assert low < first.metrics["holdout_auc"] < high  # every scored metric carries its 95% interval
    assert auc["v1"] == first.value_text("holdout_auc") and "95% CI" in auc["v1"]
    assert auc["basis"] == "unpaired (conservative)"  # v1 and v3 are not consecutive turns
    assert auc["reading"] in {"better", "worse", "no detectable difference"}
    pair = compare_versions(versions[1:]).metrics.set_index("metric").loc["holdout_auc"]
    assert pair["basis"] == "paired DeLong on the holdout"  # consecutive turns of one run: the same rows
    assert first.counts["holdout"].rows > 0 and first.counts["holdout"].positives > 0
    assert set(report.curves[3]) == {"roc", "pr", "calibration"}
    assert set(report.segments["segment"]) >= {"new users", "head items"}
    with pytest.raises(DataValidationError, match="at least two"):
        compare_versions(versions[:1])
    summary = summarize_versions(versions)
    assert (
        summary.versions == 3
        and summary.metric == "holdout_auc"
        and summary.trend in {"improving", "flat", "declining"}
    )
    assert summarize_versions([]).trend == "none"


def test_unknown_model_and_task_are_clear_errors(store: Store, workspace_id: int) -> None:
    name = _store_demo(store, workspace_id, "support")
    with pytest.raises(DataValidationError, match=r"'model' parameter of run_training .*'logistic', 'hgb'.*'forest'"):
        run_training(store, workspace_id=workspace_id, dataset_name=name, actor="alice", model="forest")
    with pytest.raises(DataValidationError, match="'task' parameter of run_training"):
        run_training(store, workspace_id=workspace_id, dataset_name=name, actor="alice", task="regress")
    assert store.list_model_versions(workspace_id=workspace_id) == []


def test_a_model_trained_on_a_one_class_window_loads_back() -> None:
    from flywheel_core.learning.registry import model_bytes
    from flywheel_core.learning.scoring import fit_model

    estimator, _ = fit_model("logistic", np.zeros((5, 2)), np.ones(5))  # one class: the prior-rate model
    loaded = load_model(model_bytes(estimator))
    assert np.allclose(loaded.predict_proba(np.zeros((3, 2)))[:, 1], 1.0)


def _sparse_click_log(n: int = 6_000, holdout_clicks: int = 1) -> pd.DataFrame:
    """A recommendation log of impressions with clicks early on and only ``holdout_clicks`` at the end."""
    rng = np.random.default_rng(11)
    minutes = np.sort(rng.integers(0, 60 * 24 * 60, n))
    clicked = rng.random(n) < 0.05
    late = minutes >= np.quantile(minutes, 0.8)
    clicked[late] = False
    clicked[np.flatnonzero(late)[-holdout_clicks:]] = True  # in the last days: the holdout
    return pd.DataFrame(
        {
            "user": [f"u{u}" for u in rng.integers(0, 400, n)],
            "item": [f"i{i}" for i in rng.integers(0, 50, n)],
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="min"),
            "event": np.where(clicked, "click", "impression"),
        }
    )


def test_a_holdout_with_one_positive_is_not_scored_and_says_so(store: Store, workspace_id: int) -> None:
    from flywheel_core.curves.api import judge_dataset
    from flywheel_core.data.api import store_frame

    signals = {"click": SignalSpec("implicit", "positive", 1.0), "impression": SignalSpec("implicit", "negative", 1.0)}
    store_frame(store, workspace_id=workspace_id, frame=_sparse_click_log(), dataset="clicks", actor="a",
                signals=signals)  # fmt: skip
    versions = version_infos(
        run_training(store, workspace_id=workspace_id, dataset_name="clicks", actor="a", n_turns=4)
    )
    for v in versions:
        assert v.counts["holdout"].positives == 1
        assert v.metrics["holdout_auc"] is None and "holdout_auc" not in v.intervals  # no bare number
        assert v.unscored["holdout_auc"] == "not enough feedback to score (1 positive in the holdout; needs 10)"
        assert v.value_text("holdout_auc").startswith("not scored: not enough feedback")
        assert v.holdout_auc_delta is None  # no paired delta on an unscored holdout
    assert versions[0].metrics["auc"] is not None and versions[0].intervals["auc"][0] < versions[0].metrics["auc"]
    judged = judge_dataset(store, workspace_id=workspace_id, dataset="clicks", actor="a", metric="holdout_auc")
    assert judged.verdict == "insufficient_data" and judged.left_out == 4 and judged.report is None
    assert "1 positive in the holdout" in judged.reason
    compared = compare_versions(versions[-2:]).metrics.set_index("metric").loc["holdout_auc"]
    assert compared["reading"] == "not enough feedback to compare"
