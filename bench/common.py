"""Shared benchmark helpers: medians of repeated timings, child-process peak memory, a result table.

Machines here are noisy: report medians and ratios against a bare-library reference doing the same work.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


@dataclass
class Figure:
    name: str
    seconds: float
    reference: str = ""
    reference_seconds: float | None = None
    peak_mb: float | None = None
    rows: int | None = None
    target: str = ""

    def line(self) -> str:
        parts = [f"{self.name:<46} {self.seconds:8.3f} s"]
        if self.rows:
            parts.append(f"{self.rows / self.seconds:>12,.0f} rows/s")
        if self.peak_mb is not None:
            parts.append(f"peak {self.peak_mb:7.0f} MB")
        if self.reference_seconds:
            parts.append(
                f"| {self.reference}: {self.reference_seconds:.3f} s, ratio {self.seconds / self.reference_seconds:.2f}x"
            )
        if self.target:
            parts.append(f"[target {self.target}]")
        return "  ".join(parts)


def median_time(func: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_process(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak resident MB of that process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def median_process(args: list[str], repeat: int = 3, **kwargs: object) -> tuple[float, float]:
    runs = [run_process(args, **kwargs) for _ in range(repeat)]  # type: ignore[arg-type]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def python() -> str:
    return sys.executable


def report(title: str, figures: list[Figure]) -> None:
    print(f"\n## {title}")
    for figure in figures:
        print("  " + figure.line())
