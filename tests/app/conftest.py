"""AppTest helpers: run app.py against a temporary instance and switch pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
PAGES = [
    "pages/overview.py",
    "pages/map_loop.py",
    "pages/interaction_data.py",
    "pages/train_compare.py",
    "pages/curves.py",
    "pages/workspace.py",
]


@pytest.fixture
def app_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FLYWHEEL_AUTH", raising=False)
    monkeypatch.chdir(REPO)
    return env


@pytest.fixture
def make_app(app_env: dict[str, str]) -> Callable[..., AppTest]:
    def make(page: str | None = None, workspace: str | None = None) -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        if workspace:
            at.session_state["app.workspace_request"] = workspace
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    return make


def shown(markdown: str) -> str:
    """What a person reads from an element's Markdown source: escaped characters shown as themselves."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown)
