"""Workspace report: self-contained HTML and Markdown with the same facts; safe CSV exports."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core.data.api import ingest_file
from flywheel_core.data.export import DANGEROUS_PREFIXES, neutralise_cell, safe_csv
from flywheel_core.loop.model import template_map
from flywheel_core.report.api import build_report, model_versions_frame
from flywheel_core.report.contents import SECTIONS
from flywheel_core.report.html import render_html
from flywheel_core.report.markdown import render_markdown
from flywheel_core.storage.models import ModelVersion
from flywheel_core.storage.store import Store

ROWS = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000)
SPOTIFY = template_map("spotify").to_json()
KLARNA = template_map("klarna").to_json()


def _events_csv(seed: int, n: int = 1_200) -> bytes:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 80, n).astype(str),
            "item_id": rng.integers(0, 40, n).astype(str),
            "timestamp": start + pd.to_timedelta(np.sort(rng.uniform(0, 60 * 86_400, n)), unit="s"),
            "event": rng.choice(["click", "purchase", "skip"], n, p=[0.6, 0.1, 0.3]),
        }
    )
    return frame.to_csv(index=False).encode()


def _add_dataset(store: Store, workspace_id: int, name: str, seed: int) -> int:
    ingest_file(store, workspace_id=workspace_id, source=_events_csv(seed), dataset=name, actor="alice")
    dataset = store.get_dataset(workspace_id=workspace_id, name=name)
    assert dataset.id is not None
    return dataset.id


def _add_versions(store: Store, workspace_id: int, dataset_id: int, rows: tuple[int, ...], **extra: str) -> None:
    for turn, n in enumerate(rows, start=1):
        auc = 0.55 + 0.035 * np.log2(n / 1_000)  # keeps climbing with every doubling
        version = ModelVersion(
            workspace_id=workspace_id,
            dataset_id=dataset_id,
            version=0,
            run_id=f"run-{turn}",
            task="feedback",
            algorithm=extra.get("algorithm", "logistic_regression"),
            turn=turn,
            train_rows=n,
            metrics={"holdout_auc": round(float(auc), 4), "log_loss": round(0.7 - 0.02 * turn, 4)},
            train_seconds=0.25 * turn,
        )
        store.add_model_version(workspace_id=workspace_id, version=version, actor="alice")


@pytest.fixture
def filled(store: Store, workspace_id: int) -> int:
    store.save_loop(workspace_id=workspace_id, name=SPOTIFY["name"], content=SPOTIFY, actor="alice", base_version=None)
    store.save_loop(workspace_id=workspace_id, name=KLARNA["name"], content=KLARNA, actor="alice", base_version=None)
    dataset_id = _add_dataset(store, workspace_id, "Checkout log", seed=3)
    _add_versions(store, workspace_id, dataset_id, ROWS)
    _add_dataset(store, workspace_id, "Fresh log", seed=4)
    return workspace_id


def test_report_html_is_self_contained(store: Store, filled: int) -> None:
    from flywheel_core.report.plotly_bundle import bundle_js

    page = render_html(build_report(store, workspace_id=filled, actor="alice"))
    plotly_js = bundle_js()
    assert page.count(plotly_js) == 1  # the partial plotly.js bundle inline, exactly once
    rest = page.replace(plotly_js, "")  # the library's own source mentions URLs (help links it never loads)
    tags = re.findall(r"<(?:script|link|img|iframe|object|embed)\b[^>]*>", rest, flags=re.IGNORECASE)
    assert tags and all(not re.search(r"\b(?:src|href|data)\s*=", tag, flags=re.IGNORECASE) for tag in tags)
    assert "http://" not in rest and "https://" not in rest and "@import" not in rest
    assert page.count('flywheelPlot("') == 6  # cycle times; activity and signal mix x2 datasets; one learning curve


def outside_scripts(page: str) -> str:
    """The page without its <script> elements: the inlined plotly.js alone contains "1,200", "0.7" and
    "12.5%", so a fact is only looked for in the report's own text."""
    return re.sub(r"<script\b.*?</script>", "", page, flags=re.IGNORECASE | re.DOTALL)


def embedded_figures(page: str) -> list[dict[str, Any]]:
    """Each chart's ``data`` and ``layout``, parsed from the JSON of its ``flywheelPlot`` call."""
    from flywheel_core.report.plotly_bundle import bundle_js

    own = page.replace(bundle_js(), "")
    decoder = json.JSONDecoder()
    figures = []
    for call in re.finditer(r'flywheelPlot\(\s*"[^"]+",\s*', own):
        data, end = decoder.raw_decode(own, call.end())
        comma = re.compile(r"\s*,\s*").match(own, end)
        assert comma is not None
        layout, _ = decoder.raw_decode(own, comma.end())
        figures.append({"data": data, "layout": layout})
    return figures


