"""Numbers and times for people: the one set of formatters for reasons, pages, the CLI and the report.

Every formatter answers "—" for a missing value, so a table cell never reads "None" or "nan". Times are
shown in UTC; a naive datetime (as SQLite returns it) is taken to be UTC already.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "compact",
    "compact_number",
    "count",
    "counted",
    "day",
    "hours",
    "iso",
    "number",
    "percent",
    "significant",
    "when",
]

MISSING = "—"


def compact_number(value: float, digits: int = 3, *, k_from: float = 1e5) -> str:
    """``value`` with ``digits`` significant digits: thousands separators up to ``k_from``, then k, M, B, T.

    Never scientific notation: 2,097,152,000 is 2.1B, 0.000012 is 0.000012. Axis ticks pass ``k_from=1e3``
    so a log axis reads 1k, 2k, 5k, 10k rather than mixing 1,000 with 100k.
    """
    if not math.isfinite(value):
        return MISSING
    a = abs(value)
    steps = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
    for i, (cut, suffix) in enumerate(steps):
        if a >= cut and (suffix != "k" or a >= k_from):
            text = _trim(value / cut, digits)
            if i and abs(float(text)) >= 1000:  # 999,960 rounds to 1000k: say 1M
                cut, suffix = steps[i - 1]
                text = _trim(value / cut, digits)
            return f"{text}{suffix}"
    if a >= 100:
        return f"{value:,.0f}"
    if a == 0:
        return "0"
    if a >= 1e-4:
        return _trim(value, digits)
    return f"{value:.{digits}g}"  # below 0.0001 only a power of ten is readable


def _trim(value: float, digits: int) -> str:
    """``value`` with ``digits`` significant digits in fixed notation, trailing zeros dropped (1.50 is 1.5)."""
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value)))) if value else 0
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def compact(value: float | None, digits: int = 3) -> str:
    """312M, 1.4B, 12,440, 0.742 (see :func:`compact_number`)."""
    return MISSING if value is None else compact_number(value, digits)


def count(value: float | None) -> str:
    """A whole count with thousands separators: 12,440."""
    return MISSING if value is None else f"{value:,.0f}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun agreeing: 1 loop map, 2 loop maps, 1,204 users (``plural`` when not noun + s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


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
    """A duration given in hours, in the unit people say it in: 36 s, 45 min, 6.5 h, 14 days, 3.2 days."""
    if value is None or not math.isfinite(value):
        return MISSING
    if value < 1 / 60:
        return f"{value * 3600:,.0f} s"
    if value < 1:
        return f"{value * 60:,.0f} min"
    if value < 48:
        return f"{_one_decimal(value)} h"
    days = value / 24
    return f"{_one_decimal(days)} day{'' if days == 1 else 's'}"


def _one_decimal(value: float) -> str:
    """6.5, 14 (not 14.0), 1,204."""
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


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
