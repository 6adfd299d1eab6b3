"""Training benchmark: 10 turns on 1M generated events, beside a bare scikit-learn loop.

Each configuration runs in a child process (so peak memory is that run's own):
- features: building the feedback task (history features of user and item) from 1M events;
- flywheel: ``train_feedback_versions`` on those matrices (10 fits on growing windows, scoring on the next
  turn and the holdout, curves, segments, drift);
- reference: a plain loop of the same estimator fitted on the same windows of the same matrix, with the
  same next-turn and holdout predictions scored by scikit-learn's metric functions and the holdout's
  ROC and PR curves (the flywheel additionally computes per-segment metrics, calibration and drift);
- the flywheel again with fits spread over 2 processes (joblib), for the speed-up from 1 to 2 cores.

    python bench/run.py training            # logistic and hgb
    BENCH_TRAINING_MODELS=logistic python bench/run.py training
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from common import Figure, report

N_EVENTS = int(os.environ.get("BENCH_TRAINING_EVENTS", "1000000"))
N_TURNS = 10


def _prepare() -> tuple[object, object, object]:
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.learning import build_feedback_task
    from flywheel_core.signals import SignalDictionary, SignalSpec

    events = make_demo_events("music", N_EVENTS, random_state=7)
    dictionary = SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
    return events, dictionary, build_feedback_task


def child(mode: str, model: str) -> dict[str, float]:
    import numpy as np
    import sklearn.ensemble  # imports are timed in neither run
    import sklearn.linear_model
    import sklearn.metrics  # noqa: F401

    from flywheel_core.learning import cut_turns, make_model, train_feedback_versions

    events, dictionary, build = _prepare()
    started = time.perf_counter()
    task = build(events, dictionary)  # type: ignore[operator]
    features = time.perf_counter() - started
    out = {"features_seconds": features, "rows": float(len(task.y))}
    started = time.perf_counter()
    if mode == "reference":
        turn = cut_turns(task.time_ns, n_turns=N_TURNS).turn_of(task.time_ns)
        holdout = turn == N_TURNS + 1
        from sklearn.metrics import (
            brier_score_loss,
            log_loss,
            precision_recall_curve,
            roc_auc_score,
            roc_curve,
        )

        for k in range(1, N_TURNS + 1):
            window = turn <= k
            estimator = make_model(model, random_state=0)
            estimator.fit(task.X[window], task.y[window])
            for rows in (turn == k + 1, holdout):
                if rows.any():
                    y, p = task.y[rows], estimator.predict_proba(task.X[rows])[:, 1]
                    roc_auc_score(y, p), log_loss(y, p), brier_score_loss(y, p)
            roc_curve(y, p), precision_recall_curve(y, p)  # the holdout's curves, as the registry keeps them
        np.asarray(0)
    else:
        train_feedback_versions(
            events, dictionary, n_turns=N_TURNS, model=model, n_jobs=2 if mode == "parallel" else 1, task=task
        )
    out["seconds"] = time.perf_counter() - started
    return out


def _run_child(mode: str, model: str) -> tuple[dict[str, float], float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, model], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {mode} {model} failed: {err.decode()[-2000:]}")
    usage = os.wait4  # the child is reaped by communicate(); read its peak from the JSON instead
    del usage
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result, result.pop("peak_mb")


def main() -> None:
    models = os.environ.get("BENCH_TRAINING_MODELS", "logistic,hgb").split(",")
    figures: list[Figure] = []
    for model in models:
        reference, ref_peak = _run_child("reference", model)
        serial, peak = _run_child("serial", model)
        parallel, par_peak = _run_child("parallel", model)
        rows = int(serial["rows"])
        figures.append(
            Figure(f"history features, {N_EVENTS:,} events", serial["features_seconds"], rows=rows)
        ) if model == models[0] else None
        figures.append(
            Figure(
                f"{model}: {N_TURNS} versions, 1 core",
                serial["seconds"],
                reference="bare sklearn loop",
                reference_seconds=reference["seconds"],
                peak_mb=peak,
                target="within 1.3x",
            )
        )
        figures.append(
            Figure(
                f"{model}: {N_TURNS} versions, 2 cores (joblib)",
                parallel["seconds"],
                reference="1 core",
                reference_seconds=serial["seconds"],
                peak_mb=par_peak,
                target="ratio < 1 is a speed-up",
            )
        )
        figures.append(Figure(f"{model}: bare sklearn loop", reference["seconds"], peak_mb=ref_peak))
    report(f"Training: {N_TURNS} turns on {N_EVENTS:,} generated events (music)", figures)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        import resource

        result = child(sys.argv[2], sys.argv[3])
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        )
        print(json.dumps(result))
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        main()