def test_report_html_shows_verdicts_profile_and_versions(store: Store, filled: int) -> None:
    report = build_report(store, workspace_id=filled, actor="alice")
    page = render_html(report)
    text = outside_scripts(page)
    checkout = next(d for d in report.datasets if d.name == "Checkout log")
    assert checkout.verdict is not None
    for fact in (
        *SECTIONS,
        "Spotify — music recommendations",
        "Klarna — AI customer-service assistant",
        "<td>Flywheel</td>",
        "<td>Feedback loop</td>",
        "<h3>Checkout log",
        '<td>Events</td><td class="num">1,200</td>',  # events, with a thousands separator
        "<td>Events carrying feedback</td>",
        '<td class="num">32,000</td>',  # training rows of the last version
        '<td class="num">0.725</td>',  # its holdout AUC
        f">{checkout.verdict.verdict.label}</span>",  # the verdict's badge
        "No model versions yet",  # the dataset without versions says what to do
    ):
        assert fact in text, fact
    assert re.search(r'<td class="num">\d+\.\d%</td>', text)  # shares as percentages
    titles = [f["layout"]["title"]["text"] for f in embedded_figures(page)]
    for title in (
        "Cycle time per loop map",
        "Active users: Checkout log · DAU/MAU stickiness",
        "Events per week by signal: Checkout log",
        "Active users: Fresh log · DAU/MAU stickiness",
        "holdout_auc vs training rows: <span",
    ):
        assert any(t.startswith(title) for t in titles), (title, titles)
    assert len(titles) == 6


def test_report_markdown_has_the_same_facts(store: Store, filled: int) -> None:
    report = build_report(store, workspace_id=filled, actor="alice")
    text = render_markdown(report)
    checkout = next(d for d in report.datasets if d.name == "Checkout log")
    assert checkout.verdict is not None
    for fact in (
        *(f"## {s}" for s in SECTIONS),
        "Spotify — music recommendations",
        "**Verdict: Flywheel.**",
        "**Verdict: Feedback loop.**",
        "| Events | 1,200 |",
        "| 6 | 6 | 32,000 | — | logistic_regression |",  # versions stored without evidence show no counts
        f"**Verdict:** {checkout.verdict.verdict.label} (confidence",
        "No model versions yet",
    ):
        assert fact in text, fact
    assert "<script" not in text


def test_report_says_in_words_when_versions_are_too_few(store: Store, workspace_id: int) -> None:
    dataset_id = _add_dataset(store, workspace_id, "Young log", seed=5)
    _add_versions(store, workspace_id, dataset_id, ROWS[:2])
    report = build_report(store, workspace_id=workspace_id, actor="alice")
    assert report.datasets[0].verdict is None
    assert "2 of 2 model versions have a 'holdout_auc' score; a verdict needs 3" in report.datasets[0].verdict_note
    assert "No verdict yet: 2 of 2 model versions" in render_markdown(report)
    assert "Train more turns" in render_html(report)


def test_report_of_one_workspace_never_shows_another(store: Store, filled: int) -> None:
    other = store.create_workspace(name="Team B", actor="bob").id
    assert other is not None
    secret_id = _add_dataset(store, other, "Secret B payroll", seed=9)
    _add_versions(store, other, secret_id, ROWS, algorithm="secret_b_algorithm")
    store.save_loop(workspace_id=other, name="Secret B loop", content=SPOTIFY, actor="bob", base_version=None)
    report = build_report(store, workspace_id=filled, actor="alice")
    for text in (
        render_html(report),
        render_markdown(report),
        safe_csv(model_versions_frame(store, workspace_id=filled, actor="alice")).decode(),
    ):
        assert "Secret B" not in text and "secret_b_algorithm" not in text
    assert "Secret B payroll" in render_markdown(build_report(store, workspace_id=other, actor="bob"))


