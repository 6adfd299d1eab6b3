"""`flywheel ingest`, `datasets` and `profile` through real processes: bad input exits 2, stores nothing."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "good": b"customer_id,event_time,action,stars\nc1,2026-01-01,rating,5\nc2,2026-01-02,rating,1\nc1,2026-01-09,click,\n",
        "empty": b"",
        "header": b"user,timestamp,event\n",
        "missing": b"user,event\nu,click\n",
        "dates": b"user,timestamp,event\nu,2026-01-01,click\nu,last tuesday,click\n",
        "binary": bytes(range(256)),
        "bomb": gzip.compress(b"user,timestamp,event\n" + b"u,2026-01-01,click\n" * 100_000),
    }
    paths = {}
    for name, data in made.items():
        path = tmp_path / (f"{name}.csv.gz" if name == "bomb" else f"{name}.csv")
        path.write_bytes(data)
        paths[name] = path
    return paths


def test_ingest_detects_roles_and_signals(run, files) -> None:
    result = run("ingest", str(files["good"]), "--dataset", "good", "--signal", "click=positive:1:implicit", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["rows_read"], out["rows_stored"], out["rows_rejected"]) == (3, 3, 0)
    assert out["column_map"]["roles"] == {
        "user": "customer_id",
        "timestamp": "event_time",
        "event": "action",
        "value": "stars",
    }
    profile = json.loads(run("profile", "good", "--json").stdout)
    assert profile["events"] == 3 and profile["explicit_share"] == pytest.approx(2 / 3, abs=1e-3)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "is empty"),
        ("header", "header but no rows"),
        ("missing", "required role 'timestamp'"),
        ("dates", "not a date or time"),
        ("binary", "not a CSV text file"),
    ],
)
def test_bad_files_exit_2_with_one_line_and_store_nothing(run, files, name: str, message: str) -> None:
    result = run("ingest", str(files[name]), "--dataset", name, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run("datasets", "--json").stdout)["datasets"] == []


def test_gzip_bomb_is_refused_by_the_limit(run, files, env) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flywheel_core.cli", "ingest", str(files["bomb"]), "--dataset", "b"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "FLYWHEEL_MAX_UPLOAD_MB": "1"},
    )
    assert result.returncode == 2 and "inflates past the limit" in result.stderr


def test_skip_invalid_stores_the_rest(run, files) -> None:
    out = json.loads(run("ingest", str(files["dates"]), "--dataset", "d", "--skip-invalid", "--json").stdout)
    assert (out["rows_stored"], out["rows_rejected"]) == (1, 1)
    assert out["rejected_reasons"] == {"timestamp: not a date or time": 1}


def test_bad_column_and_signal_options(run, files) -> None:
    bad_column = run("ingest", str(files["good"]), "--dataset", "x", "--column", "user", check=False)
    assert bad_column.returncode == 2 and "expected ROLE=COLUMN" in bad_column.stderr
    bad_signal = run("ingest", str(files["good"]), "--dataset", "x", "--signal", "click=great", check=False)
    assert bad_signal.returncode == 2 and "polarity must be" in bad_signal.stderr
    unknown = run("ingest", str(files["good"]), "--dataset", "x", "--column", "user=nope", check=False)
    assert unknown.returncode == 2 and "'nope', which is not a column" in unknown.stderr
