"""One chart module: the report embeds the app's figures in the app's palette; one label and colour per verdict."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flywheel_core.charts.data import ACTIVITY_TRACES, activity, events_over_time
from flywheel_core.charts.palette import ACTIVITY_COLORS, SIGNAL_COLORS, VERDICT_COLORS, verdict_color
from flywheel_core.curves.terms import Verdict
from flywheel_core.data.api import ingest_file
from flywheel_core.data.signals import KINDS, POLARITIES
from flywheel_core.report.api import build_report
from flywheel_core.report.contents import DatasetSection
from flywheel_core.report.html import render_html
from flywheel_core.storage.store import Store
from tests.core.test_report import _events_csv, embedded_figures

REPO = Path(__file__).resolve().parents[2]
VERDICT_TABLE = re.compile(r"""["'](?:compounding|plateau|backward|insufficient_data)["']\s*:\s*["'][#A-Z]""")
COLOR_LITERAL = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")


def _values(encoded: Any) -> list[float]:
    """Numbers of a plotly JSON array: a list, or a typed array ``{"dtype": ..., "bdata": base64}``."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).astype(float).tolist()
    return [float(v) for v in encoded]


def _traces(figure: dict[str, Any]) -> list[tuple[str, str | None, list[float]]]:
    """(name, colour, y values) of each trace, from a figure's plotly JSON."""
    out = []
    for trace in figure["data"]:
        style = trace.get("line") or trace.get("marker") or {}
        out.append((trace.get("name"), style.get("color"), _values(trace.get("y", []))))
    return out


@pytest.fixture
def drawn(store: Store, workspace_id: int) -> tuple[DatasetSection, list[dict[str, Any]]]:
    """A one-dataset report: its section, and the figures its HTML embeds."""
    ingest_file(store, workspace_id=workspace_id, source=_events_csv(seed=7), dataset="Clicks", actor="alice")
    report = build_report(store, workspace_id=workspace_id, actor="alice")
    return report.datasets[0], embedded_figures(render_html(report))


def _titled(figures: list[dict[str, Any]], start: str) -> dict[str, Any]:
    found = [f for f in figures if f["layout"]["title"]["text"].startswith(start)]
    assert len(found) == 1, [f["layout"]["title"]["text"] for f in figures]
    return found[0]


def test_report_embeds_the_apps_active_users_figure(drawn: tuple[DatasetSection, list[dict[str, Any]]]) -> None:
    section, figures = drawn
    assert section.activity is not None
    embedded = _titled(figures, "Active users: Clicks · DAU/MAU stickiness")
    app = json.loads(activity(section.activity, subject="Clicks").to_json())
    assert _traces(embedded) == _traces(app)
    assert embedded["layout"]["title"] == app["layout"]["title"]
    assert [(name, color) for name, color, _ in _traces(embedded)] == [
        (name, ACTIVITY_COLORS[column]) for column, name in ACTIVITY_TRACES
    ]
    assert _traces(embedded)[-1][2] == [float(v) for v in section.activity.daily["dau"]]


def test_report_draws_signal_classes_in_the_apps_palette(drawn: tuple[DatasetSection, list[dict[str, Any]]]) -> None:
    section, figures = drawn
    assert section.signal_weeks is not None
    embedded = _titled(figures, "Events per week by signal: Clicks")
    app = json.loads(events_over_time(section.signal_weeks, "week", subject="Clicks").to_json())
    assert _traces(embedded) == _traces(app)
    colors = {name: color for name, color, _ in _traces(embedded)}
    assert {"implicit positive", "implicit negative"} <= set(colors)  # clicks and purchases, skips
    assert colors == {name: SIGNAL_COLORS[name] for name in colors}


def test_the_palette_covers_every_signal_class() -> None:
    classes = {f"{kind} {polarity}" for kind in KINDS for polarity in POLARITIES} | {"unknown neutral"}
    assert set(SIGNAL_COLORS) == classes
    assert len(set(SIGNAL_COLORS.values())) == len(SIGNAL_COLORS)


def test_every_verdict_has_one_label_and_one_colour() -> None:
    labels = [v.label for v in Verdict]
    assert all(label and label[0].isupper() for label in labels) and len(set(labels)) == len(labels)
    assert set(VERDICT_COLORS) == set(Verdict)
    assert len(set(VERDICT_COLORS.values())) == len(VERDICT_COLORS)
    assert all(verdict_color(v.value) == VERDICT_COLORS[v] for v in Verdict)
    with pytest.raises(ValueError, match="sideways"):
        verdict_color("sideways")


def test_no_other_module_keeps_its_own_verdict_words_or_colours() -> None:
    own = {REPO / "flywheel_core/curves/terms.py", REPO / "flywheel_core/charts/palette.py"}
    files = [*REPO.glob("flywheel_core/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py"), REPO / "app.py"]
    offenders = [str(p.relative_to(REPO)) for p in files if p not in own and VERDICT_TABLE.search(p.read_text())]
    assert offenders == []


def test_the_app_draws_only_with_the_core_charts_and_palette() -> None:
    """ui/ and pages/ build no figure of their own (no plotly import) and name no colour of their own."""
    offenders = []
    for path in [*REPO.glob("ui/*.py"), *REPO.glob("pages/*.py"), REPO / "app.py"]:
        text = path.read_text()
        if re.search(r"^\s*(?:import|from) plotly\b", text, flags=re.MULTILINE) or COLOR_LITERAL.search(text):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_charts_load_plotly_only_when_drawing() -> None:
    code = (
        "import sys\n"
        "import flywheel_core.charts.curves, flywheel_core.charts.data, flywheel_core.charts.loops\n"
        "import flywheel_core.charts.palette, flywheel_core.charts.train\n"
        "print('plotly' in sys.modules, 'streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"]
