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


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at module level or inside functions."""
    import ast

    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def test_ui_and_pages_do_not_reach_past_the_service_modules() -> None:
    offenders = {
        f"{path.relative_to(REPO)}: {name}"
        for path in [*REPO.glob("pages/*.py"), *REPO.glob("ui/*.py"), REPO / "app.py"]
        for name in _imports(path)
        if name.startswith("flywheel_core.storage")
    }
    assert offenders == set()


SERVICE_MODULES = {"api.py", "jobs.py", "demo.py"}


def test_only_service_modules_take_a_store() -> None:
    """Pure modules compute on data; reading and writing the store is the service modules' job."""
    import ast

    offenders = []
    for path in REPO.glob("flywheel_core/**/*.py"):
        parts = path.relative_to(REPO).parts
        if parts[1] in ("storage", "cli") or path.name in SERVICE_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                if any(a.arg == "store" or "Store" in ast.unparse(a.annotation or ast.Constant("")) for a in arguments):
                    offenders.append(f"{'/'.join(parts)}:{node.lineno} {node.name}")
    assert offenders == []


def test_service_modules_return_typed_results_not_json_dicts() -> None:
    """What crosses from the core to ui/ and pages/ is a typed result, never ``dict[str, Any]``."""
    import ast

    offenders = []
    for path in [*REPO.glob("flywheel_core/*/api.py"), REPO / "flywheel_core" / "jobs.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            public = isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
            if public and node.returns is not None and "dict[str, Any]" in ast.unparse(node.returns):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for field in node.body:
                    if isinstance(field, ast.AnnAssign) and "dict[str, Any]" in ast.unparse(field.annotation):
                        offenders.append(f"{path.relative_to(REPO)}:{field.lineno} {node.name}")
    assert offenders == []
