"""Errors: they carry their subject, third-party errors are translated by one table, bad names are refused early."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from sqlalchemy import exc as sa

from flywheel_core.exceptions import (
    ConflictError,
    DataValidationError,
    FlywheelError,
    NotFoundError,
    StorageError,
)
from flywheel_core.simulate.flywheel import KNOBS, SimulationParams, parameter_paths, with_overrides
from flywheel_core.storage import repository as repo
from flywheel_core.storage.engine import session_scope
from flywheel_core.storage.errors import STORAGE_ERRORS, map_exceptions
from flywheel_core.storage.files import write_atomic
from flywheel_core.storage.models import Experiment, Workspace
from flywheel_core.storage.store import Store


def _db_error(cls: type[sa.DBAPIError], text: str) -> sa.DBAPIError:
    return cls("INSERT INTO t VALUES (?)", {}, Exception(text))


# --- errors carry their subject -------------------------------------------------------------------


def test_not_found_error_carries_entity_and_name(store: Store, workspace_id: int) -> None:
    with pytest.raises(NotFoundError, match="No dataset named 'nope'") as caught:
        store.get_dataset(workspace_id=workspace_id, name="nope")
    assert (caught.value.entity, caught.value.name) == ("dataset", "nope")
    with pytest.raises(NotFoundError) as missing:
        store.get_workspace(name="Team Z")
    assert (missing.value.entity, missing.value.name) == ("workspace", "Team Z")


def test_conflict_error_carries_entity_and_name(store: Store, workspace_id: int) -> None:
    with pytest.raises(ConflictError, match="already exists") as caught:
        store.create_workspace(name="Team A", actor="bob")
    assert (caught.value.entity, caught.value.name) == ("workspace", "Team A")
    assert isinstance(caught.value.__cause__, sa.IntegrityError)


def test_subject_is_optional_and_survives_pickling() -> None:
    plain = NotFoundError("No such thing.")
    assert str(plain) == "No such thing." and plain.entity is None and plain.name is None
    error = pickle.loads(pickle.dumps(ConflictError("Taken.", entity="loop_map", name="Music")))
    assert type(error) is ConflictError and str(error) == "Taken."
    assert (error.entity, error.name) == ("loop_map", "Music")


# --- one translation table at the storage boundary ------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected", "words"),
    [
        (_db_error(sa.IntegrityError, "UNIQUE constraint failed: workspace.name"), ConflictError, "clashes"),
        (_db_error(sa.OperationalError, "disk I/O error"), StorageError, "The database failed"),
        (_db_error(sa.OperationalError, "database is locked"), StorageError, "busy with another change"),
        (_db_error(sa.OperationalError, "canceling statement due to lock timeout"), StorageError, "busy"),
        (_db_error(sa.InterfaceError, "connection closed"), StorageError, "connection to the database failed"),
        (_db_error(sa.DataError, "value too long for type character varying(80)"), DataValidationError, "too long"),
        (sa.TimeoutError("QueuePool limit reached"), StorageError, "busy"),
        (OSError(28, "No space left on device", "/srv/secret/path"), StorageError, "No space left on device"),
    ],
)
def test_map_exceptions_translates_through_the_table(
    raised: BaseException, expected: type[FlywheelError], words: str
) -> None:
    with pytest.raises(expected, match=words) as caught, map_exceptions():
        raise raised
    assert caught.value.__cause__ is raised
    assert "/srv/secret" not in str(caught.value)  # the server's paths are not shown
    assert "try again" in str(caught.value) or "permissions" in str(caught.value)  # says what to do


def test_map_exceptions_lets_bugs_and_flywheel_errors_through() -> None:
    bug = _db_error(sa.ProgrammingError, "syntax error at or near SELEC")
    with pytest.raises(sa.ProgrammingError), map_exceptions():
        raise bug
    with pytest.raises(ValueError, match="plain"), map_exceptions():
        raise ValueError("plain")
    mine = NotFoundError("No such map.", entity="loop_map", name="m")
    with pytest.raises(NotFoundError) as caught, map_exceptions():
        raise mine
    assert caught.value is mine
    assert STORAGE_ERRORS[sa.DBAPIError] is None  # untranslated on purpose: SQL the code got wrong


def test_map_exceptions_takes_a_site_message_and_subject_even_with_braces() -> None:
    taken = "A dataset named 'q{1}' already exists ({reason}). Pick another name."
    with (
        pytest.raises(ConflictError, match=r"'q\{1\}' already exists \(UNIQUE constraint failed\)") as caught,
        map_exceptions(messages={ConflictError: taken}, entity="dataset", name="q{1}"),
    ):
        raise _db_error(sa.IntegrityError, "UNIQUE constraint failed")
    assert (caught.value.entity, caught.value.name) == ("dataset", "q{1}")


def test_session_scope_translates_an_error_at_commit(store: Store, workspace_id: int) -> None:
    with (
        pytest.raises(ConflictError, match="clashes with data stored meanwhile") as caught,
        session_scope(store.engine) as session,
    ):
        session.add(Workspace(name="Team A", created_by="bob"))  # only the commit flushes it
    assert isinstance(caught.value.__cause__, sa.IntegrityError)
    assert [w.name for w in store.list_workspaces()] == ["Team A"]


def test_writing_into_a_file_instead_of_a_folder_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the folder should be")
    with pytest.raises(StorageError, match=r"Could not write events\.parquet to the data folder"):
        write_atomic(tmp_path / "blocker" / "events.parquet", lambda temp: temp.write_bytes(b"x"))


def test_repository_refuses_an_unknown_role_and_another_workspaces_row(store: Store, workspace_id: int) -> None:
    with pytest.raises(DataValidationError, match=r"The 'role' parameter of set_membership .*'owner'.*'admin'"):
        repo.set_membership(session=None, workspace_id=workspace_id, username="bob", role="admin", actor="alice")  # type: ignore[arg-type]
    other = Experiment(workspace_id=workspace_id + 1, dataset_id=1, kind="capture", params={}, result={})
    with (
        pytest.raises(NotFoundError, match="not part of this workspace") as caught,
        session_scope(store.engine) as session,
    ):
        repo.add_experiment(session=session, workspace_id=workspace_id, experiment=other, actor="alice")
    assert caught.value.entity == "experiment"


def test_ensure_workspace_says_a_too_long_name_is_too_long(store: Store) -> None:
    # Store.ensure_workspace catches every error of create_workspace and reports "not found" instead.
    with pytest.raises(DataValidationError, match="80"):
        store.ensure_workspace(name="x" * 81, actor="a")


# --- the simulator refuses unknown names up front -------------------------------------------------


@pytest.mark.parametrize("name", ["analysis.magic", "collection", "to_json", "capture_share"])
def test_with_overrides_refuses_an_unknown_name_and_lists_the_valid_ones(name: str) -> None:
    with pytest.raises(DataValidationError, match=f"No simulator parameter '{name}'") as caught:
        with_overrides(SimulationParams(), {"network_share": 0.5, name: 1.0})
    message = str(caught.value)
    assert all(path in message for path in parameter_paths())
    assert "collection.capture_share" in message and "initial_users" in message


def test_with_overrides_checks_values_against_the_knobs_ranges() -> None:
    with pytest.raises(DataValidationError, match=r"'collection\.capture_share' parameter of with_overrides"):
        with_overrides(SimulationParams(), {"collection.capture_share": 1.5})
    with pytest.raises(DataValidationError, match=r"'initial_users' parameter of with_overrides .*'many'"):
        with_overrides(SimulationParams(), {"initial_users": "many"})  # type: ignore[dict-item]
    changed = with_overrides(SimulationParams(), {"initial_users": 50.0, "analysis.ceiling": 0.7})
    assert changed.initial_users == 50.0 and changed.analysis.ceiling == 0.7
    assert {k.path for k in KNOBS} <= set(parameter_paths())
