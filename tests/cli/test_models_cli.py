"""`flywheel versions import / production / offpolicy / production-demo`, run as real processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run

DEMO = "Ranker in production (demo)"


def test_production_and_offpolicy_print_their_json(run: Run) -> None:
    stored = json.loads(run("production-demo", "--events", "60000", "--json").stdout)
    assert stored["dataset"] == DEMO and stored["rows"] == 60_000
    out = json.loads(run("production", DEMO, "--json").stdout)
    assert [v["version"] for v in out["versions"]] == ["ranker-v1", "ranker-v2", "ranker-v3"]
    first = out["versions"][0]
    assert {"version", "events", "users", "positives", "rate", "interval"} <= set(first)
    assert first["interval"][0] < first["rate"] < first["interval"][1]
    built = out["comparisons"][0]
    assert (built["a"], built["b"], built["conclusion"]) == ("ranker-v1", "ranker-v2", "effect")
    assert built["interval"][0] > 0 and out["material"] == 0.02 and "verdict" in out["verdict"]
    ope = json.loads(run("offpolicy", DEMO, "--policy", "ranker-v2", "--on", "ranker-v1", "--json").stdout)
    assert ope["context"] == "f_segment" and [e["estimator"] for e in ope["estimates"]] == ["ips", "snips", "dr"]
    assert ope["ess"] > 0 and ope["logged_on"] == ["ranker-v1"]
    bad = run("production", DEMO, "--material", "3", check=False)
    assert bad.returncode == 2 and "Invalid value for '--material'" in bad.stderr


def test_versions_import_from_a_file_feeds_the_listing_and_the_verdict(run: Run, tmp_path: Path) -> None:
    run("production-demo", "--events", "2000")
    lines = ["version,trained_at,train_rows,auc,auc_low,auc_high"]
    for week, (rows, auc) in enumerate([(1000, 0.60), (2000, 0.64), (4000, 0.67), (8000, 0.69), (16000, 0.70)]):
        lines.append(f"w{week + 1},2026-0{1 + week}-05,{rows},{auc},{auc - 0.01:.2f},{auc + 0.01:.2f}")
    (tmp_path / "versions.csv").write_text("\n".join(lines) + "\n")
    out = json.loads(run("versions", "import", DEMO, "--file", "versions.csv", "--json").stdout)
    assert [v["algorithm"] for v in out["imported"]] == ["imported:file"] * 5
    listed = json.loads(run("versions", DEMO, "--json").stdout)["versions"]  # the listing is the default
    assert [v["train_rows"] for v in listed] == [1000, 2000, 4000, 8000, 16000]
    assert listed[0]["intervals"]["auc"] == [0.59, 0.61]
    verdict = json.loads(run("verdict", DEMO, "--json").stdout)
    assert verdict["metric"] == "auc" and verdict["points"] == 5 and verdict["verdict"] != "insufficient_data"
    again = json.loads(run("versions", "import", DEMO, "--file", "versions.csv", "--json").stdout)
    assert again["imported"] == [] and len(again["already_imported"]) == 5
    (tmp_path / "bad.csv").write_text("version,train_rows,auc\na,10,0.6\nb,x,0.7\n")
    bad = run("versions", "import", DEMO, "--file", "bad.csv", check=False)
    assert bad.returncode == 2 and "row 2 (line 3), column 'train_rows'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_production_on_a_log_without_versions_says_so(run: Run, tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "user,timestamp,event\nu1,2026-01-01T00:00:00Z,click\nu2,2026-01-02T00:00:00Z,skip\n"
    )
    run("ingest", "log.csv", "--dataset", "plain")
    out = run("production", "plain", check=False)
    assert out.returncode == 2 and "do not say which model version served them" in out.stderr
    usage = run("versions", "import", "plain", check=False)
    assert usage.returncode == 2 and "--mlflow URI --experiment NAME, or --file PATH" in usage.stderr
