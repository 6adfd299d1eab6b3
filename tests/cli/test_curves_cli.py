"""`flywheel curve` and `flywheel simulate`, run as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def learning_csv(tmp_path: Path) -> Path:
    path = tmp_path / "versions.csv"
    lines = ["version,train_rows,auc,log_loss"]
    for k in range(8):
        rows = 1000 * 2**k
        auc = 0.80 - 0.25 * (rows / 1000) ** -0.7
        lines.append(f"{k + 1},{rows},{auc:.5f},{0.8 - auc / 2:.5f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_curve_json_has_the_verdict_fields(run, learning_csv: Path) -> None:
    out = json.loads(
        run("curve", str(learning_csv), "--x", "train_rows", "--y", "auc", "--target", "0.9", "--json").stdout
    )
    for key in ("verdict", "confidence", "model", "params", "asymptote", "headroom", "reason", "forecast", "target"):
        assert key in out
    assert out["verdict"] == "plateau" and out["model"] == "power"
    assert out["asymptote"] == pytest.approx(0.80, abs=0.01)
    assert out["target"]["reachable"] is False and out["target"]["message"].startswith("Not reachable")
    assert len(out["forecast"]["low"]) == 5 and out["x"] == "train_rows"


def test_curve_lower_is_better_and_default_columns(run, learning_csv: Path, tmp_path: Path) -> None:
    loss = json.loads(
        run("curve", str(learning_csv), "--x", "train_rows", "--y", "log_loss", "--lower-is-better", "--json").stdout
    )
    assert loss["higher_is_better"] is False and loss["verdict"] == "plateau"
    assert loss["asymptote"] == pytest.approx(0.4, abs=0.01)
    perplexity = tmp_path / "perplexity.csv"
    perplexity.write_text("month,queries\n0,312000000\n12,780000000\n13,1400000000\n")
    out = json.loads(run("curve", str(perplexity), "--json").stdout)
    assert (out["x"], out["y"], out["verdict"], out["rule"]) == ("month", "queries", "compounding", "few_points")
    text = run("curve", str(perplexity)).stdout
    assert text.startswith("COMPOUNDING")


def test_curve_bad_input_is_a_one_line_error(run, learning_csv: Path, tmp_path: Path) -> None:
    missing = run("curve", str(learning_csv), "--y", "nope", check=False)
    assert missing.returncode == 2 and "no column 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    short = tmp_path / "short.csv"
    short.write_text("x,y\n1,0.5\n2,0.6\n")
    too_few = run("curve", str(short), check=False)
    assert too_few.returncode == 2 and "at least 3 points" in too_few.stderr
    unsorted = tmp_path / "unsorted.csv"
    unsorted.write_text("x,y\n1,0.5\n3,0.6\n2,0.7\n")
    assert "strictly increasing" in run("curve", str(unsorted), check=False).stderr


def test_simulate_scenario_json_has_verdict_and_series(run) -> None:
    out = json.loads(
        run(
            "simulate", "--scenario", "model-collapse", "--weeks", "104", "--runs", "200", "--seed", "3", "--json"
        ).stdout
    )
    assert out["scenario"] == "model-collapse" and out["verdict"] == "backward"
    assert out["runs"] == 200 and len(out["weeks"]) == 104
    quality = out["series"]["product_quality"]
    assert len(quality["p50"]) == 104 and all(lo <= hi for lo, hi in zip(quality["p5"], quality["p95"], strict=True))
    assert out["params"]["synthetic_share"] == 0.8


def test_simulate_list_and_unknown_scenario(run) -> None:
    listed = json.loads(run("simulate", "--list", "--json").stdout)["scenarios"]
    assert {s["name"] for s in listed} >= {"spotify", "klarna", "harvey", "bank-velocity"}
    unknown = run("simulate", "--scenario", "myspace", check=False)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: No scenario named 'myspace'")
    bad_runs = run("simulate", "--scenario", "klarna", "--runs", "0", check=False)
    assert bad_runs.returncode == 2 and "Invalid value for '--runs'" in bad_runs.stderr
    assert "1<=x<=100000" in bad_runs.stderr and "Traceback" not in bad_runs.stderr


def test_verdict_gates_a_pipeline_on_the_datasets_versions(run, demo_instance: str) -> None:
    out = json.loads(run("verdict", "Music streaming (demo)", "-w", demo_instance, "--json").stdout)
    assert out["verdict"] in {"compounding", "plateau", "backward", "insufficient_data"}
    assert out["points"] + out["left_out"] >= 3 and out["passed"] is True and out["x"] == "train_rows"
    other = next(v for v in ("compounding", "plateau") if v != out["verdict"])
    gated = run("verdict", "Music streaming (demo)", "-w", demo_instance, "--require", other, check=False)
    assert gated.returncode == 3 and f"Required {other}: not met." in gated.stdout
    same = run("verdict", "Music streaming (demo)", "-w", demo_instance, "--require", out["verdict"], "--json")
    assert json.loads(same.stdout)["passed"] is True
    by_turn = json.loads(run("verdict", "Music streaming (demo)", "-w", demo_instance, "--x", "turn", "--json").stdout)
    assert by_turn["x"] == "turn"
    missing = run("verdict", "No such dataset", "-w", demo_instance, check=False)
    assert missing.returncode == 2 and "No dataset named 'No such dataset'" in missing.stderr
    assert "Traceback" not in missing.stderr
