"""House rules that keep the layers apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_core_does_not_import_streamlit() -> None:
    code = (
        "import sys, pkgutil, importlib, flywheel_core\n"
        "for m in pkgutil.walk_packages(flywheel_core.__path__, 'flywheel_core.'):\n"
        "    if '.migrations' not in m.name and not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "print('streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_only_storage_talks_to_the_database() -> None:
    offenders = []
    for path in [*REPO.glob("flywheel_core/**/*.py"), *REPO.glob("pages/*.py"), *REPO.glob("ui/*.py"), REPO / "app.py"]:
        if "storage" in path.parts:
            continue
        text = path.read_text()
        if "session_scope" in text or "from sqlmodel import" in text or "Session(" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_pages_do_not_use_sklearn_or_sql() -> None:
    for path in REPO.glob("pages/*.py"):
        text = path.read_text()
        assert "sklearn" not in text and "sqlalchemy" not in text and "sqlmodel" not in text, path.name


def test_public_names_are_sorted_and_importable() -> None:
    import flywheel_core

    assert flywheel_core.__all__ == sorted(flywheel_core.__all__)
    for name in flywheel_core.__all__:
        assert getattr(flywheel_core, name) is not None, name
