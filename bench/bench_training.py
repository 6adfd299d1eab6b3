"""Training benchmark: 10 turns on 1M generated events, beside a bare scikit-learn loop.

Each model runs in two child processes (peak memory is the child's own):
- features: building the feedback task (history features of user and item) from 1M events;
- flywheel: ``train_feedback_versions`` on those matrices (10 fits on growing windows, scoring on the next
  turn and the holdout, curves, segments, drift);
- reference: a plain loop of the same estimator fitted on the same windows of the same matrix, with the
  same next-turn and holdout predictions scored by scikit-learn's metric functions and the holdout's
  ROC and PR curves (the flywheel additionally computes per-segment metrics, calibration and drift);
- the flywheel again with fits spread over 2 processes (joblib), for the speed-up from 1 to 2 cores.
The two sides of each comparison run alternately, best of ``BENCH_TRAINING_REPEAT`` (default 2).

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
REPEAT = int(os.environ.get("BENCH_TRAINING_REPEAT", "2"))


def _prepare() -> tuple[object, object, object]:
    from flywheel_core.data.signals import SignalDictionary, SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.learning.turns import build_feedback_task

    events = make_demo_events("music", N_EVENTS, random_state=7)
    dictionary = SignalDictionary(events={e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()})
    return events, dictionary, build_feedback_task


def _reference(task: object, model: str) -> None:
    """The bare loop: the same estimator on the same windows, the same predictions and metrics."""
    from sklearn.metrics import brier_score_loss, log_loss, precision_recall_curve, roc_auc_score, roc_curve

    from flywheel_core.learning.turns import cut_turns, make_model

    X, y_all, time_ns = task.X, task.y, task.time_ns  # type: ignore[attr-defined]
    turn = cut_turns(time_ns, n_turns=N_TURNS).turn_of(time_ns)
    holdout = turn == N_TURNS + 1
    for k in range(1, N_TURNS + 1):
        window = turn <= k
        estimator = make_model(model, random_state=0)
        estimator.fit(X[window], y_all[window])
        for rows in (turn == k + 1, holdout):
            if rows.any():
                y, p = y_all[rows], estimator.predict_proba(X[rows])[:, 1]
                roc_auc_score(y, p), log_loss(y, p), brier_score_loss(y, p)
        roc_curve(y, p), precision_recall_curve(y, p)  # the holdout's curves, as the registry keeps them


def child(mode: str, model: str) -> dict[str, float]:
    """``compare``: flywheel (1 core) and the bare loop, interleaved; ``parallel``: 1 vs 2 processes.

    Each side runs ``REPEAT`` times in alternation and keeps its fastest run, so a burst of load
    from elsewhere on the machine does not land on one side only.
    """

    import importlib

    from flywheel_core.learning.turns import train_feedback_versions

    for module in ("sklearn.ensemble", "sklearn.linear_model", "sklearn.metrics", "joblib"):
        importlib.import_module(module)  # imports are timed in neither run
    events, dictionary, build = _prepare()
    started = time.perf_counter()
    task = build(events, dictionary)  # type: ignore[operator]
    out = {"features_seconds": time.perf_counter() - started, "rows": float(len(task.y))}

    def flywheel(n_jobs: int) -> None:
        train_feedback_versions(events, dictionary, n_turns=N_TURNS, model=model, n_jobs=n_jobs, task=task)

    sides = (
        {"a": lambda: flywheel(1), "b": lambda: _reference(task, model)}
        if mode == "compare"
        else {"a": lambda: flywheel(2), "b": lambda: flywheel(1)}
    )
    best = {"a": float("inf"), "b": float("inf")}
    for _ in range(REPEAT):
        for side, run in sides.items():
            started = time.perf_counter()
            run()
            best[side] = min(best[side], time.perf_counter() - started)
    out["a_seconds"], out["b_seconds"] = best["a"], best["b"]
    return out


def _run_child(mode: str, model: str) -> tuple[dict[str, float], float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, model], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {mode} {model} failed: {err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result, result.pop("peak_mb")


def main() -> None:
    models = os.environ.get("BENCH_TRAINING_MODELS", "logistic,hgb").split(",")
    figures: list[Figure] = []
    for model in models:
        compare, peak = _run_child("compare", model)
        parallel, par_peak = _run_child("parallel", model)
        if model == models[0]:
            rows = int(compare["rows"])
            figures.append(Figure(f"history features, {N_EVENTS:,} events", compare["features_seconds"], rows=rows))
        figures.append(
            Figure(
                f"{model}: {N_TURNS} versions, 1 core",
                compare["a_seconds"],
                reference="bare sklearn loop",
                reference_seconds=compare["b_seconds"],
                peak_mb=peak,
                target="within 1.05x (issue 19)",
            )
        )
        figures.append(
            Figure(
                f"{model}: {N_TURNS} versions, 2 processes",
                parallel["a_seconds"],
                reference="1 process",
                reference_seconds=parallel["b_seconds"],
                peak_mb=par_peak,
                target="ratio < 1 is a speed-up",
            )
        )
    report(f"Training: {N_TURNS} turns on {N_EVENTS:,} generated events (music), best of {REPEAT}", figures)


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
