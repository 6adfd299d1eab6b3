"""SQL sources: a query's rows imported (and appended) like a file, from SQLite always and from the local
PostgreSQL (a million events) wherever a server answers; clear errors that never show a password."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel_core.data import api as data_api
from flywheel_core.data.reading import Limits
from flywheel_core.data.sql import read_query, redact_url
from flywheel_core.exceptions import ConfigurationError, ConflictError, DataValidationError, LimitExceededError
from flywheel_core.storage.store import Store
from tests.conftest import PG_URL

SOURCE_PG = (PG_URL or "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "postgresql+psycopg://", "postgresql://"
)


@pytest.fixture
def events_db(tmp_path: Path) -> str:
    """A SQLite file with an events table: integer user ids, ISO times, two weeks of clicks and skips."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (customer_id INTEGER, occurred_at TEXT, action TEXT, sku TEXT, stars REAL)")
        rows = [
            (u % 7, f"2026-01-{1 + d:02d}T{h:02d}:00:00Z", "click" if (u + d) % 3 else "skip", f"s{u % 5}", None)
            for d in range(14)
            for h in range(0, 24, 6)
            for u in range(10)
        ]
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def test_sqlite_query_imports_like_a_file_and_appends_a_batch(store: Store, workspace_id: int, events_db: str) -> None:
    first_week = "SELECT * FROM events WHERE occurred_at < '2026-01-08'"
    report = data_api.ingest_sql(
        store, workspace_id=workspace_id, url=events_db, query=first_week, dataset="warehouse", actor="alice"
    )
    assert (report.rows_read, report.rows_stored) == (7 * 4 * 10, 7 * 4 * 10)
    assert report.column_map["roles"]["user"] == "customer_id" and report.column_map["roles"]["item"] == "sku"
    stored = store.get_dataset(workspace_id=workspace_id, name="warehouse")
    assert stored.source_name.startswith("sqlite:///") and "occurred_at < '2026-01-08'" in stored.source_name
    events = store.read_events(workspace_id=workspace_id, name="warehouse")
    assert set(events["user"].astype(str)) == {str(u) for u in range(7)}  # integer ids arrive as text

    second_week = "SELECT * FROM events WHERE occurred_at >= '2026-01-08'"
    appended = data_api.append_sql(
        store, workspace_id=workspace_id, url=events_db, query=second_week, dataset="warehouse", actor="alice"
    )
    assert appended.batch == 2 and appended.overlapping_rows == 0
    assert appended.dataset.rows == 14 * 4 * 10 and appended.dataset.users == 7 and appended.dataset.items == 5
    with pytest.raises(ConflictError, match="already imported to this dataset"):
        data_api.append_sql(
            store, workspace_id=workspace_id, url=events_db, query=second_week, dataset="warehouse", actor="alice"
        )


def test_sqlite_errors_say_what_to_do(tmp_path: Path, events_db: str) -> None:
    with pytest.raises(DataValidationError, match=r"The query failed on sqlite.*no such table: nowhere"):
        read_query(events_db, "SELECT * FROM nowhere")
    with pytest.raises(DataValidationError, match="returned no rows"):
        read_query(events_db, "SELECT * FROM events WHERE 1 = 0")
    with pytest.raises(DataValidationError, match="query is empty"):
        read_query(events_db, "  ")
    with pytest.raises(ConfigurationError, match="No SQLite database file"):
        read_query(f"sqlite:///{tmp_path / 'missing.db'}", "SELECT 1")
    with pytest.raises(ConfigurationError, match="not a database URL"):
        read_query("warehouse.db", "SELECT 1")
    with pytest.raises(ConfigurationError, match="No driver can read nosuchdb URLs"):
        read_query("nosuchdb://host/db", "SELECT 1")


def test_a_query_runs_read_only(events_db: str) -> None:
    with pytest.raises(DataValidationError, match=r"readonly|read-only"):
        read_query(events_db, "DELETE FROM events")
    path = events_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (14 * 4 * 10,)


def test_a_result_over_the_row_limit_is_refused(events_db: str) -> None:
    with pytest.raises(LimitExceededError, match="more than 100 rows"):
        read_query(events_db, "SELECT * FROM events", limits=Limits(max_rows=100))


