"""Named pause points for fault-injection tests (a kill or a dropped connection at an exact step).

``FLYWHEEL_PAUSE_AT=<point>`` and ``FLYWHEEL_PAUSE_DIR=<folder>`` make a process reaching that point
write ``<folder>/<point>.reached`` and wait until ``<folder>/<point>.release`` exists. Unset (always, outside
tests), a pause point costs one dictionary look-up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["pause_point"]


def pause_point(name: str) -> None:
    if os.environ.get("FLYWHEEL_PAUSE_AT") != name:
        return
    folder = Path(os.environ.get("FLYWHEEL_PAUSE_DIR", "."))
    (folder / f"{name}.reached").write_text(str(os.getpid()))
    release = folder / f"{name}.release"
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
