"""The Store: the one object the service modules use for everything persistent.

Every workspace-scoped method, reads included, checks the caller's role where roles are enforced
(viewer to read, editor to write, owner to manage members) and fails closed: an enforced store never
answers a call without an actor. A method is one unit of work (``Store.unit``): one session, one role
check, one transaction; reads begin deferred and writes take the write lock. Changes write an audit
line. Results are detached rows or DataFrames.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col

from flywheel_core.config import Settings
from flywheel_core.exceptions import (
    ConflictError,
    DataValidationError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
)
from flywheel_core.faults import pause_point
from flywheel_core.params import ROLE, check
from flywheel_core.storage import people
from flywheel_core.storage import repository as repo
from flywheel_core.storage.batch_files import BatchFiles
from flywheel_core.storage.engine import make_engine, session_scope, upgrade_database
from flywheel_core.storage.files import (
    STAGING,
    aggregates_relpath,
    batches_hash,
    dataset_relpath,
    ids_relpath,
    model_relpath,
)
from flywheel_core.storage.folder import DataFolder
from flywheel_core.storage.models import (
    AuditEvent,
    Dataset,
    DatasetBatch,
    Experiment,
    Job,
    LoopMap,
    LoopVersion,
    Membership,
    ModelVersion,
    UserAccount,
    Workspace,
    as_utc,
    utc_now,
)
from flywheel_core.storage.sign_in import SignInMixin

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Store", "WorkspaceSummary"]

_RANK = {role: rank for rank, role in enumerate(repo.ROLES)}


@dataclass(frozen=True)
class WorkspaceSummary:
    workspace: str
    loops: int
    datasets: int
    events: int
    model_versions: int
    experiments: int


class Store(SignInMixin):
    """Persistent state of one Flywheel Studio instance.

    Parameters:
        settings: where the database and the data folder are.
        enforce_roles: check workspace roles on every call (on for signed-in app users; the
            command line runs as the instance's administrator and passes ``False``).
    """

    def __init__(self, settings: Settings, *, enforce_roles: bool = False, migrate: bool = True) -> None:
        self.settings = settings
        self.data_dir: Path = settings.data_dir  # the local folder (staging); the files live in self.folder
        self.folder = DataFolder(settings.data_dir, settings.object_store)
        self.enforce_roles = enforce_roles
        self.engine: Engine = make_engine(settings.database_url)
        from flywheel_core.accounts import SignInThrottle

        self.throttle = SignInThrottle()  # the allowance; failures are counted in the database
        self._session_secret: bytes | None = None
        if migrate:
            upgrade_database(self.engine)

    # --- roles ------------------------------------------------------------------------------

    def _require(self, session: Session, workspace_id: int, actor: str | None, needed: str) -> None:
        if not self.enforce_roles:
            return
        if actor is None:  # fail closed: an enforced store never answers an anonymous caller
            raise PermissionDeniedError("Sign in first: this workspace is only shown to its members.")
        role = repo.get_role(session=session, workspace_id=workspace_id, username=actor)
        if role is None:
            raise NotFoundError("No such workspace for this user.")
        if _RANK[role] < _RANK[needed]:
            raise PermissionDeniedError(
                f"Your role in this workspace is '{role}'; this needs '{needed}'. Ask an owner to change it."
            )

    @contextmanager
    def unit(self, *, workspace_id: int, actor: str | None, needs: str = "viewer") -> Iterator[Session]:
        """One unit of work in a workspace: the caller's role is checked once, then one session.

        ``needs="viewer"`` opens a read-only unit (on SQLite it never waits behind a writer);
        ``"editor"`` or ``"owner"`` opens a write transaction that commits when the block ends.
        """
        with session_scope(self.engine, write=needs != "viewer") as session:
            self._require(session, workspace_id, actor, needs)
            yield session

    def role(self, *, workspace_id: int, username: str) -> str | None:
        if not self.enforce_roles:
            return "owner"
        with session_scope(self.engine, write=False) as session:
            return repo.get_role(session=session, workspace_id=workspace_id, username=username)

    # --- workspaces ---------------------------------------------------------------------------

    def list_workspaces(self, *, username: str | None = None) -> list[Workspace]:
        """The workspaces ``username`` belongs to (every workspace where roles are not enforced)."""
        if self.enforce_roles and username is None:
            raise PermissionDeniedError("Sign in first: workspaces are only listed to their members.")
        with session_scope(self.engine, write=False) as session:
            return repo.list_workspaces(session=session, username=username if self.enforce_roles else None)

    def create_workspace(self, *, name: str, actor: str) -> Workspace:
        name = name.strip()
        if not name or len(name) > 80:
            raise DataValidationError("A workspace name needs 1 to 80 characters.")
        with session_scope(self.engine) as session:
            workspace = repo.create_workspace(session=session, name=name, actor=actor)
            assert workspace.id is not None
            repo.set_membership(session=session, workspace_id=workspace.id, username=actor, role="owner", actor=actor)
            return workspace

    def get_workspace(self, *, name: str, username: str | None = None) -> Workspace:
        with session_scope(self.engine, write=False) as session:
            workspace = repo.get_workspace(session=session, name=name)
            assert workspace.id is not None
            if (
                self.enforce_roles
                and username is not None
                and repo.get_role(session=session, workspace_id=workspace.id, username=username) is None
            ):
                raise NotFoundError(f"No workspace named '{name}'.")
            return workspace

    def ensure_workspace(self, *, name: str, actor: str) -> Workspace:
        """The workspace named ``name``, created (with ``actor`` as owner) when there is none."""
        try:
            return self.get_workspace(name=name)
        except NotFoundError:
            pass
        try:
            return self.create_workspace(name=name, actor=actor)
        except ConflictError:  # created by another process meanwhile
            return self.get_workspace(name=name)

    # --- people ---------------------------------------------------------------------------------

    def add_user(self, *, username: str, password: str | None, display_name: str = "") -> UserAccount:
        """Create a built-in account (argon2 hash) or, with ``password=None``, an SSO-only account."""
        from flywheel_core.accounts import check_username, hash_password

        name = check_username(username)
        hashed = hash_password(password) if password is not None else None
        with session_scope(self.engine) as session:
            return repo.add_user(session=session, username=name, password_hash=hashed, display_name=display_name)

    def list_users(self) -> list[UserAccount]:
        with session_scope(self.engine, write=False) as session:
            return repo.list_users(session=session)

    def set_member(self, *, workspace_id: int, username: str, role: str, actor: str) -> Membership:
        check(ROLE, role, caller="set_member")
        with self.unit(workspace_id=workspace_id, actor=actor, needs="owner") as session:
            return repo.set_membership(
                session=session, workspace_id=workspace_id, username=username, role=role, actor=actor
            )

    def remove_member(self, *, workspace_id: int, username: str, actor: str) -> None:
        """Take ``username`` out of the workspace (needs owner; never the last owner)."""
        with self.unit(workspace_id=workspace_id, actor=actor, needs="owner") as session:
            repo.remove_membership(session=session, workspace_id=workspace_id, username=username, actor=actor)

    def reset_password(self, *, username: str, password: str) -> UserAccount:
        """Give a built-in account a new password (the instance's administrator, from the command line)."""
        from flywheel_core.accounts import hash_password

        hashed = hash_password(password)
        with session_scope(self.engine) as session:
            user = repo.set_password(session=session, username=username, password_hash=hashed)
            people.revoke_sessions(session=session, username=username, now=utc_now())  # a new password: sign in anew
            return user

    def offboard_user(self, *, username: str, actor: str) -> list[int]:
        """Remove a person from every workspace and clear their password, in one transaction; an OIDC
        identity then reaches no workspace either. Returns the workspaces they left."""
        with session_scope(self.engine) as session:
            left = repo.remove_user_everywhere(session=session, username=username, actor=actor)
            people.revoke_sessions(session=session, username=username, now=utc_now())
            if repo.get_user(session=session, username=username) is not None:
                repo.set_password(session=session, username=username, password_hash=None)
            elif not left:
                raise NotFoundError(f"No account or membership named '{username}'.", entity="user", name=username)
            return left

    def list_members(self, *, workspace_id: int, actor: str | None = None) -> list[Membership]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_members(session=session, workspace_id=workspace_id)

    def summarize(self, *, workspace_id: int, actor: str | None = None) -> WorkspaceSummary:
        """Counts of everything in the workspace, counted in SQL in one read."""

        def count(table: Any, column: Any = None) -> Any:
            what = func.count() if column is None else func.coalesce(func.sum(column), 0)
            return sa.select(what).select_from(table).where(table.workspace_id == workspace_id).scalar_subquery()

        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            row = session.execute(
                sa.select(
                    col(Workspace.name),
                    count(LoopMap),
                    count(Dataset),
                    count(Dataset, col(Dataset.rows)),
                    count(ModelVersion),
                    count(Experiment),
                ).where(col(Workspace.id) == workspace_id)
            ).first()
        if row is None:
            raise NotFoundError(f"No workspace with id {workspace_id}.")
        name, loops, datasets, events, versions, experiments = row
        return WorkspaceSummary(
            workspace=name,
            loops=int(loops),
            datasets=int(datasets),
            events=int(events),
            model_versions=int(versions),
            experiments=int(experiments),
        )

    def audit(self, *, workspace_id: int, limit: int = 200, actor: str | None = None) -> list[AuditEvent]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_audit(session=session, workspace_id=workspace_id, limit=limit)

    # --- loop maps ----------------------------------------------------------------------------

    def save_loop(
        self,
        *,
        workspace_id: int,
        name: str,
        content: dict[str, Any],
        actor: str,
        base_version: int | None,
        note: str = "",
    ) -> LoopVersion:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            return repo.save_loop_version(
                session=session,
                workspace_id=workspace_id,
                name=name,
                content=content,
                author=actor,
                base_version=base_version,
                note=note,
            )

    def list_loops(self, *, workspace_id: int, actor: str | None = None) -> list[LoopMap]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_loops(session=session, workspace_id=workspace_id)

    def latest_loop_versions(self, *, workspace_id: int, actor: str | None = None) -> list[tuple[LoopMap, LoopVersion]]:
        """Every loop map with its newest version, by name, in one read."""
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return [
                (loop, repo.get_loop_version(session=session, workspace_id=workspace_id, name=loop.name))
                for loop in repo.list_loops(session=session, workspace_id=workspace_id)
            ]

    def loop_versions(self, *, workspace_id: int, name: str, actor: str | None = None) -> list[LoopVersion]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_loop_versions(session=session, workspace_id=workspace_id, name=name)

    def get_loop_version(
        self, *, workspace_id: int, name: str, version: int | None = None, actor: str | None = None
    ) -> LoopVersion:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.get_loop_version(session=session, workspace_id=workspace_id, name=name, version=version)

    def delete_loop(self, *, workspace_id: int, name: str, actor: str) -> None:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            repo.delete_loop(session=session, workspace_id=workspace_id, name=name, actor=actor)

    # --- datasets -----------------------------------------------------------------------------

    def find_dataset_by_hash(self, *, workspace_id: int, content_hash: str, actor: str | None = None) -> Dataset | None:
        """The dataset whose content, or one of whose batches, has this hash."""
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return _dataset_by_hash(session, workspace_id, content_hash)

    def store_dataset(
        self,
        *,
        workspace_id: int,
        table: pa.Table | Path,
        dataset: Dataset,
        actor: str,
        distinct: dict[str, pa.Array] | None = None,
        aggregates: Path | None = None,
    ) -> Dataset:
        """Write the events file (or move a file staged with ``files.stage_parquet`` into place), then
        commit its row; on any failure nothing is left behind.

        ``distinct`` (the import's distinct ``user`` and ``item`` values, free from its dictionary encoding)
        is kept beside the events as the batch's ids file, so the first append need not read them back.
        ``aggregates`` (a folder of the batch's aggregates staged locally, ``summaries.stage``) is put beside
        the events file, like it, before the row commits.

        ``dataset`` carries the metadata (name, hash, counts, mapping); its ``file_path`` is set here.
        The whole store runs under the workspace's write lock, so two imports of the same file at
        once store it once, and files left by a killed import are swept before writing.
        """
        relpath = dataset_relpath(workspace_id, dataset.content_hash)
        dataset.file_path = relpath
        dataset.workspace_id = workspace_id
        written = False
        try:
            with session_scope(self.engine) as session:
                self._lock_workspace(session, workspace_id)
                self._require(session, workspace_id, actor, "editor")
                repo.check_dataset_free(
                    session=session, workspace_id=workspace_id, name=dataset.name, content_hash=dataset.content_hash
                )
                appended = repo.find_batch_by_hash(
                    session=session, workspace_id=workspace_id, content_hash=dataset.content_hash
                )
                if appended is not None:
                    owner = session.get(Dataset, appended.dataset_id)
                    raise ConflictError(
                        f"This file's content was already imported as batch {appended.number} of dataset "
                        f"'{owner.name if owner else '?'}'. Nothing new was stored.",
                        entity="dataset",
                        name=dataset.name,
                    )
                self.folder.sweep(
                    repo.referenced_paths(session=session),
                    min_age_seconds=0,
                    under=f"workspaces/{workspace_id}/datasets",
                )
                self.folder.sweep(set(), under=STAGING)  # left by killed imports, an hour ago or more
                pause_point("before_file_write")
                if distinct is not None:
                    _write_ids(self.folder, ids_relpath(relpath), {c: v.cast(pa.string()) for c, v in distinct.items()})
                written = True  # from here on, a failure removes whatever part of the batch's files was put
                if isinstance(table, Path):
                    self.folder.publish(table, relpath)
                else:
                    self.folder.write_parquet(relpath, table)
                if aggregates is not None:
                    self.folder.aggregates(relpath).publish(aggregates)
                pause_point("after_file_write")
                repo.add_dataset(session=session, workspace_id=workspace_id, dataset=dataset, actor=actor)
                session.flush()
                assert dataset.id is not None
                first = DatasetBatch(
                    workspace_id=workspace_id,
                    dataset_id=dataset.id,
                    number=1,
                    source_name=dataset.source_name,
                    content_hash=dataset.content_hash,
                    file_path=relpath,
                    rows=dataset.rows,
                    first_event=dataset.first_event,
                    last_event=dataset.last_event,
                    created_by=actor,
                )
                repo.add_dataset_batch(
                    session=session, workspace_id=workspace_id, batch=first, actor=actor, label=dataset.name
                )
                pause_point("before_commit")
        except BaseException:
            if written:
                self.folder.delete(relpath)
                self.folder.aggregates(relpath).delete()
            if distinct is not None:
                self.folder.delete(ids_relpath(relpath))
            raise
        return dataset

    def append_batch(
        self,
        *,
        workspace_id: int,
        name: str,
        table: pa.Table | Path,
        batch: DatasetBatch,
        distinct: dict[str, pa.Array],
        signal_dictionary: dict[str, Any] | None,
        actor: str,
        earlier_ids: tuple[list[str], dict[str, pa.Array]] | None = None,
        aggregates: Path | None = None,
    ) -> tuple[Dataset, DatasetBatch]:
        """Add a batch of events to dataset ``name``: its own file (a staged one moved into place, or
        ``table`` written), one batch row and the dataset row brought up to date, all or nothing, under
        the workspace's write lock. No earlier batch's file is read in full or rewritten.

        ``batch`` carries the batch's hash, source, rows and span (its number and file are set here).
        ``distinct`` holds the batch's distinct ``user`` (and ``item``) values: the dataset's user and item
        counts are their union with the earlier batches' ids (:meth:`batch_ids`: each batch's small ids file,
        made from its events file the first time). ``earlier_ids`` is what a caller read from
        :meth:`batch_ids` before taking the lock (meanwhile, say, parsing the batch): used when it covers the
        batches found under the lock, else read again.
        ``signal_dictionary``, when given, replaces the dataset's (the batch brought new events).
        ``aggregates``: the batch's aggregates staged locally, put beside its events file before the commit.

        Raises:
            NotFoundError: no dataset named ``name``.
            ConflictError: a batch with the same content is stored in this workspace already.
        """
        written: list[str] = []
        try:
            with session_scope(self.engine) as session:
                self._lock_workspace(session, workspace_id)
                self._require(session, workspace_id, actor, "editor")
                dataset = repo.get_dataset(session=session, workspace_id=workspace_id, name=name)
                assert dataset.id is not None
                same = _dataset_by_hash(session, workspace_id, batch.content_hash)
                if same is not None:
                    where = "to this dataset" if same.id == dataset.id else f"as part of dataset '{same.name}'"
                    raise ConflictError(
                        f"This batch's content was already imported {where}. Nothing new was stored.",
                        entity="dataset",
                        name=same.name,
                    )
                batches = repo.list_dataset_batches(session=session, workspace_id=workspace_id, dataset_id=dataset.id)
                earlier = [b.file_path for b in batches] or [dataset.file_path]
                hashes = [b.content_hash for b in batches] or [dataset.content_hash]
                batch.workspace_id, batch.dataset_id = workspace_id, dataset.id
                batch.number = max((b.number for b in batches), default=1) + 1
                batch.file_path = dataset_relpath(workspace_id, batch.content_hash)
                batch.created_by = actor
                target = batch.file_path
                known = (
                    earlier_ids[1] if earlier_ids is not None and earlier_ids[0] == earlier else self.batch_ids(earlier)
                )
                counts = {
                    column: len(pc.unique(pa.chunked_array([known[column], values.cast(pa.string())])))
                    if column in known
                    else len(values)
                    for column, values in distinct.items()
                }
                pause_point("before_file_write")
                ids_target = ids_relpath(batch.file_path)
                _write_ids(self.folder, ids_target, {c: v.cast(pa.string()) for c, v in distinct.items()})
                written.append(ids_target)
                written.append(target)
                if isinstance(table, Path):
                    self.folder.publish(table, target)
                else:
                    self.folder.write_parquet(target, table)
                if aggregates is not None:
                    self.folder.aggregates(target).publish(aggregates)
                dataset.rows += batch.rows
                dataset.users = counts.get("user", dataset.users)
                dataset.items = counts.get("item", dataset.items)
                spans = [t for t in (as_utc(dataset.first_event), as_utc(batch.first_event)) if t is not None]
                dataset.first_event = min(spans, default=None)
                spans = [t for t in (as_utc(dataset.last_event), as_utc(batch.last_event)) if t is not None]
                dataset.last_event = max(spans, default=None)
                dataset.content_hash = batches_hash([*hashes, batch.content_hash])
                if signal_dictionary is not None:
                    dataset.signal_dictionary = signal_dictionary
                session.add(dataset)
                repo.add_dataset_batch(session=session, workspace_id=workspace_id, batch=batch, actor=actor, label=name)
                pause_point("before_commit")
        except BaseException:
            for rel in written:
                self.folder.delete(rel)
                if rel.endswith(".parquet"):  # the events file: its aggregates too
                    self.folder.aggregates(rel).delete()
            raise
        return dataset, batch

    def batch_ids(self, paths: list[str]) -> dict[str, pa.Array]:
        """The distinct users (and items) over the batch files ``paths`` (relative to the data folder).

        Each batch's ids live in a small Arrow file beside its events (written on append); a batch without
        one (a first import) has it made from its events file's dictionary-encoded columns, once.
        """
        parts: dict[str, list[pa.Array]] = {}
        for rel in paths:
            sidecar = ids_relpath(rel)
            try:
                ids = _read_ids(self.folder, sidecar)
            except FileNotFoundError:
                ids = _ids_of_file(self.folder, rel)
                _write_ids(self.folder, sidecar, ids)
            for column, values in ids.items():
                parts.setdefault(column, []).append(values)
        return {column: pc.unique(pa.chunked_array(values, pa.string())) for column, values in parts.items()}

    def list_dataset_batches(self, *, workspace_id: int, name: str, actor: str | None = None) -> list[DatasetBatch]:
        """Dataset ``name``'s batches, batch 1 (the first import) first."""
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            dataset = repo.get_dataset(session=session, workspace_id=workspace_id, name=name)
            assert dataset.id is not None
            return repo.list_dataset_batches(session=session, workspace_id=workspace_id, dataset_id=dataset.id)

    def _lock_workspace(self, session: Any, workspace_id: int) -> None:
        """Take the workspace's write lock for the rest of the transaction."""
        if self.engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7_412_000_000 + workspace_id})
        else:  # SQLite: the first statement opens a BEGIN IMMEDIATE transaction, the database's write lock
            session.execute(text("SELECT 1"))

    def list_datasets(self, *, workspace_id: int, actor: str | None = None) -> list[Dataset]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_datasets(session=session, workspace_id=workspace_id)

    def datasets_with_versions(
        self, *, workspace_id: int, actor: str | None = None
    ) -> list[tuple[Dataset, list[ModelVersion]]]:
        """Every dataset with its model versions (oldest first), in one read."""
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            datasets = repo.list_datasets(session=session, workspace_id=workspace_id)
            versions = repo.list_model_versions(session=session, workspace_id=workspace_id)
        return [(d, [v for v in versions if v.dataset_id == d.id]) for d in datasets]

    def get_dataset(self, *, workspace_id: int, name: str, actor: str | None = None) -> Dataset:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.get_dataset(session=session, workspace_id=workspace_id, name=name)

    def read_events(
        self, *, workspace_id: int, name: str, columns: list[str] | None = None, actor: str | None = None
    ) -> pd.DataFrame:
        """The dataset's events as a DataFrame (columns: the canonical roles plus features)."""
        dataset = self.get_dataset(workspace_id=workspace_id, name=name, actor=actor)
        return self.read_dataset_file(dataset, columns=columns)

    def dataset_files(self, dataset: Dataset) -> list[str]:
        """The dataset's events files (one per batch, oldest first), relative to the data folder."""
        with session_scope(self.engine, write=False) as session:
            assert dataset.id is not None
            batches = repo.list_dataset_batches(
                session=session, workspace_id=dataset.workspace_id, dataset_id=dataset.id
            )
        return [b.file_path for b in batches] or [dataset.file_path]

    def aggregate_batches(self, dataset: Dataset) -> list[BatchFiles]:
        """Each batch's events file and the folder of its aggregates (``data.summaries``), oldest first, in
        the data folder (local, or the object store)."""
        return [self.folder.batch(rel) for rel in self.dataset_files(dataset)]

    def aggregate_folders(self, dataset: Dataset) -> list[tuple[Path, Path]] | None:
        """Each batch's events file and the folder of its aggregates as local paths, oldest first; None when
        the data folder is an object store (:meth:`aggregate_batches` names them there)."""
        if self.folder.remote:
            return None
        return [(self.data_dir / rel, self.data_dir / aggregates_relpath(rel)) for rel in self.dataset_files(dataset)]

    def dataset_schema(self, dataset: Dataset) -> pa.Schema:
        """The Arrow schema of the dataset's events (batch 1's file: every later batch is cast to it)."""
        try:
            return self.folder.read_schema(dataset.file_path)
        except FileNotFoundError as exc:
            raise StorageError(
                f"The events file of dataset '{dataset.name}' is missing from the data folder "
                f"({dataset.file_path}). Restore it from a backup or import the file again."
            ) from exc

    def read_dataset_file(self, dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
        """Every batch's events as one frame, in time order (ties keep the order they were imported in)."""
        files = self.dataset_files(dataset)
        wanted = columns
        if columns is not None and len(files) > 1 and "timestamp" not in columns:
            wanted = [*columns, "timestamp"]  # batches may overlap in time: sort them even for other columns
        tables = []
        for rel in files:
            try:
                present = None if wanted is None else set(self.folder.read_schema(rel).names)
                # ask only for what the file has (item and value are optional roles)
                tables.append(
                    self.folder.read_table(
                        rel, columns=None if present is None else [c for c in wanted or [] if c in present]
                    )
                )
            except FileNotFoundError as exc:
                raise StorageError(
                    f"The events file of dataset '{dataset.name}' is missing from the data folder "
                    f"({rel}). Restore it from a backup or import the file again."
                ) from exc
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        if len(tables) > 1 and "timestamp" in table.column_names and table.num_rows > 1:
            stamps = table.column("timestamp")
            if pc.any(pc.less(stamps.slice(1), stamps.slice(0, len(stamps) - 1))).as_py():
                table = table.take(pc.sort_indices(table, sort_keys=[("timestamp", "ascending")]))  # stable
        if columns is not None and wanted != columns:
            table = table.drop_columns([c for c in table.column_names if c not in columns])
        return table.to_pandas()

    def set_signal_dictionary(
        self, *, workspace_id: int, name: str, signal_dictionary: dict[str, Any], actor: str
    ) -> Dataset:
        """Replace a dataset's signal dictionary (its meanings); the stored events are not rewritten."""
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            dataset = repo.get_dataset(session=session, workspace_id=workspace_id, name=name)
            before = int((dataset.signal_dictionary or {}).get("version", 1))
            dataset.signal_dictionary = signal_dictionary
            session.add(dataset)
            repo.record_audit(
                session=session,
                workspace_id=workspace_id,
                actor=actor,
                action="remap",
                entity="dataset",
                entity_id=dataset.id,
                detail=f"{name}: signal dictionary v{before} -> v{signal_dictionary.get('version')}",
            )
            session.flush()
            return dataset

    def delete_dataset(self, *, workspace_id: int, name: str, actor: str) -> None:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            versions = repo.list_model_versions(session=session, workspace_id=workspace_id)
            row = repo.get_dataset(session=session, workspace_id=workspace_id, name=name)
            assert row.id is not None
            batches = repo.delete_dataset_batches(session=session, workspace_id=workspace_id, dataset_id=row.id)
            dataset = repo.delete_dataset(session=session, workspace_id=workspace_id, name=name, actor=actor)
            paths = [dataset.file_path, *batches] + [
                v.model_path for v in versions if v.dataset_id == dataset.id and v.model_path
            ]
        for rel in paths:
            self.folder.delete(rel)
        for rel in [dataset.file_path, *batches]:
            self.folder.delete(ids_relpath(rel))
            self.folder.aggregates(rel).delete()

    # --- model versions, experiments, jobs ----------------------------------------------------

    def next_model_version(self, *, workspace_id: int, dataset_id: int, actor: str | None = None) -> int:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.next_model_version(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def add_model_version(
        self, *, workspace_id: int, version: ModelVersion, actor: str, model_bytes: bytes | None = None
    ) -> ModelVersion:
        """Record a model version; ``model_bytes`` (a skops file) is written first, with its hash."""
        written: str | None = None
        if model_bytes is not None:
            import hashlib

            rel = model_relpath(workspace_id, version.dataset_id)
            self.folder.write_bytes(rel, model_bytes)
            written = rel
            version.model_path = rel
            version.model_hash = hashlib.sha256(model_bytes).hexdigest()
        try:
            with session_scope(self.engine) as session:
                self._require(session, workspace_id, actor, "editor")
                version.version = repo.next_model_version(
                    session=session, workspace_id=workspace_id, dataset_id=version.dataset_id
                )
                return repo.add_model_version(session=session, workspace_id=workspace_id, version=version, actor=actor)
        except BaseException:
            if written is not None:
                self.folder.delete(written)
            raise

    def add_model_run(
        self, *, workspace_id: int, versions: list[tuple[ModelVersion, bytes]], actor: str
    ) -> list[ModelVersion]:
        """Record a whole training run, all or nothing: its model files are written first, then every
        version is numbered and committed in one transaction under the workspace's write lock, so
        concurrent runs on one dataset each get whole, contiguous version numbers.

        Raises:
            NotFoundError: the dataset was deleted while the run trained (nothing is stored).
        """
        import hashlib

        written: list[str] = []
        try:
            for version, data in versions:
                rel = model_relpath(workspace_id, version.dataset_id)
                self.folder.write_bytes(rel, data)
                written.append(rel)
                version.model_path = rel
                version.model_hash = hashlib.sha256(data).hexdigest()
            with session_scope(self.engine) as session:
                self._lock_workspace(session, workspace_id)
                self._require(session, workspace_id, actor, "editor")
                for dataset_id in {v.dataset_id for v, _ in versions}:
                    if session.get(Dataset, dataset_id) is None:
                        raise NotFoundError(
                            "The dataset was deleted while the training ran; no version of this run was stored.",
                            entity="dataset",
                            name=str(dataset_id),
                        )
                stored = []
                for version, _ in versions:
                    version.version = repo.next_model_version(
                        session=session, workspace_id=workspace_id, dataset_id=version.dataset_id
                    )
                    stored.append(
                        repo.add_model_version(session=session, workspace_id=workspace_id, version=version, actor=actor)
                    )
                return stored
        except BaseException:
            for rel in written:
                self.folder.delete(rel)
            raise

    def read_model_bytes(self, version: ModelVersion) -> bytes:
        """The model file's bytes, after checking its hash against the registry."""
        import hashlib

        if not version.model_path:
            raise NotFoundError(f"Model version {version.version} has no stored model file.")
        data = self.folder.read_bytes(version.model_path)
        if hashlib.sha256(data).hexdigest() != version.model_hash:
            raise StorageError(
                f"Model file of version {version.version} does not match its recorded hash; it was "
                "changed outside Flywheel Studio and will not be loaded. Retrain the version."
            )
        return data

    def list_model_versions(
        self, *, workspace_id: int, dataset_id: int | None = None, actor: str | None = None
    ) -> list[ModelVersion]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_model_versions(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def add_experiment(self, *, workspace_id: int, experiment: Experiment, actor: str) -> Experiment:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            return repo.add_experiment(session=session, workspace_id=workspace_id, experiment=experiment, actor=actor)

    def list_experiments(
        self, *, workspace_id: int, dataset_id: int | None = None, actor: str | None = None
    ) -> list[Experiment]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_experiments(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def create_job(self, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Job:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            return repo.create_job(session=session, workspace_id=workspace_id, kind=kind, params=params, actor=actor)

    def update_job(self, *, workspace_id: int, job_id: int, **changes: Any) -> None:
        """Record a job's progress or outcome (called by the job runner, which runs as the instance)."""
        with session_scope(self.engine) as session:
            repo.update_job(session=session, workspace_id=workspace_id, job_id=job_id, **changes)

    def get_job(self, *, workspace_id: int, job_id: int, actor: str | None = None) -> Job:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.get_job(session=session, workspace_id=workspace_id, job_id=job_id)

    def list_jobs(self, *, workspace_id: int, limit: int = 50, actor: str | None = None) -> list[Job]:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.list_jobs(session=session, workspace_id=workspace_id, limit=limit)

    # --- housekeeping -------------------------------------------------------------------------

    def sweep_orphan_files(self, *, min_age_seconds: float = 3600.0) -> list[str]:
        with session_scope(self.engine, write=False) as session:
            referenced = repo.referenced_paths(session=session)
        removed = self.folder.sweep(referenced, min_age_seconds=min_age_seconds)
        return removed + self.folder.sweep(set(), min_age_seconds=min_age_seconds, under=STAGING)


def _dataset_by_hash(session: Session, workspace_id: int, content_hash: str) -> Dataset | None:
    """The dataset whose content hash, or one of whose batches' hashes, is ``content_hash``."""
    found = repo.find_dataset_by_hash(session=session, workspace_id=workspace_id, content_hash=content_hash)
    if found is not None:
        return found
    batch = repo.find_batch_by_hash(session=session, workspace_id=workspace_id, content_hash=content_hash)
    if batch is None:
        return None
    return session.get(Dataset, batch.dataset_id)


def _ids_of_file(folder: DataFolder, rel: str) -> dict[str, pa.Array]:
    """Distinct ``user`` and ``item`` values of an events file, from its dictionaries."""
    names = [c for c in ("user", "item") if c in folder.read_schema(rel).names]
    table = folder.read_table(rel, columns=names)
    return {
        c: pc.unique(
            pa.chunked_array(
                [
                    (k.dictionary if pa.types.is_dictionary(k.type) else k).cast(pa.string())
                    for k in table.column(c).chunks
                ],
                pa.string(),
            )
        )
        for c in names
    }


def _write_ids(folder: DataFolder, target: str, ids: dict[str, pa.Array]) -> None:
    """One Arrow IPC file: a column per role, padded with nulls to the longest (read back in milliseconds).

    Written with pyarrow.ipc, not pyarrow.feather: feather's writer imports pandas to ask whether it was
    given a DataFrame, which costs an import more than the whole parse of a clean file.
    """
    longest = max((len(v) for v in ids.values()), default=0)
    table = pa.table({c: pa.concat_arrays([v, pa.nulls(longest - len(v), pa.string())]) for c, v in ids.items()})

    def write(temp: Path) -> None:
        with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    folder.write(target, write)


def _read_ids(folder: DataFolder, rel: str) -> dict[str, pa.Array]:
    table = pa.ipc.open_file(pa.BufferReader(folder.read_bytes(rel))).read_all()
    return {c: table.column(c).combine_chunks().drop_null() for c in table.column_names}
