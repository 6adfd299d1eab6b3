"""`flywheel report` run as a real process against a temporary data folder."""

from __future__ import annotations

import json
import re
from pathlib import Path


def test_report_writes_a_self_contained_html_of_the_demo(run, tmp_path: Path, demo_instance) -> None:
    out = json.loads(run("report", "--workspace", "Demo", "--format", "html", "--output", "x.html", "--json").stdout)
    path = tmp_path / "x.html"
    assert out["workspace"] == "Demo" and out["format"] == "html"
    assert Path(out["path"]) == path.resolve() and out["bytes"] == path.stat().st_size
    assert out["sections"] == ["Summary", "Loop diagnosis", "Data profile", "Model versions and verdict"]
    page = path.read_text(encoding="utf-8")
    assert "Workspace report: Demo" in page and "Music streaming (demo)" in page
    assert "Plotly.newPlot(" in page and not re.search(r"<script[^>]+src=", page)


def test_report_markdown_to_the_default_file(run, tmp_path: Path, demo_instance) -> None:
    text = run("report", "-w", "Demo", "--format", "md").stdout
    path = tmp_path / "flywheel-report-Demo.md"
    assert "flywheel-report-Demo.md" in text and "Loop diagnosis" in text
    body = path.read_text(encoding="utf-8")
    assert body.startswith("# Workspace report: Demo") and "## Data profile" in body


def test_report_of_an_unknown_workspace_is_a_clean_error(run, tmp_path: Path) -> None:
    result = run("report", "--workspace", "Nope", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: No workspace named 'Nope'") and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("flywheel-report-*"))
