"""The `flywheel` command run as a real process against the test's temporary instance."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path) -> Run:
    """``run(*args, check=True)``: with check, a non-zero exit fails the test and shows stderr."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "flywheel_core.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "FLYWHEEL_ACTOR": "ci"},
            cwd=tmp_path,
            timeout=300,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run
