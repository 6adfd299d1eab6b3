"""User text shown as text: Markdown escaping for anything a user typed or uploaded (names, column names)."""

from __future__ import annotations

import re

__all__ = ["md_escape"]

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """``text`` with every Markdown control character escaped, so ``![x](http://host/p.png)`` stays text."""
    return _MARKDOWN.sub(r"\\\1", text)
