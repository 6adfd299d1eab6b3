"""SQL sources: `ingest_sql` of a million events from the local PostgreSQL vs a bare ADBC fetch of the same
query (the floor: rows into Arrow) and pandas' ``read_sql`` over SQLAlchemy and psycopg (the usual way).

Target ("Real logs in"): the whole import (fetch, Parquet hand-over, checks, encode, write, commit) within
2x the bare ADBC fetch. Needs a server at FLYWHEEL_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
and the sql extra; the table is made with generate_series and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from common import Figure, report

URL = os.environ.get("FLYWHEEL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = 1_000_000


def _make_table(name: str) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT 'u' || (g % 50000) AS user_id, "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '3 seconds' AS event_time, "
            "(ARRAY['click', 'skip', 'save', 'play'])[1 + g % 4] AS action, 'track' || (g % 8000) AS track_id, "
            f"(g % 240)::float8 AS seconds FROM generate_series(1, {ROWS}) AS g"
        )
        conn.execute(f"ANALYZE {name}")


def _drop_table(name: str) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def bench_sql(repeat: int = 3) -> list[Figure]:
    """The three run in turns, so a noisy spell hits each; medians of ``repeat`` (pandas: one run, it is slow)."""
    import adbc_driver_postgresql.dbapi as adbc
    import pandas as pd
    import sqlalchemy as sa

    from flywheel_core.config import load_settings
    from flywheel_core.data.api import ingest_sql
    from flywheel_core.storage.store import Store

    table = f"fw_bench_{uuid.uuid4().hex[:8]}"
    query = f"SELECT * FROM {table}"
    _make_table(table)
    bare, ours = [], []
    try:
        for i in range(repeat + 1):  # the first round warms the server's cache and is not counted
            started = time.perf_counter()
            with adbc.connect(URL) as conn, conn.cursor() as cursor:
                cursor.execute(query)
                fetched = cursor.fetch_arrow_table()
            assert fetched.num_rows == ROWS
            seconds = time.perf_counter() - started
            if i:
                bare.append(seconds)
            data = Path(tempfile.mkdtemp(prefix="fw-bench-"))
            try:
                store = Store(load_settings({"FLYWHEEL_DATA_DIR": str(data)}))
                workspace = store.ensure_workspace(name="bench", actor="bench")
                started = time.perf_counter()
                stored = ingest_sql(
                    store, workspace_id=workspace.id, url=URL, query=query, dataset=f"pg{i}", actor="bench"
                )
                seconds = time.perf_counter() - started
                assert stored.rows_stored == ROWS
                if i:
                    ours.append(seconds)
                store.engine.dispose()
            finally:
                shutil.rmtree(data, ignore_errors=True)
        engine = sa.create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1))
        started = time.perf_counter()
        frame = pd.read_sql(query, engine)
        pandas_seconds = time.perf_counter() - started
        assert len(frame) == ROWS
        engine.dispose()
    finally:
        _drop_table(table)
    bare_s = statistics.median(bare)
    return [
        Figure("bare ADBC fetch_arrow_table, 1M rows", bare_s, rows=ROWS),
        Figure(
            "ingest_sql: fetch, check, store 1M events",
            statistics.median(ours),
            "bare ADBC fetch",
            bare_s,
            rows=ROWS,
            target="≤ 2x the bare fetch",
        ),
        Figure("pandas read_sql (SQLAlchemy + psycopg), one run", pandas_seconds, "bare ADBC fetch", bare_s, rows=ROWS),
    ]


def main() -> None:
    try:
        import psycopg

        psycopg.connect(URL, connect_timeout=3).close()
    except Exception as exc:  # no server: say so and measure nothing
        print(f"\n## SQL sources: skipped, no PostgreSQL server answers at the bench URL ({type(exc).__name__})")
        return
    report("SQL sources: 1M events from the local PostgreSQL (medians of 3, in turns)", bench_sql())


if __name__ == "__main__":
    main()
