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
import pyarrow.parquet as pq
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
from flywheel_core.storage import repository as repo
from flywheel_core.storage.engine import make_engine, session_scope, upgrade_database
from flywheel_core.storage.files import (
    STAGING,
    dataset_relpath,
    model_relpath,
    move_into_place,
    sweep_orphans,
    write_atomic,
    write_parquet_atomic,
)
from flywheel_core.storage.models import (
    AuditEvent,
    Dataset,
    Experiment,
    Job,
    LoopMap,
    LoopVersion,
    Membership,
    ModelVersion,
    UserAccount,
    Workspace,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Store", "WorkspaceSummary"]

_RANK = {role: rank for rank, role in enumerate(repo.ROLES)}
# Verified against when the user does not exist, so both answers take the same time.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$tjaDj/SyNXczv6Pd072+Og$DaRWQjNSgBA1Z+z5ihUvTHXVyMuSfo6ji6v4zWPBc9M"


@dataclass(frozen=True)
class WorkspaceSummary:
    workspace: str
    loops: int
    datasets: int
    events: int
    model_versions: int
    experiments: int


class Store:
    """Persistent state of one Flywheel Studio instance.

    Parameters:
        settings: where the database and the data folder are.
        enforce_roles: check workspace roles on every call (on for signed-in app users; the
            command line runs as the instance's administrator and passes ``False``).
    """

    def __init__(self, settings: Settings, *, enforce_roles: bool = False, migrate: bool = True) -> None:
        self.settings = settings
        self.data_dir: Path = settings.data_dir
        self.enforce_roles = enforce_roles
        self.engine: Engine = make_engine(settings.database_url)
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

    def authenticate(self, *, username: str, password: str) -> str | None:
        """The username if the password matches a built-in account, else None (same answer for unknown users)."""
        from flywheel_core.accounts import verify_password

        with session_scope(self.engine, write=False) as session:
            user = repo.get_user(session=session, username=username.strip())
            stored = user.password_hash if user else None
        ok = verify_password(stored or _DUMMY_HASH, password)
        return username.strip() if ok and stored else None

    def list_users(self) -> list[UserAccount]:
        with session_scope(self.engine, write=False) as session:
            return repo.list_users(session=session)

    def set_member(self, *, workspace_id: int, username: str, role: str, actor: str) -> Membership:
        check(ROLE, role, caller="set_member")
        with self.unit(workspace_id=workspace_id, actor=actor, needs="owner") as session:
            return repo.set_membership(
                session=session, workspace_id=workspace_id, username=username, role=role, actor=actor
            )

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
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.find_dataset_by_hash(session=session, workspace_id=workspace_id, content_hash=content_hash)

    def store_dataset(self, *, workspace_id: int, table: pa.Table | Path, dataset: Dataset, actor: str) -> Dataset:
        """Write the events file (or move a file staged with ``files.stage_parquet`` into place), then
        commit its row; on any failure nothing is left behind.

        ``dataset`` carries the metadata (name, hash, counts, mapping); its ``file_path`` is set here.
        The whole store runs under the workspace's write lock, so two imports of the same file at
        once store it once, and files left by a killed import are swept before writing.
        """
        relpath = dataset_relpath(workspace_id, dataset.content_hash)
        target = self.data_dir / relpath
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
                sweep_orphans(
                    self.data_dir,
                    repo.referenced_paths(session=session),
                    min_age_seconds=0,
                    under=f"workspaces/{workspace_id}/datasets",
                )
                sweep_orphans(self.data_dir, set(), under=STAGING)  # left by killed imports, an hour ago or more
                pause_point("before_file_write")
                if isinstance(table, Path):
                    move_into_place(table, target)
                else:
                    write_parquet_atomic(table, target)
                written = True
                pause_point("after_file_write")
                repo.add_dataset(session=session, workspace_id=workspace_id, dataset=dataset, actor=actor)
                session.flush()
                pause_point("before_commit")
        except BaseException:
            if written:
                target.unlink(missing_ok=True)
            raise
        return dataset

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

    def read_dataset_file(self, dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
        path = self.data_dir / dataset.file_path
        if columns is not None:  # ask only for what the file has (item and value are optional roles)
            present = set(pq.read_schema(path).names) if path.exists() else set(columns)
            columns = [c for c in columns if c in present]
        try:
            table = pq.read_table(path, columns=columns)
        except FileNotFoundError as exc:
            raise StorageError(
                f"The events file of dataset '{dataset.name}' is missing from the data folder "
                f"({dataset.file_path}). Restore it from a backup or import the file again."
            ) from exc
        return table.to_pandas()

    def delete_dataset(self, *, workspace_id: int, name: str, actor: str) -> None:
        with self.unit(workspace_id=workspace_id, actor=actor, needs="editor") as session:
            versions = repo.list_model_versions(session=session, workspace_id=workspace_id)
            dataset = repo.delete_dataset(session=session, workspace_id=workspace_id, name=name, actor=actor)
            paths = [dataset.file_path] + [
                v.model_path for v in versions if v.dataset_id == dataset.id and v.model_path
            ]
        for rel in paths:
            (self.data_dir / rel).unlink(missing_ok=True)

    # --- model versions, experiments, jobs ----------------------------------------------------

    def next_model_version(self, *, workspace_id: int, dataset_id: int, actor: str | None = None) -> int:
        with self.unit(workspace_id=workspace_id, actor=actor) as session:
            return repo.next_model_version(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def add_model_version(
        self, *, workspace_id: int, version: ModelVersion, actor: str, model_bytes: bytes | None = None
    ) -> ModelVersion:
        """Record a model version; ``model_bytes`` (a skops file) is written first, with its hash."""
        written: Path | None = None
        if model_bytes is not None:
            import hashlib

            rel = model_relpath(workspace_id, version.dataset_id)
            written = self.data_dir / rel
            write_atomic(written, lambda temp: temp.write_bytes(model_bytes))
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
                written.unlink(missing_ok=True)
            raise

    def read_model_bytes(self, version: ModelVersion) -> bytes:
        """The model file's bytes, after checking its hash against the registry."""
        import hashlib

        if not version.model_path:
            raise NotFoundError(f"Model version {version.version} has no stored model file.")
        data = (self.data_dir / version.model_path).read_bytes()
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
        removed = sweep_orphans(self.data_dir, referenced, min_age_seconds=min_age_seconds)
        return removed + sweep_orphans(self.data_dir, set(), min_age_seconds=min_age_seconds, under=STAGING)
