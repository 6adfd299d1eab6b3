"""Numbers for people: one compact formatter for reasons, pages and reports (312M, 1.4B, 12,440, 0.742)."""

from __future__ import annotations

import math

__all__ = ["compact_number"]


def compact_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits: thousands separators up to 100,000, then k, M, B, T."""
    if not math.isfinite(value):
        return "—"
    a = abs(value)
    for cut, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e5, "k")):
        if a >= cut:
            base = 1e3 if suffix == "k" else cut
            return f"{value / base:.{digits}g}{suffix}"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
