"""The public names, held exact (in the manner of httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import inspect

import pytest

import flywheel_core
from flywheel_core import exceptions
from flywheel_core.exceptions import FlywheelError


def _public_errors() -> dict[str, type[FlywheelError]]:
    return {
        name: obj
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and issubclass(obj, FlywheelError)
        and obj.__module__ == exceptions.__name__
        and not name.startswith("_")
    }


def test_all_is_sorted_without_duplicates() -> None:
    assert flywheel_core.__all__ == sorted(set(flywheel_core.__all__))


def test_every_exported_name_resolves_from_its_module() -> None:
    assert set(flywheel_core._WHERE) == set(flywheel_core.__all__)
    for name in flywheel_core.__all__:
        value = getattr(flywheel_core, name)
        module = f"flywheel_core.{flywheel_core._WHERE[name]}"
        assert getattr(__import__(module, fromlist=[name]), name) is value, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = flywheel_core.Nope


def test_every_public_error_is_exported() -> None:
    errors = _public_errors()
    assert {"ConfigurationError", "LimitExceededError", "NotFoundError"} <= set(errors)
    assert set(errors) | {"Problem"} == set(exceptions.__all__)
    assert set(exceptions.__all__) <= set(flywheel_core.__all__)
    for name in exceptions.__all__:
        assert getattr(flywheel_core, name) is getattr(exceptions, name)


def test_the_docstring_tree_is_the_class_tree() -> None:
    """Each error sits in the drawn tree under its nearest public base class."""
    assert exceptions.__doc__ is not None
    drawn: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in exceptions.__doc__.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        word = stripped.lstrip("│├└─ ").split(" ")[0]
        if word not in _public_errors():
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        drawn[word] = stack[-1][1] if stack else None
        stack.append((depth, word))
    assert set(drawn) == set(_public_errors())
    for name, cls in _public_errors().items():
        bases = [b.__name__ for b in cls.__mro__[1:] if b.__name__ in _public_errors()]
        assert drawn[name] == (bases[0] if bases else None), name
