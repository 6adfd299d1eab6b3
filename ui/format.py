"""Numbers and times formatted for people."""

from __future__ import annotations

from datetime import datetime

from flywheel_core.numbers import compact_number
from flywheel_core.storage.models import as_utc


def count(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def when(value: datetime | None) -> str:
    value = as_utc(value)
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    value = as_utc(value)
    return "—" if value is None else value.strftime("%Y-%m-%d")


def compact(value: float | None, digits: int = 3) -> str:
    """312M, 1.4B, 12,440, 0.742."""
    return "—" if value is None else compact_number(value, digits)
