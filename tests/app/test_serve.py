"""``ui/serve.py``: the modules ``flywheel app`` imports before the server listens are the pages' own."""

from __future__ import annotations

from pathlib import Path

from ui.serve import LIBRARIES, page_imports


def test_page_imports_are_read_from_every_page_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from __future__ import annotations\nimport streamlit as st\nfrom ui.text import x\n"
    )
    (tmp_path / "b.py").write_text(
        "from flywheel_core.data import api\nif True:\n    import json\nfrom . import near\n"
    )
    assert page_imports(tmp_path) == ["flywheel_core.data", "streamlit", "ui.text"]  # top level, absolute only


def test_the_real_pages_preload_their_services_and_the_chart_libraries() -> None:
    names = page_imports()
    assert {"ui.data_explore", "flywheel_core.data", "ui.context"} <= set(names)
    assert {"plotly.express", "duckdb", "pandas"} <= set(LIBRARIES)
