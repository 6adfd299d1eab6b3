"""Seed templates of loop maps, read from data files: one TOML file per seed case in ``flywheel_core/loop/templates/``.

Each file is a loop map in its JSON form (see :mod:`flywheel_core.loop.model`) written as TOML, plus one
key of its own, ``order``: the template's place in the list (1 first). The file name without ``.toml`` is
the template's key (``note-taking.toml`` is ``template_map("note-taking")``). TOML has no null: a field
left out is empty, as it would be in JSON. TOML rather than JSON because each file keeps a comment with
the story its seed tells and edits by hand without escaping, and because ``tomllib`` is in the standard library.

To add a seed case, add a file; ``tests/core/test_templates.py`` checks every file it finds.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from flywheel_core.exceptions import DataValidationError, Problem

__all__ = ["TemplateFile", "find_template_files", "read_template_file", "read_templates", "template_folder"]

SUFFIX = ".toml"
_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class TemplateFile:
    """One template file read: its key (the file name), its place in the list, and the map's JSON form."""

    key: str
    order: int
    data: dict[str, Any]


def template_folder() -> Traversable:
    """The folder of template files shipped inside the package."""
    return resources.files("flywheel_core.loop").joinpath("templates")


def _where(file: Traversable) -> str:
    """The file's path (inside a zipped package: the path from the package folder)."""
    return str(file) if isinstance(file, Path) else f"flywheel_core/loop/templates/{file.name}"


def _error(file: Traversable, problems: list[Problem]) -> DataValidationError:
    listed = "; ".join(f"{p.column}: {p.problem}" if p.column else p.problem for p in problems[:6])
    more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return DataValidationError(
        f"Loop template {_where(file)} has {count}: {listed}{more}. Fix the file; every template must read as a "
        "loop map.",
        problems,
    )


def find_template_files(folder: Traversable | None = None) -> list[Traversable]:
    """Every ``*.toml`` file in ``folder`` (by default the package's), by file name."""
    where = template_folder() if folder is None else folder
    return sorted((f for f in where.iterdir() if f.is_file() and f.name.endswith(SUFFIX)), key=lambda f: f.name)


def read_template_file(file: Traversable, *, check: Callable[[dict[str, Any]], object] | None = None) -> TemplateFile:
    """Read one template file; ``check`` (e.g. :meth:`LoopMap.from_json`) is called on the map's JSON form.

    Raises:
        DataValidationError: naming the file and each bad field (``order``, or the field ``check`` names),
            or the line of a TOML syntax error.
    """
    key = file.name.removesuffix(SUFFIX)
    if not _KEY.match(key):
        raise _error(file, [Problem("must be lower-case letters and digits joined by '-'", column="file name")])
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _error(file, [Problem(f"is not UTF-8 text ({exc.reason} at byte {exc.start})")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise _error(file, [Problem(f"is not valid TOML ({exc})")]) from exc
    order = data.pop("order", None)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise _error(
            file, [Problem(f"must be a whole number from 1 (the template's place), got {order!r}", column="order")]
        )
    if check is not None:
        try:
            check(data)
        except DataValidationError as exc:
            raise _error(file, exc.problems or [Problem(str(exc))]) from exc
    return TemplateFile(key, order, data)


def read_templates(
    folder: Traversable | None = None, *, check: Callable[[dict[str, Any]], object] | None = None
) -> dict[str, dict[str, Any]]:
    """Every template in ``folder`` (by default the package's), key → the map's JSON form, in ``order``.

    Raises:
        DataValidationError: a file is malformed (see :func:`read_template_file`), two files claim the same
            ``order``, or there are no template files at all.
    """
    files = find_template_files(folder)
    if not files:
        where = "flywheel_core/loop/templates/" if folder is None else str(folder)
        raise DataValidationError(
            f"No loop templates (*{SUFFIX}) in {where}. Reinstall the package, or add a template file there."
        )
    templates = [read_template_file(f, check=check) for f in files]
    claimed: dict[int, str] = {}
    for template, file in zip(templates, files, strict=True):
        if template.order in claimed:
            problem = f"{template.order} is also the order of {claimed[template.order]}{SUFFIX}; give each its own"
            raise _error(file, [Problem(problem, column="order")])
        claimed[template.order] = template.key
    return {t.key: t.data for t in sorted(templates, key=lambda t: t.order)}
