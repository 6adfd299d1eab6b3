"""Sizing: what one machine does at 1M, 5M, 25M and 50M events (README, "Sizing").

Each step is a `flywheel` process on a fresh instance, one after another: import the CSV, profile it, train
(logistic, ``BENCH_SIZING_TURNS`` turns, default 3). Printed: wall time and the peak resident memory of that
process (its children included for training). The inputs are the ingest bench's generated music logs
(5M events repeated later in time for 25M and 50M).

    python bench/run.py sizing                      # 1M, 5M, 25M, 50M
    BENCH_SIZING_SIZES=1,5 python bench/run.py sizing
    BENCH_SIZING_TRAIN_MAX=5 python bench/run.py sizing   # train only up to 5M events (default 25)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench_ingest import make_csv, scaled_csv
from common import python, run_process

SIZES = [int(s) for s in os.environ.get("BENCH_SIZING_SIZES", "1,5,25,50").split(",")]
TURNS = int(os.environ.get("BENCH_SIZING_TURNS", "3"))
TRAIN_MAX = int(os.environ.get("BENCH_SIZING_TRAIN_MAX", "25"))
INPUTS = Path(tempfile.gettempdir()) / "flywheel-bench"


def _csv(millions: int) -> Path:
    INPUTS.mkdir(exist_ok=True)
    if millions == 1:
        return make_csv(INPUTS / "music-1M.csv", 1_000_000)
    five = make_csv(INPUTS / "music-5M.csv", 5_000_000)
    return five if millions == 5 else scaled_csv(five, millions // 5)


def _step(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one `flywheel` command (its waited-for children included)."""
    return run_process([python(), "-m", "flywheel_core.cli", *args], env=env)


def main() -> None:
    print("\n## Sizing: a `flywheel` process per step on a fresh instance (peak = resident set, children included)")
    print(f"  {'events':>7}  {'CSV':>8}  {'import':>16}  {'profile':>16}  {'train (' + str(TURNS) + ' turns)':>20}")
    for millions in SIZES:
        csv = _csv(millions)
        folder = Path(tempfile.mkdtemp(prefix="flywheel-sizing-"))
        env = {
            "FLYWHEEL_DATA_DIR": str(folder),
            "FLYWHEEL_MAX_UPLOAD_MB": "100000",
            "FLYWHEEL_MAX_FILE_MB": "100000",
            "FLYWHEEL_MAX_ROWS": str(max(millions, 1) * 1_100_000),
            "FLYWHEEL_JOBS_INLINE": "1",
            "FLYWHEEL_ACTOR": "bench",
        }
        try:
            cells = []
            for args in (
                ["ingest", str(csv), "--dataset", "music", "--signal", "skip=negative", "--json"],
                ["profile", "music", "--json"],
                ["train", "music", "--turns", str(TURNS), "--model", "logistic", "--json"],
            ):
                if args[0] == "train" and millions > TRAIN_MAX:
                    cells.append("not run")
                    continue
                seconds, peak = _step(args, env)
                cells.append(f"{seconds:6.1f} s {peak:5.0f} MB")
            size = csv.stat().st_size / 1e9
            print(f"  {millions:>6}M  {size:6.2f}GB  {cells[0]:>16}  {cells[1]:>16}  {cells[2]:>20}", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
