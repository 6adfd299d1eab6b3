"""No import cycles inside flywheel_core: every import counts (module level, in functions, in classes, in
``try``). Checked twice: at run time (imports under ``if TYPE_CHECKING:`` skipped, they never run), and with
those type-checking imports too (two modules that each need the other's names are a cycle even in annotations).

``from flywheel_core.x import name`` is an edge to the submodule ``flywheel_core.x.name`` when that is a
module, else to ``flywheel_core.x``. A failure lists every cycle, each edge with the file and line of its import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import flywheel_core

PACKAGE_DIR = Path(flywheel_core.__file__).parent


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    file: str
    line: int

    def describe(self) -> str:
        return f"{self.source} → {self.target}  ({self.file}:{self.line})"


def find_modules(package_dir: Path) -> dict[str, Path]:
    """Every module under the package folder, by dotted name (a package is named by its ``__init__.py``)."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, *, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``; the body of ``if TYPE_CHECKING:`` only if ``type_checking``."""
    if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
        for child in node.orelse:
            yield from _imports(child, type_checking=type_checking)
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, type_checking=type_checking)


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of the modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_edges(modules: dict[str, Path], *, root: Path, type_checking: bool = False) -> list[Edge]:
    """The edges from each module to the modules it imports (only modules of the set); file names relative to
    ``root``. ``type_checking`` counts the imports under ``if TYPE_CHECKING:`` too."""
    edges = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree, type_checking=type_checking):
            if isinstance(node, ast.Import):
                targets = [_owner(alias.name, modules) for alias in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    origin = node.module or ""
                targets = []
                for alias in node.names:
                    submodule = f"{origin}.{alias.name}"
                    targets.append(submodule if submodule in modules else _owner(origin, modules))
            file = path.relative_to(root).as_posix()
            edges += [Edge(name, t, file, node.lineno) for t in dict.fromkeys(targets) if t and t != name]
    return edges


@dataclass(frozen=True)
class Cycle:
    members: tuple[str, ...]  # every module of the tangle (a strongly connected group)
    edges: tuple[Edge, ...]  # one shortest way round it, from the first member back to it
    others: tuple[Edge, ...] = ()  # the other imports between members

    def describe(self) -> str:
        path = " → ".join([self.edges[0].source, *(e.target for e in self.edges)])
        lines = [path, *(f"  {e.describe()}" for e in self.edges)]
        if self.others:
            lines.append(f"  and inside the same tangle ({', '.join(self.members)}):")
            lines += [f"  {e.describe()}" for e in self.others]
        return "\n".join(lines)


def find_cycles(edges: list[Edge]) -> list[Cycle]:
    """One shortest cycle per group of modules that import each other (Tarjan's algorithm, then a search)."""
    graph: dict[str, dict[str, Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
        graph.setdefault(edge.target, {})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for group in sorted(groups):
        members = set(group)
        start = group[0]
        came_from: dict[str, Edge] = {}
        frontier = [start]
        while frontier and start not in came_from:  # breadth first: the shortest way back to the start
            following = []
            for node in frontier:
                for nxt, edge in sorted(graph[node].items()):
                    if nxt in members and nxt not in came_from:
                        came_from[nxt] = edge
                        following.append(nxt)
            frontier = following
        path = [came_from[start]]
        while path[-1].source != start:
            path.append(came_from[path[-1].source])
        others = [e for e in edges if e.source in members and e.target in members and e not in path]
        cycles.append(Cycle(tuple(group), tuple(path[::-1]), tuple(others)))
    return cycles


def describe_cycles(cycles: list[Cycle]) -> str:
    return "\n\n".join(f"cycle {i}: {c.describe()}" for i, c in enumerate(cycles, start=1))


@pytest.mark.parametrize("type_checking", [False, True], ids=["run-time imports", "with TYPE_CHECKING imports"])
def test_import_cycles_none_inside_flywheel_core(type_checking: bool) -> None:
    modules = find_modules(PACKAGE_DIR)
    assert "flywheel_core.loop.model" in modules and "flywheel_core.data.checks" in modules
    cycles = find_cycles(import_edges(modules, root=PACKAGE_DIR.parent, type_checking=type_checking))
    assert not cycles, (
        f"{len(cycles)} import cycle{'s' if len(cycles) > 1 else ''} inside flywheel_core; move the shared piece "
        f"to the module of its subject (not into a function or under TYPE_CHECKING):\n\n{describe_cycles(cycles)}"
    )


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_import_cycles_finds_function_level_and_relative_imports_and_skips_type_checking(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg.b import g\n",
            "pkg/b.py": "from . import c\n",
            "pkg/c.py": "import pkg.a\n",
            "pkg/d.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.e import x\nelse:\n    import os\n",
            "pkg/e.py": "from pkg import d\n",
        },
    )
    cycles = find_cycles(import_edges(find_modules(package), root=tmp_path))
    assert [[(e.source, e.target) for e in c.edges] for c in cycles] == [
        [("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a")]
    ]
    assert cycles[0].edges[0].file == "pkg/a.py" and cycles[0].edges[0].line == 2
    assert "pkg.a → pkg.b → pkg.c → pkg.a" in describe_cycles(cycles)
    with_types = find_cycles(import_edges(find_modules(package), root=tmp_path, type_checking=True))
    assert [[(e.source, e.target) for e in c.edges] for c in with_types][1] == [("pkg.d", "pkg.e"), ("pkg.e", "pkg.d")]


def test_import_cycles_resolves_a_name_to_its_submodule_or_its_module(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from pkg.sub.leaf import VALUE\n",
            "pkg/sub/leaf.py": "VALUE = 1\n",
            "pkg/user.py": "from pkg.sub import leaf\nfrom pkg.sub import VALUE\nfrom ..outside import nothing\n",
        },
    )
    edges = {(e.source, e.target) for e in import_edges(find_modules(package), root=tmp_path)}
    assert edges == {("pkg.sub", "pkg.sub.leaf"), ("pkg.user", "pkg.sub.leaf"), ("pkg.user", "pkg.sub")}
