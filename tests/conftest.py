"""Shared fixtures: a temporary data folder and store per test (SQLite, or PostgreSQL when
FLYWHEEL_TEST_DATABASE_URL is set: each test then gets a fresh database on that server)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel_core.config import Settings, load_settings
from flywheel_core.storage.store import Store

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
OTTO = DATA / "otto" / "events.csv"  # CC BY 4.0, see tests/data/otto/README.md
PG_URL = os.environ.get("FLYWHEEL_TEST_DATABASE_URL")
DEMO_EVENTS = 2_000  # events per demo dataset in tests that need a demo workspace


def _fresh_pg_database(base_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    name = f"fw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    root = base_url.rsplit("/", 1)[0]
    return f"{root}/{name}", name


def _drop_pg_database(base_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``db`` every test that uses an instance (through ``env``): the PostgreSQL pass runs only those."""
    for item in items:
        if "env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder (SQLite) holding the demo workspace, built once per test process, copied per test."""
    from flywheel_core.demo import load_demo_workspace

    folder = tmp_path_factory.mktemp("demo-template") / "data"
    store = Store(load_settings({"FLYWHEEL_DATA_DIR": str(folder)}))
    load_demo_workspace(store, actor="local", n_events=DEMO_EVENTS)
    store.engine.dispose()  # the last connection checkpoints the WAL into the database file
    return folder


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment variables for a fresh instance (data folder, database).

    A test that also asks for ``demo_instance`` starts with the demo workspace in it: on SQLite a copy
    of the session's template, made before anything opens the database.
    """
    values = {"FLYWHEEL_DATA_DIR": str(tmp_path / "data")}
    dropped = None
    if PG_URL:
        url, dropped = _fresh_pg_database(PG_URL)
        values["FLYWHEEL_DATABASE_URL"] = url
    elif "demo_instance" in request.fixturenames:
        shutil.copytree(request.getfixturevalue("demo_template"), tmp_path / "data")
    yield values
    if PG_URL and dropped:
        _drop_pg_database(PG_URL, dropped)


@pytest.fixture
def demo_instance(env: dict[str, str]) -> str:
    """The test's instance holds the demo workspace (``DEMO_EVENTS`` per dataset); returns its name."""
    from flywheel_core.demo import DEMO_WORKSPACE, load_demo_workspace

    if PG_URL:  # each test has its own database on the server: load the demo into it
        store = Store(load_settings(env))
        load_demo_workspace(store, actor="local", n_events=DEMO_EVENTS)
        store.engine.dispose()
    return DEMO_WORKSPACE


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings)
    yield store
    store.engine.dispose()


@pytest.fixture
def workspace_id(store: Store) -> int:
    workspace = store.create_workspace(name="Team A", actor="alice")
    assert workspace.id is not None
    return workspace.id
