"""The Store: one object that pages and the command line use for everything persistent.

Each method opens its own transaction, checks the actor's role where roles are enforced, writes an
audit line for every change, and returns plain detached rows or DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, text

from flywheel_core.config import Settings
from flywheel_core.exceptions import NotFoundError, PermissionDeniedError, StorageError
from flywheel_core.faults import pause_point
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

    def _require(self, session: Any, workspace_id: int, actor: str, needed: str) -> None:
        if not self.enforce_roles:
            return
        role = repo.get_role(session=session, workspace_id=workspace_id, username=actor)
        if role is None:
            raise NotFoundError("No such workspace for this user.")
        if _RANK[role] < _RANK[needed]:
            raise PermissionDeniedError(
                f"Your role in this workspace is '{role}'; this needs '{needed}'. Ask an owner to change it."
            )

    def role(self, *, workspace_id: int, username: str) -> str | None:
        if not self.enforce_roles:
            return "owner"
        with session_scope(self.engine) as session:
            return repo.get_role(session=session, workspace_id=workspace_id, username=username)

    # --- workspaces ---------------------------------------------------------------------------

    def list_workspaces(self, *, username: str | None = None) -> list[Workspace]:
        with session_scope(self.engine) as session:
            return repo.list_workspaces(session=session, username=username if self.enforce_roles else None)

    def create_workspace(self, *, name: str, actor: str) -> Workspace:
        name = name.strip()
        if not name or len(name) > 80:
            from flywheel_core.exceptions import DataValidationError

            raise DataValidationError("A workspace name needs 1 to 80 characters.")
        with session_scope(self.engine) as session:
            workspace = repo.create_workspace(session=session, name=name, actor=actor)
            assert workspace.id is not None
            repo.set_membership(session=session, workspace_id=workspace.id, username=actor, role="owner", actor=actor)
            return workspace

    def get_workspace(self, *, name: str, username: str | None = None) -> Workspace:
        with session_scope(self.engine) as session:
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
        try:
            return self.get_workspace(name=name)
        except NotFoundError:
            try:
                return self.create_workspace(name=name, actor=actor)
            except Exception:
                return self.get_workspace(name=name)  # created by another process meanwhile

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

        with session_scope(self.engine) as session:
            user = repo.get_user(session=session, username=username.strip())
            stored = user.password_hash if user else None
        ok = verify_password(stored or _DUMMY_HASH, password)
        return username.strip() if ok and stored else None

    def list_users(self) -> list[UserAccount]:
        with session_scope(self.engine) as session:
            return repo.list_users(session=session)

    def set_member(self, *, workspace_id: int, username: str, role: str, actor: str) -> Membership:
        if role not in repo.ROLES:
            from flywheel_core.exceptions import DataValidationError

            raise DataValidationError(f"Role must be one of {', '.join(repo.ROLES)}, got {role!r}.")
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "owner")
            return repo.set_membership(
                session=session, workspace_id=workspace_id, username=username, role=role, actor=actor
            )

    def list_members(self, *, workspace_id: int) -> list[Membership]:
        with session_scope(self.engine) as session:
            return repo.list_members(session=session, workspace_id=workspace_id)

    def summarize(self, *, workspace_id: int) -> WorkspaceSummary:
        with session_scope(self.engine) as session:
            datasets = repo.list_datasets(session=session, workspace_id=workspace_id)
            workspace = session.get(Workspace, workspace_id)
            return WorkspaceSummary(
                workspace=workspace.name if workspace else "?",
                loops=len(repo.list_loops(session=session, workspace_id=workspace_id)),
                datasets=len(datasets),
                events=sum(d.rows for d in datasets),
                model_versions=len(repo.list_model_versions(session=session, workspace_id=workspace_id)),
                experiments=len(repo.list_experiments(session=session, workspace_id=workspace_id)),
            )

    def audit(self, *, workspace_id: int, limit: int = 200) -> list[AuditEvent]:
        with session_scope(self.engine) as session:
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
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "editor")
            return repo.save_loop_version(
                session=session,
                workspace_id=workspace_id,
                name=name,
                content=content,
                author=actor,
                base_version=base_version,
                note=note,
            )

    def list_loops(self, *, workspace_id: int) -> list[LoopMap]:
        with session_scope(self.engine) as session:
            return repo.list_loops(session=session, workspace_id=workspace_id)

    def loop_versions(self, *, workspace_id: int, name: str) -> list[LoopVersion]:
        with session_scope(self.engine) as session:
            return repo.list_loop_versions(session=session, workspace_id=workspace_id, name=name)

    def get_loop_version(self, *, workspace_id: int, name: str, version: int | None = None) -> LoopVersion:
        with session_scope(self.engine) as session:
            return repo.get_loop_version(session=session, workspace_id=workspace_id, name=name, version=version)

    def delete_loop(self, *, workspace_id: int, name: str, actor: str) -> None:
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "editor")
            repo.delete_loop(session=session, workspace_id=workspace_id, name=name, actor=actor)

    # --- datasets -----------------------------------------------------------------------------

    def find_dataset_by_hash(self, *, workspace_id: int, content_hash: str) -> Dataset | None:
        with session_scope(self.engine) as session:
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

    def list_datasets(self, *, workspace_id: int) -> list[Dataset]:
        with session_scope(self.engine) as session:
            return repo.list_datasets(session=session, workspace_id=workspace_id)

    def get_dataset(self, *, workspace_id: int, name: str) -> Dataset:
        with session_scope(self.engine) as session:
            return repo.get_dataset(session=session, workspace_id=workspace_id, name=name)

    def read_events(self, *, workspace_id: int, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The dataset's events as a DataFrame (columns: the canonical roles plus features)."""
        dataset = self.get_dataset(workspace_id=workspace_id, name=name)
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
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "editor")
            versions = repo.list_model_versions(session=session, workspace_id=workspace_id)
            dataset = repo.delete_dataset(session=session, workspace_id=workspace_id, name=name, actor=actor)
            paths = [dataset.file_path] + [
                v.model_path for v in versions if v.dataset_id == dataset.id and v.model_path
            ]
        for rel in paths:
            (self.data_dir / rel).unlink(missing_ok=True)

    # --- model versions, experiments, jobs ----------------------------------------------------

    def next_model_version(self, *, workspace_id: int, dataset_id: int) -> int:
        with session_scope(self.engine) as session:
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

    def list_model_versions(self, *, workspace_id: int, dataset_id: int | None = None) -> list[ModelVersion]:
        with session_scope(self.engine) as session:
            return repo.list_model_versions(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def add_experiment(self, *, workspace_id: int, experiment: Experiment, actor: str) -> Experiment:
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "editor")
            return repo.add_experiment(session=session, workspace_id=workspace_id, experiment=experiment, actor=actor)

    def list_experiments(self, *, workspace_id: int, dataset_id: int | None = None) -> list[Experiment]:
        with session_scope(self.engine) as session:
            return repo.list_experiments(session=session, workspace_id=workspace_id, dataset_id=dataset_id)

    def create_job(self, *, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Job:
        with session_scope(self.engine) as session:
            self._require(session, workspace_id, actor, "editor")
            return repo.create_job(session=session, workspace_id=workspace_id, kind=kind, params=params, actor=actor)

    def update_job(self, *, workspace_id: int, job_id: int, **changes: Any) -> None:
        with session_scope(self.engine) as session:
            repo.update_job(session=session, workspace_id=workspace_id, job_id=job_id, **changes)

    def get_job(self, *, workspace_id: int, job_id: int) -> Job:
        with session_scope(self.engine) as session:
            return repo.get_job(session=session, workspace_id=workspace_id, job_id=job_id)

    def list_jobs(self, *, workspace_id: int, limit: int = 50) -> list[Job]:
        with session_scope(self.engine) as session:
            return repo.list_jobs(session=session, workspace_id=workspace_id, limit=limit)

    # --- housekeeping -------------------------------------------------------------------------

    def sweep_orphan_files(self, *, min_age_seconds: float = 3600.0) -> list[str]:
        with session_scope(self.engine) as session:
            referenced = repo.referenced_paths(session=session)
        removed = sweep_orphans(self.data_dir, referenced, min_age_seconds=min_age_seconds)
        return removed + sweep_orphans(self.data_dir, set(), min_age_seconds=min_age_seconds, under=STAGING)
