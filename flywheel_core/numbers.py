"""Numbers and times for people: the one set of formatters for reasons, pages, the CLI and the report.

Every formatter answers "—" for a missing value, so a table cell never reads "None" or "nan". Times are
shown in UTC; a naive datetime (as SQLite returns it) is taken to be UTC already.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["compact", "compact_number", "count", "day", "hours", "iso", "number", "percent", "significant", "when"]

MISSING = "—"


def compact_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits: thousands separators up to 100,000, then k, M, B, T."""
    if not math.isfinite(value):
        return MISSING
    a = abs(value)
    for cut, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e5, "k")):
        if a >= cut:
            base = 1e3 if suffix == "k" else cut
            return f"{value / base:.{digits}g}{suffix}"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def compact(value: float | None, digits: int = 3) -> str:
    """312M, 1.4B, 12,440, 0.742 (see :func:`compact_number`)."""
    return MISSING if value is None else compact_number(value, digits)


def count(value: float | None) -> str:
    """A whole count with thousands separators: 12,440."""
    return MISSING if value is None else f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: 0.4213 is 42.1%."""
    return MISSING if value is None else f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 3) -> str:
    """A value with a fixed number of decimals: 0.742, 1,204.500."""
    return MISSING if value is None else f"{value:,.{digits}f}"


def significant(value: float | None, digits: int = 4) -> str:
    """A metric value with ``digits`` significant digits below a million, whole above: 0.7421, 2,431,904."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def hours(value: float | None) -> str:
    """A duration given in hours, in the unit people say it in: 45 min, 6.5 h, 3.2 days."""
    if value is None:
        return MISSING
    if value < 1:
        return f"{value * 60:,.0f} min"
    return f"{value:,.1f} h" if value < 48 else f"{value / 24:,.1f} days"


def _utc(value: datetime | None) -> datetime | None:
    from flywheel_core.storage.models import as_utc  # the storage layer's rule: every stored time is UTC

    return as_utc(value)


def when(value: datetime | None) -> str:
    """2026-03-01 14:05 UTC."""
    value = _utc(value)
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    """2026-03-01 (the UTC date)."""
    value = _utc(value)
    return MISSING if value is None else value.strftime("%Y-%m-%d")


def iso(value: datetime | None) -> str:
    """ISO 8601 with the UTC offset (for files: an empty string when missing)."""
    value = _utc(value)
    return "" if value is None else value.isoformat()
