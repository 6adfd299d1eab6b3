"""`flywheel loop …` run as real processes against a temporary data folder."""

from __future__ import annotations

import json
from pathlib import Path


def test_loop_cli_template_then_check(run, tmp_path: Path) -> None:
    text = run("loop", "template", "tesla", "--json").stdout
    assert json.loads(text)["name"] == "Tesla — Autopilot fleet learning"
    (tmp_path / "tesla.json").write_text(text)
    out = json.loads(run("loop", "check", "tesla.json", "--json").stdout)
    assert out["verdict"] == "feedback_loop" and out["weakest"] == "analysis" and out["moat"] == "network"
    assert out["cycle_time_hours"] == 1272.0 and out["missing_links"] == [] and out["next_steps"]
    human = run("loop", "check", "tesla.json").stdout
    assert human.startswith("Tesla — Autopilot fleet learning: A feedback loop") and "Next steps:" in human


def test_loop_cli_check_names_missing_links_and_breaks(run, tmp_path: Path) -> None:
    data = json.loads(run("loop", "template", "spotify", "--json").stdout)
    del data["components"]["feedback"]
    (tmp_path / "open.json").write_text(json.dumps(data))
    out = json.loads(run("loop", "check", "open.json", "--json").stdout)
    assert out["verdict"] == "broken"
    assert [m["link"] for m in out["missing_links"]] == ["Application→Feedback", "Feedback→Collection"]
    assert [b["name"] for b in out["breaks"]] == ["you ship but don't know if it worked"]


def test_loop_cli_invalid_file_names_the_field(run, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"name": "Bad", "components": {"storage": {"health": 7}}}')
    result = run("loop", "check", "bad.json", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "components.storage.health" in result.stderr
    saved = run("loop", "save", "bad.json", check=False)
    assert saved.returncode == 2
    assert json.loads(run("loop", "list", "--json").stdout)["loops"] == []


def test_loop_cli_save_versions_stale_refused_export_and_list(run, tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(run("loop", "template", "duolingo").stdout)
    assert json.loads(run("loop", "save", "d.json", "--json").stdout)["version"] == 1
    assert json.loads(run("loop", "save", "d.json", "--base-version", "1", "--json").stdout)["version"] == 2
    stale = run("loop", "save", "d.json", "--base-version", "1", check=False)
    assert stale.returncode == 2 and "--base-version" in stale.stderr and "Traceback" not in stale.stderr
    name = "Duolingo — Birdbrain learning loop"
    exported = json.loads(run("loop", "export", name, "--format", "json").stdout)
    assert exported == json.loads((tmp_path / "d.json").read_text())
    brief = run("loop", "export", name, "--format", "md").stdout
    assert brief.startswith(f"# {name}") and "**Verdict: Flywheel.**" in brief
    listed = json.loads(run("loop", "list", "--json").stdout)["loops"]
    assert [(r["name"], r["version"], r["verdict"], r["moat"]) for r in listed] == [(name, 2, "flywheel", "network")]
    assert run("loop", "export", "Nope", check=False).returncode == 2


def test_loop_cli_demo_saves_every_template(run) -> None:
    run("demo", "--events", "1000")
    listed = json.loads(run("loop", "list", "--workspace", "Demo", "--json").stdout)["loops"]
    assert len(listed) == 8
    verdicts = {r["name"].split(" ")[0]: r["verdict"] for r in listed}
    assert verdicts["Spotify"] == "flywheel" and verdicts["Klarna"] == "feedback_loop"
