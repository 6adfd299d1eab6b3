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


# --- real logs in ---------------------------------------------------------------------------------------


def _pandas_export(tmp_path: Path, copies: int = 1) -> Path:
    from tests.core.test_ingest_quality import analyst_log

    path = tmp_path / "recs.csv"
    path.write_bytes(analyst_log(copies=copies))
    return path


def test_a_pandas_export_imports_with_its_role_flags_and_reports_quality_in_json(run, tmp_path: Path) -> None:
    path = _pandas_export(tmp_path, copies=2)
    flags = ["--column", "user=age+country+device+plan", "--column", "item=item_id", "--column", "event=click"]
    out = json.loads(run("ingest", str(path), "--dataset", "recs", *flags, "--json").stdout)
    assert (out["rows_read"], out["rows_stored"]) == (1600, 1600)
    assert any("Header column 1 has no name" in w for w in out["warnings"])
    duplicate = next(w for w in out["quality"] if w["code"] == "duplicate_rows")
    assert duplicate["count"] == 800 and duplicate["examples"] and "(50%)" in duplicate["message"]
    again = run("ingest", str(path), "--dataset", "once", *flags, "--drop-duplicates", check=False)
    assert again.returncode == 2 and "already imported" in again.stderr  # the same bytes, whatever the options
    path.write_bytes(path.read_bytes() + b"\n")
    dropped = json.loads(run("ingest", str(path), "--dataset", "once", *flags, "--drop-duplicates", "--json").stdout)
    assert (dropped["rows_stored"], dropped["duplicates_dropped"]) == (800, 800)


def test_a_column_holding_two_roles_exits_2_naming_both(run, tmp_path: Path) -> None:
    path = _pandas_export(tmp_path)
    result = run(
        "ingest", str(path), "--dataset", "x", "--column", "user=click", "--column", "event=click", check=False
    )
    assert result.returncode == 2 and "Column 'click' is mapped to two roles, 'user' and 'event'" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(run("datasets", "--json").stdout)["datasets"] == []


def test_users_from_sessions_or_one_anonymous_user(run, tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_bytes(
        b"visit,item,timestamp,event\nv1,a,2026-01-01,click\nv1,b,2026-01-02,skip\nv2,a,2026-01-03,click\n"
    )
    sessions = json.loads(
        run(
            "ingest", str(path), "--dataset", "s", "--column", "session=visit", "--user-from", "session", "--json"
        ).stdout
    )
    assert sessions["column_map"]["user_from"] == "session"
    assert "user_from_session" in [w["code"] for w in sessions["quality"]]
    other = tmp_path / "items.csv"
    other.write_bytes(b"item,timestamp,event\na,2026-01-01,click\nb,2026-01-02,skip\n")
    anonymous = json.loads(run("ingest", str(other), "--dataset", "a", "--anonymous-user", "--json").stdout)
    assert "anonymous_user" in [w["code"] for w in anonymous["quality"]]
    both = run("ingest", str(other), "--dataset", "b", "--anonymous-user", "--user-from", "session", check=False)
    assert both.returncode == 2 and "Choose one of" in both.stderr


def test_invalid_utf8_exits_2_with_line_and_byte_and_no_traceback(run, tmp_path: Path) -> None:
    rows = [b"u%d,2026-01-01T00:00:00Z,click,i%d,1" % (i, i) for i in range(50)]
    rows[30] = b"u\xff\xfe,2026-01-01T00:00:00Z,cl\xe9,ick,i3,1,x"
    path = tmp_path / "latin.csv"
    data = b"user,timestamp,event,item,value\n" + b"\n".join(rows) + b"\n"
    path.write_bytes(data)
    result = run("ingest", str(path), "--dataset", "latin", check=False)
    assert result.returncode == 2
    offset = data.index(b"\xff")
    assert f"line 32 (byte {offset:,})" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run("datasets", "--json").stdout)["datasets"] == []


def test_dataset_remap_and_delete_from_the_command_line(run, tmp_path) -> None:
    log = tmp_path / "plays.csv"
    log.write_text(
        "user,item,timestamp,event,value\n"
        + "".join(f"u{i % 9},i{i % 7},2026-01-{1 + i % 28:02d}T10:00:00Z,stream,{(i * 37) % 240}\n" for i in range(300))
    )
    run("ingest", str(log), "--dataset", "plays")
    out = json.loads(
        run(
            "dataset",
            "remap",
            "plays",
            "--rule",
            "stream: value < 30 -> negative",
            "--signal",
            "save=positive:3",
            "--json",
        ).stdout
    )
    assert out["signal_dictionary_version"] == 2
    assert out["rules"] == ["'stream' with value < 30 counts as negative (weight 1)"]
    bad = run("dataset", "remap", "plays", "--rule", "stream < 30", check=False)
    assert bad.returncode == 2 and "expected 'EVENT: value OP NUMBER" in bad.stderr and "Traceback" not in bad.stderr
    assert json.loads(run("dataset", "delete", "plays", "--yes", "--json").stdout) == {
        "dataset": "plays",
        "deleted": True,
    }
    assert json.loads(run("datasets", "--json").stdout)["datasets"] == []
