"""The one private Streamlit API the app relies on, checked so that an upgrade that removes it fails here, loudly.

``ui/context.py`` (``_leave_legacy_pages_mode``) sets
``streamlit.runtime.pages_manager.PagesManager.uses_pages_directory`` to False. Streamlit computes that flag
once per process from whether a ``pages/`` folder sits beside the entry script, and while it is true it runs
the page named in the URL on its own, with file-name navigation (its legacy multipage mode). A deep link
before app.py has run, and every AppTest rerun, land there; flipping the flag (as ``st.navigation`` itself
does) sends the next run through app.py's ``st.navigation`` with the same sidebar.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import streamlit

WHAT_TO_DO = (
    "Streamlit {version}: {what}. ui/context.py (_leave_legacy_pages_mode) sets the private "
    "streamlit.runtime.pages_manager.PagesManager.uses_pages_directory to False, so that a page run on its own "
    "(a deep link before app.py ran, or an AppTest rerun) leaves Streamlit's legacy pages/ mode and is routed "
    "through app.py's st.navigation. What to do: find how this Streamlit version decides that mode (its "
    "runtime/pages_manager.py, runtime/scriptrunner/script_runner.py and commands/navigation.py), change "
    "_leave_legacy_pages_mode to match, run tests/app, then move the streamlit pin in pyproject.toml; "
    "until then keep streamlit below this version."
)


def _fail(what: str) -> None:
    pytest.fail(WHAT_TO_DO.format(version=streamlit.__version__, what=what), pytrace=False)


def _pages_manager() -> type:
    """PagesManager, with its class attribute ``uses_pages_directory``."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError as exc:
        _fail(f"streamlit.runtime.pages_manager.PagesManager cannot be imported ({exc})")
    if "uses_pages_directory" not in vars(PagesManager):
        _fail("PagesManager has no class attribute uses_pages_directory any more")
    return PagesManager


def test_streamlit_private_api_pages_manager_has_the_flag() -> None:
    manager = _pages_manager()
    if manager.uses_pages_directory not in (None, True, False):
        _fail(f"PagesManager.uses_pages_directory is {manager.uses_pages_directory!r}, not None or a bool")


def test_streamlit_private_api_flag_is_set_from_the_pages_folder(tmp_path: Path, monkeypatch) -> None:
    """The flag is still computed from a ``pages/`` folder beside the entry script (what the app works around)."""
    manager = _pages_manager()
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(manager, "uses_pages_directory", None)  # restored after the test
    try:
        manager(str(tmp_path / "app.py"), setup_watcher=False)
    except TypeError as exc:
        _fail(f"PagesManager(main_script_path, setup_watcher=False) no longer works ({exc})")
    if manager.uses_pages_directory is not True:
        _fail("PagesManager no longer sets uses_pages_directory from a pages/ folder beside the entry script")


@pytest.mark.parametrize(
    ("module", "use"),
    [
        ("streamlit.runtime.scriptrunner.script_runner", "if PagesManager.uses_pages_directory:"),
        ("streamlit.commands.navigation", "PagesManager.uses_pages_directory = False"),
    ],
    ids=["the script runner reads it", "st.navigation clears it"],
)
def test_streamlit_private_api_flag_still_decides_legacy_pages_mode(module: str, use: str) -> None:
    """Flipping the flag only helps while Streamlit reads it; a silent no-op would bring back file-name routing."""
    import importlib

    source = inspect.getsource(importlib.import_module(module))
    if use not in source:
        _fail(f"{module} no longer contains {use!r}")