def test_a_missing_driver_names_the_extra(events_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def without_adbc(name: str, *args: object) -> object:
        if name.startswith("adbc_driver_sqlite"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", without_adbc)
    with pytest.raises(ConfigurationError, match=r"adbc-driver-sqlite.*flywheel-studio\[sql\]"):
        read_query(events_db, "SELECT * FROM events")


def test_a_password_is_never_shown() -> None:
    assert redact_url("postgresql://ana:s3cr%40t@db.example:5432/logs") == "postgresql://ana:***@db.example:5432/logs"
    assert redact_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    # nothing listens on port 1: the connection is refused at once
    with pytest.raises(ConfigurationError, match="Could not connect") as refused:
        read_query("postgresql://ana:s3cret-word@127.0.0.1:1/logs", "SELECT 1")
    assert "s3cret-word" not in str(refused.value) and "ana:***@127.0.0.1:1" in str(refused.value)


def _source_server() -> str | None:
    """The PostgreSQL server to read from, when one answers (CI runs one; a laptop may not)."""
    try:
        import psycopg

        psycopg.connect(SOURCE_PG, connect_timeout=3).close()
    except Exception:
        return None
    return SOURCE_PG


@pytest.fixture
def pg_events() -> Iterator[tuple[str, str]]:
    """A table of a million events on the local PostgreSQL, dropped afterwards: (url, table)."""
    url = _source_server()
    if url is None:
        pytest.skip(f"no PostgreSQL server answers at {redact_url(SOURCE_PG)}: runs where one does (CI)")
    import psycopg

    table = f"fw_events_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} AS SELECT 'u' || (g % 20000) AS user_id, "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '2 seconds' AS event_time, "
            "(ARRAY['click', 'skip', 'save'])[1 + g % 3] AS action, (g % 1500)::bigint AS item_id, "
            "(g % 7)::float8 AS dwell_seconds FROM generate_series(1, 1000000) AS g"
        )
    try:
        yield url, table
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_postgresql_million_events_import_and_append(
    store: Store, workspace_id: int, pg_events: tuple[str, str]
) -> None:
    url, table = pg_events
    before = f"SELECT * FROM {table} WHERE event_time < timestamptz '2026-01-20 00:00:00+00'"
    report = data_api.ingest_sql(store, workspace_id=workspace_id, url=url, query=before, dataset="pg", actor="alice")
    assert report.rows_stored == 19 * 86_400 // 2 - 1  # g = 1 .. until 19 days of 2-second steps
    assert report.column_map["roles"]["value"] == "dwell_seconds"
    later = f"SELECT * FROM {table} WHERE event_time >= timestamptz '2026-01-20 00:00:00+00'"
    appended = data_api.append_sql(store, workspace_id=workspace_id, url=url, query=later, dataset="pg", actor="alice")
    dataset = store.get_dataset(workspace_id=workspace_id, name="pg")
    assert dataset.rows == 1_000_000 == report.rows_stored + appended.report.rows_stored
    assert (dataset.users, dataset.items) == (20_000, 1_500) and appended.batch == 2
    events = store.read_events(workspace_id=workspace_id, name="pg", columns=["timestamp", "item"])
    assert len(events) == 1_000_000 and events["timestamp"].is_monotonic_increasing
    assert str(events["timestamp"].iloc[0]) == "2026-01-01 00:00:02+00:00"


def test_postgresql_query_is_read_only(pg_events: tuple[str, str]) -> None:
    url, table = pg_events
    with pytest.raises(DataValidationError, match="read-only transaction"):
        read_query(url, f"DROP TABLE {table}")


def test_the_command_line_reads_a_query_and_appends_one(env: dict[str, str], events_db: str, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flywheel_core.cli", "ingest", *args, "--json"],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "FLYWHEEL_SQL_URL": events_db},  # the URL from the environment
            cwd=tmp_path,
            timeout=120,
        )

    first = run("--query", "SELECT * FROM events WHERE occurred_at < '2026-01-08'", "--dataset", "dw")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["rows_stored"] == 280
    later = run("--query", "SELECT * FROM events WHERE occurred_at >= '2026-01-08'", "--dataset", "dw", "--append")
    assert later.returncode == 0, later.stderr
    out = json.loads(later.stdout)
    assert (out["batch"], out["dataset_rows"], out["overlapping_rows"]) == (2, 560, 0)
    both = run(str(tmp_path / "x.csv"), "--query", "SELECT 1", "--dataset", "dw")
    assert both.returncode == 2 and "not both" in both.stderr
    hidden = run("--sql", "postgresql://ana:pa55word@127.0.0.1:1/x", "--query", "SELECT 1", "--dataset", "pg")
    assert hidden.returncode == 2 and "ana:***@" in hidden.stderr and "pa55word" not in hidden.stderr
