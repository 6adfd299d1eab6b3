"""Start the Streamlit server with the pages' modules already imported (what ``flywheel app`` runs).

    python ui/serve.py run app.py --server.port 8501 ...     # the arguments of ``streamlit run``

Streamlit imports what a page needs only when the first visitor opens it, so the first page after a
start paid for pandas, plotly, DuckDB, SQLAlchemy and the product's own modules (about 2 s on 2 cores,
most of a cold first chart). Here they are imported before the server listens: a start takes that much
longer, and ``/_stcore/health`` answers once every page is ready to run. The modules are those every file
in ``pages/`` imports (read from the files, so a new import is preloaded too) and the libraries the chart
and aggregate modules import inside their functions; plotly's template is loaded once as well.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported inside functions (of the services, the chart and aggregate modules), so not in the pages' imports.
LIBRARIES = (
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "plotly.graph_objects",
    "plotly.express",
    "plotly.io",
    "flywheel_core.data.aggregates",
    "flywheel_core.data.analytics",
    "flywheel_core.data.figures",
    "flywheel_core.data.summaries",
)


def page_imports(pages: Path = ROOT / "pages") -> list[str]:
    """The modules the page files import at their top level, sorted (``__future__`` left out)."""
    found: set[str] = set()
    for path in sorted(pages.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
    found.discard("__future__")
    return sorted(found)


def preload() -> list[str]:
    """Import the pages' modules and the chart libraries, and load the figures' template; returns the names."""
    names = [*LIBRARIES, *page_imports()]
    for name in names:
        importlib.import_module(name)
    importlib.import_module("plotly.io").templates["plotly_white"]  # read from its JSON file here, not by a page
    return names


def main(argv: list[str]) -> None:
    # Run as a file, Python put ui/ first on the path: the checkout's root instead (where app.py imports from).
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != here]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    preload()
    from streamlit.web import cli

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
