"""What the import's integrity checks cost (issue 18): gzip memory peaks, and the CSV paths with and without
quoted line breaks next to the bare parse.

- gzip: the peak resident memory a fresh process adds while inflating, as a multiple of the inflated size,
  for a 256 MB gzip bomb refused at a 256 MB cap and for a legitimate 256 MB file (inflating into a growing
  buffer and copying it out, as before, took 2.0x).
- CSV: ``prepare_import`` on the bench's 1M-event file (no line break in any field: the fast line-split
  parse, plus the per-field CR/LF/NUL look at raw bytes) and on the same file with one quoted multi-line
  field in an unmapped column (the file is read again split by records), beside pyarrow's bare parse.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Figure, median_time, report

_PEAK = """
import resource, sys, zlib
from flywheel_core.data.reading import Limits, _read_source
from flywheel_core.exceptions import LimitExceededError
size, bomb = int(sys.argv[1]) << 20, sys.argv[2] == "bomb"
comp = zlib.compressobj(9 if bomb else 6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
line = b"u,2026-01-01T00:00:00Z,click\\n" * 36000
data = comp.compress(b"user,timestamp,event\\n")
data += b"".join(comp.compress(line) for _ in range((2 if bomb else 1) * size // len(line)))
data += comp.flush()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    inflated = _read_source(data, Limits(max_bytes=size if bomb else 4 * size), "file").size
except LimitExceededError:
    inflated = size
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / inflated, inflated)
"""


def bench_gzip() -> list[Figure]:
    figures = []
    for kind in ("bomb", "file"):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, "256", kind], capture_output=True, text=True, cwd=REPO, check=True
        ).stdout.split()
        ratio, inflated = float(out[0]), int(out[1])
        name = "gzip bomb refused at a 256 MB cap" if kind == "bomb" else "gzip file inflated, 256 MB"
        figures.append(
            Figure(
                f"{name} (peak {ratio:.2f}x)",
                time.perf_counter() - started,
                peak_mb=ratio * inflated / 2**20,
                target="peak near 1x",
            )
        )
    return figures


def bench_csv(csv: Path) -> list[Figure]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from flywheel_core.data.ingest import prepare_import

    multiline = csv.with_name("music-1M-multiline.csv")
    if not multiline.exists():
        lines = [line for line in csv.read_bytes().split(b"\n") if line]
        rows = [lines[0] + b',"note"', *(line + b',""' for line in lines[1:])]
        rows[len(rows) // 2] = rows[len(rows) // 2][:-3] + b',"two\nlines"'  # one quoted line break, unmapped
        multiline.write_bytes(b"\n".join(rows) + b"\n")
    options = pacsv.ConvertOptions(column_types={"timestamp": pa.timestamp("us", tz="UTC")})
    bare = median_time(lambda: pacsv.read_csv(csv, convert_options=options), repeat=3)
    figures = []
    for label, path in (("no line break in any field", csv), ("one quoted line break", multiline)):
        stage = Path(tempfile.mkdtemp(prefix="fw-bench-"))
        try:

            def run(path: Path = path, stage: Path = stage) -> None:
                prepared = prepare_import(path, dataset="d", stage_in=stage)
                assert prepared.refusal is None and prepared.table is not None, prepared.refusal
                prepared.discard()

            figures.append(
                Figure(
                    f"prepare_import 1M, {label}",
                    median_time(run, repeat=5),
                    "bare read_csv",
                    bare,
                    rows=1_005_000,
                )
            )
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return figures


def main() -> None:
    from bench_ingest import make_csv

    cache = Path(tempfile.gettempdir()) / "flywheel-bench"
    cache.mkdir(exist_ok=True)
    report("Import integrity: gzip memory (fresh processes; peak added while inflating)", bench_gzip())
    report(
        "Import integrity: CSV paths (in process, medians of 5)", bench_csv(make_csv(cache / "music-1M.csv", 1_000_000))
    )


if __name__ == "__main__":
    main()
