"""Appends: a batch added to a dataset with its stored mapping, as its own file, all or nothing; refused
when already imported or when its columns do not fit; the dataset's counts, span and hash kept right."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from flywheel_core.data import api as data_api
from flywheel_core.exceptions import ConflictError, DataValidationError, PermissionDeniedError
from flywheel_core.storage.files import batches_hash
from flywheel_core.storage.store import Store

HEADER = "customer,when,action,sku,f_device\n"


def _log(tmp_path: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(f"{r}\n" for r in rows))
    return path


@pytest.fixture
def weekly(store: Store, workspace_id: int, tmp_path: Path) -> Path:
    """Dataset 'shop': week 1 of a log whose user column is 'customer' (mapped by hand)."""
    first = _log(
        tmp_path,
        "week1.csv",
        [
            "c1,2026-01-05T09:00:00Z,click,s1,3",
            "c2,2026-01-06T09:00:00Z,skip,s2,1",
            "c1,2026-01-07T09:00:00Z,click,s3,2",
        ],
    )
    data_api.ingest_file(
        store, workspace_id=workspace_id, source=first, dataset="shop", actor="alice", columns={"user": "customer"}
    )
    return first


def _week2(tmp_path: Path, *extra: str) -> Path:
    return _log(
        tmp_path,
        "week2.csv",
        ["c3,2026-01-12T09:00:00Z,click,s1,3", "c1,2026-01-13T09:00:00Z,save,s4,2", *extra],
    )


def _files(store: Store) -> set[str]:
    root = store.data_dir / "workspaces"
    return {p.relative_to(store.data_dir).as_posix() for p in root.rglob("*.parquet")}


def test_append_adds_a_batch_file_and_keeps_the_counts_right(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    before = store.get_dataset(workspace_id=workspace_id, name="shop")
    first_file = store.data_dir / before.file_path
    first_bytes = first_file.read_bytes()
    result = data_api.append_file(
        store, workspace_id=workspace_id, source=_week2(tmp_path), dataset="shop", actor="bob"
    )
    assert result.batch == 2 and result.overlapping_rows == 0 and result.report.rows_stored == 2
    after = result.dataset
    assert (after.rows, after.users, after.items) == (5, 3, 4)  # users c1 c2 c3; items s1..s4 over both batches
    assert (
        str(after.first_event) == "2026-01-05 09:00:00+00:00" and str(after.last_event) == "2026-01-13 09:00:00+00:00"
    )
    batches = store.list_dataset_batches(workspace_id=workspace_id, name="shop")
    assert [(b.number, b.rows, b.source_name) for b in batches] == [(1, 3, "week1.csv"), (2, 2, "week2.csv")]
    assert batches[0].file_path == before.file_path and batches[0].content_hash == before.content_hash
    assert after.content_hash == batches_hash([b.content_hash for b in batches]) != before.content_hash
    assert first_file.read_bytes() == first_bytes  # history is never rewritten
    assert _files(store) == {b.file_path for b in batches}
    events = store.read_events(workspace_id=workspace_id, name="shop")
    assert list(events["user"].astype(str)) == ["c1", "c2", "c1", "c3", "c1"]
    assert list(events["f_device"]) == [3.0, 1.0, 2.0, 3.0, 2.0]
    # the new event gets its default meaning in the dataset's dictionary; the old ones keep theirs
    assert after.signals.events["save"].polarity == "positive" and after.signals.events["skip"].polarity == "negative"
    audit = [(a.action, a.detail) for a in store.audit(workspace_id=workspace_id)]
    assert ("update", "appended batch 2: 2 rows") in audit


def test_users_and_items_are_distinct_over_every_batch(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    data_api.append_file(store, workspace_id=workspace_id, source=_week2(tmp_path), dataset="shop", actor="bob")
    third = _log(tmp_path, "week3.csv", ["c2,2026-01-19T09:00:00Z,click,s9,1", "c4,2026-01-20T09:00:00Z,skip,s1,1"])
    result = data_api.append_file(store, workspace_id=workspace_id, source=third, dataset="shop", actor="bob")
    events = store.read_events(workspace_id=workspace_id, name="shop")
    assert result.batch == 3 and (result.dataset.users, result.dataset.items) == (4, 5)
    assert (events["user"].nunique(), events["item"].nunique(), len(events)) == (4, 5, 7)


def test_overlapping_rows_are_counted_stored_and_sorted_in(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    late = _week2(tmp_path, "c2,2026-01-06T12:00:00Z,click,s2,1")  # an event of week 1 that arrived late
    result = data_api.append_file(store, workspace_id=workspace_id, source=late, dataset="shop", actor="bob")
    assert result.overlapping_rows == 1 and result.report.rows_stored == 3
    assert any("1 of the batch's 3 events fall inside" in w for w in result.report.warnings)
    events = store.read_events(workspace_id=workspace_id, name="shop")
    assert events["timestamp"].is_monotonic_increasing and len(events) == 6
    only_users = store.read_events(workspace_id=workspace_id, name="shop", columns=["user"])
    assert list(only_users.columns) == ["user"] and list(only_users["user"].astype(str)) == list(
        events["user"].astype(str)
    )


def test_a_batch_already_imported_is_refused_anywhere_in_the_workspace(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    week2 = _week2(tmp_path)
    data_api.append_file(store, workspace_id=workspace_id, source=week2, dataset="shop", actor="bob")
    files = _files(store)
    with pytest.raises(ConflictError, match="already imported to this dataset"):
        data_api.append_file(store, workspace_id=workspace_id, source=week2, dataset="shop", actor="bob")
    with pytest.raises(ConflictError, match="already imported"):  # nor as a new dataset
        data_api.ingest_file(store, workspace_id=workspace_id, source=week2, dataset="copy", actor="bob")
    data_api.ingest_file(
        store,
        workspace_id=workspace_id,
        source=_log(tmp_path, "other.csv", ["c9,2026-02-01T00:00:00Z,click,s1,1"]),
        dataset="other",
        actor="bob",
        columns={"user": "customer"},
    )
    with pytest.raises(ConflictError, match="as part of dataset 'shop'"):  # nor to another dataset
        data_api.append_file(store, workspace_id=workspace_id, source=week2, dataset="other", actor="bob")
    with pytest.raises(ConflictError, match="as part of dataset 'shop'"):  # the first batch counts too
        data_api.append_file(store, workspace_id=workspace_id, source=weekly, dataset="other", actor="bob")
    assert store.get_dataset(workspace_id=workspace_id, name="shop").rows == 5
    assert len(_files(store)) == len(files) + 1  # only 'other' was added


def test_a_batch_without_the_mapped_columns_is_refused_clearly(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    renamed = _log(
        tmp_path, "renamed.csv", ["c3,2026-01-12T09:00:00Z,click,s1,3"], header="user,when,action,sku,device\n"
    )
    with pytest.raises(DataValidationError, match=r"has no column 'customer' \(user\), 'f_device' \(feature\)") as err:
        data_api.append_file(store, workspace_id=workspace_id, source=renamed, dataset="shop", actor="bob")
    assert "user=customer" in str(err.value) and {p.column for p in err.value.problems} == {"customer", "f_device"}
    text_feature = _log(tmp_path, "text.csv", ["c3,2026-01-12T09:00:00Z,click,s1,phone"])
    with pytest.raises(
        DataValidationError, match="column 'f_device' holds string values where dataset 'shop' holds double"
    ):
        data_api.append_file(store, workspace_id=workspace_id, source=text_feature, dataset="shop", actor="bob")
    bad_rows = _log(tmp_path, "bad.csv", ["c3,yesterday,click,s1,3"])
    with pytest.raises(DataValidationError, match="not a date or time"):
        data_api.append_file(store, workspace_id=workspace_id, source=bad_rows, dataset="shop", actor="bob")
    assert store.get_dataset(workspace_id=workspace_id, name="shop").rows == 3
    assert len(store.list_dataset_batches(workspace_id=workspace_id, name="shop")) == 1
    assert list((store.data_dir / "staging").glob("*")) == []


def test_a_failed_append_leaves_nothing_behind(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flywheel_core.storage import repository

    before = store.get_dataset(workspace_id=workspace_id, name="shop")
    files = _files(store)

    def fail(**_kwargs: object) -> None:
        raise ConflictError("stored by someone else meanwhile")

    monkeypatch.setattr(repository, "add_dataset_batch", fail)
    with pytest.raises(ConflictError, match="meanwhile"):
        data_api.append_file(store, workspace_id=workspace_id, source=_week2(tmp_path), dataset="shop", actor="bob")
    after = store.get_dataset(workspace_id=workspace_id, name="shop")
    assert (after.rows, after.content_hash, after.last_event) == (before.rows, before.content_hash, before.last_event)
    assert _files(store) == files and list((store.data_dir / "staging").glob("*")) == []


def test_deleting_a_dataset_removes_every_batch_and_the_sweep_keeps_them(
    store: Store, workspace_id: int, weekly: Path, tmp_path: Path
) -> None:
    data_api.append_file(store, workspace_id=workspace_id, source=_week2(tmp_path), dataset="shop", actor="bob")
    everything = {p.name for p in (store.data_dir / "workspaces").rglob("*") if p.is_file()}
    assert (
        len(_files(store)) == 2 and len([n for n in everything if n.endswith(".ids.arrow")]) == 2
    )  # ids of each batch
    assert store.sweep_orphan_files(min_age_seconds=0) == []
    store.delete_dataset(workspace_id=workspace_id, name="shop", actor="bob")
    assert [p for p in (store.data_dir / "workspaces").rglob("*") if p.is_file()] == []
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasetbatch")).scalar() == 0


def test_viewers_cannot_append(settings, workspace_id: int, weekly: Path, tmp_path: Path) -> None:
    enforced = Store(settings, enforce_roles=True)
    enforced.set_member(workspace_id=workspace_id, username="vera", role="viewer", actor="alice")
    with pytest.raises(PermissionDeniedError, match="needs 'editor'"):
        data_api.append_file(enforced, workspace_id=workspace_id, source=_week2(tmp_path), dataset="shop", actor="vera")
    enforced.engine.dispose()


def test_migration_makes_batch_one_of_every_existing_dataset(settings) -> None:
    from alembic import command
    from alembic.config import Config

    from flywheel_core.storage.engine import _MIGRATIONS, make_engine, upgrade_database

    engine = make_engine(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:  # a database as the release before appends left it
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text("INSERT INTO workspace (name, created_by, created_at) VALUES ('w', 'a', :t)"), {"t": "2026-01-01"}
        )
        connection.execute(
            text(
                "INSERT INTO dataset (workspace_id, name, source_name, content_hash, file_path, rows, users, items, "
                "first_event, last_event, column_map, signal_dictionary, report, created_by, created_at) VALUES "
                "(1, 'old', 'old.csv', 'abc', 'workspaces/1/datasets/abc.parquet', 7, 2, 1, :t, :t, '{}', '{}', "
                "'{}', 'a', :t)"
            ),
            {"t": "2026-01-01"},
        )
    upgrade_database(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT dataset_id, number, content_hash, file_path, rows FROM datasetbatch")).all()
    assert [tuple(r) for r in rows] == [(1, 1, "abc", "workspaces/1/datasets/abc.parquet", 7)]
    engine.dispose()