def test_report_escapes_user_text(store: Store, workspace_id: int) -> None:
    evil = "<img src=x onerror=alert(1)>"
    content = {**SPOTIFY, "name": "Evil loop", "product": evil}
    store.save_loop(workspace_id=workspace_id, name="Evil loop", content=content, actor="alice", base_version=None)
    page = render_html(build_report(store, workspace_id=workspace_id, actor="alice"))
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_report_of_an_empty_workspace_says_what_to_do(store: Store, workspace_id: int) -> None:
    report = build_report(store, workspace_id=workspace_id, actor="alice")
    assert "flywheelPlot(" not in render_html(report)
    assert "map your loop on the Map the loop page" in render_markdown(report)
    assert "upload an interaction log" in render_html(report)


def test_report_of_an_unknown_workspace_is_refused(store: Store) -> None:
    from flywheel_core.exceptions import NotFoundError

    with pytest.raises(NotFoundError, match="No workspace with id 999"):
        build_report(store, workspace_id=999, actor="alice")


# --- CSV exports --------------------------------------------------------------------------------------


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_safe_csv_neutralises_formula_cells_and_headers() -> None:
    frame = pd.DataFrame(
        {
            "=cmd": ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tlead", "\rcr", "plain", "a=b"],
            "n": [-1.5, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    rows = _cells(safe_csv(frame))
    assert rows[0] == ["'=cmd", "n"]
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        "'\tlead",
        "'\rcr",
        "plain",
        "a=b",
    ]
    assert rows[1][1] == "-1.5"  # numbers stay numbers


def test_safe_csv_of_the_model_registry(store: Store, workspace_id: int) -> None:
    dataset_id = _add_dataset(store, workspace_id, "Checkout log", seed=3)
    _add_versions(store, workspace_id, dataset_id, ROWS[:3], algorithm="=cmd|' /C calc'!A0")
    rows = _cells(safe_csv(model_versions_frame(store, workspace_id=workspace_id, actor="alice")))
    assert rows[0][:6] == ["dataset", "version", "turn", "train_rows", "task", "algorithm"]
    assert "holdout_auc" in rows[0] and len(rows) == 4
    assert {r[5] for r in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    assert all(r[rows[0].index("created_at")].endswith("+00:00") for r in rows[1:])  # times in UTC, said so


_text = st.text(alphabet=st.sampled_from(list("=+-@\t\r\n\"',;ab1 ")), max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_text, _text, st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=6))
def test_safe_csv_no_cell_starts_with_a_formula_character(rows: list[tuple[str, str, float]]) -> None:
    frame = pd.DataFrame(rows, columns=["a", "-b", "x"])
    cells = _cells(safe_csv(frame))
    assert len(cells) == len(rows) + 1
    for line, original in zip(cells[1:], rows, strict=True):
        for cell, value in zip(line[:2], original[:2], strict=True):
            assert not cell.startswith(DANGEROUS_PREFIXES)
            # quoted exactly when dangerous, and the original comes back without the quote
            assert cell == (("'" + value) if value.startswith(DANGEROUS_PREFIXES) else value)
        assert float(line[2]) == pytest.approx(original[2])
    assert all(not c.startswith(DANGEROUS_PREFIXES) for c in cells[0])


def test_neutralise_cell_leaves_non_text_alone() -> None:
    assert neutralise_cell(-3) == -3 and neutralise_cell(None) is None and neutralise_cell("=1") == "'=1"


def test_report_and_csv_carry_counts_and_intervals_of_trained_versions(store: Store, workspace_id: int) -> None:
    from flywheel_core.data.api import store_frame
    from flywheel_core.data.signals import SignalSpec
    from flywheel_core.demo import DEMO_SIGNALS, make_demo_events
    from flywheel_core.learning.api import run_training

    signals = {e: SignalSpec(*s) for e, s in DEMO_SIGNALS["music"].items()}
    store_frame(store, workspace_id=workspace_id, frame=make_demo_events("music", 3_000), dataset="music",
                actor="alice", signals=signals)  # fmt: skip
    trained = run_training(store, workspace_id=workspace_id, dataset_name="music", actor="alice", n_turns=3)
    text = render_markdown(build_report(store, workspace_id=workspace_id, actor="alice"))
    assert "Holdout rows (positives)" in text and "auc (95% CI)" in text
    hold = trained[0].params["evaluation"]["counts"]["holdout"]
    assert f"| {hold['rows']:,} ({hold['positives']:,}) |" in text
    frame = model_versions_frame(store, workspace_id=workspace_id, actor="alice")
    first = frame.iloc[0]
    assert first["holdout_rows"] == hold["rows"] and first["holdout_positives"] == hold["positives"]
    assert first["holdout_auc_low"] < first["holdout_auc"] < first["holdout_auc_high"]
    assert first["holdout_auc_unscored"] == ""
