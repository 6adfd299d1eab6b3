"""Size limits on the small files a user hands the app besides event logs (loop maps, curves, model versions).

Event logs have their own configurable limits (``FLYWHEEL_MAX_UPLOAD_MB``, ``FLYWHEEL_MAX_ROWS``,
``FLYWHEEL_MAX_FIELD_CHARS``: :class:`flywheel_core.data.reading.Limits`). These files are a few kilobytes in
real use; the limits below are far above that and keep one request's work bounded. Each is checked before the
file is parsed.
"""

from __future__ import annotations

from pathlib import Path

from flywheel_core.exceptions import LimitExceededError
from flywheel_core.numbers import compact

__all__ = [
    "MAX_LOOP_FILE_BYTES",
    "MAX_LOOP_LIST_ITEMS",
    "MAX_SERIES_FILE_BYTES",
    "MAX_VERSIONS_FILE_BYTES",
    "check_file_size",
]

MAX_LOOP_FILE_BYTES = 1024 * 1024  # a loop map with every field at its limit is ~300 KB
MAX_LOOP_LIST_ITEMS = 200  # signals or risks in one map
MAX_SERIES_FILE_BYTES = 256 * 1024 * 1024  # a learning-curve CSV; its points are binned past 2,000
MAX_VERSIONS_FILE_BYTES = 16 * 1024 * 1024  # a CSV or JSON of model versions


def _mb(nbytes: int) -> str:
    megabytes = nbytes / (1024 * 1024)
    return f"{megabytes:,.1f} MB" if megabytes < 10 else f"{compact(megabytes)} MB"


def check_file_size(source: Path | bytes, *, limit: int, what: str, name: str, hint: str) -> None:
    """Refuse ``source`` before reading it when it is larger than ``limit`` bytes.

    Raises:
        LimitExceededError: naming the file, its size, the limit and what to do (``hint``).
    """
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    if size > limit:
        shown, most = _mb(size), _mb(limit)
        if shown == most:  # just over: rounded, the two would read the same
            shown, most = f"{size:,} bytes", f"{limit:,} bytes"
        raise LimitExceededError(f"{name} is {shown}; {what} can be at most {most}. {hint} Nothing was read or saved.")
