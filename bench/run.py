"""Run every benchmark in bench/ (files named bench_*.py, each with a main()) and print the figures.

python bench/run.py            # all
python bench/run.py ingest     # only bench_ingest.py
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def main(argv: list[str]) -> None:
    import os

    print(f"# Flywheel Studio benchmarks · Python {platform.python_version()} · {os.cpu_count()} cores")
    wanted = set(argv)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(path.stem)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
