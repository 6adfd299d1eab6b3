"""Repository functions: keyword-only, each takes the session and, for workspace data, the workspace.

An object of another workspace reads as not found: every query filters on ``workspace_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from flywheel_core.exceptions import ConflictError, NotFoundError
from flywheel_core.params import ROLE, check
from flywheel_core.storage.errors import map_exceptions
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
    utc_now,
)

ROLES = ROLE.options  # in rank order (flywheel_core.params.ROLE)


def _check_workspace(obj: Any, workspace_id: int, entity: str, name: str) -> None:
    """An object is only ever written into its own workspace; to any other it does not exist."""
    if obj.workspace_id != workspace_id:
        raise NotFoundError(
            f"The {entity.replace('_', ' ')} '{name}' is not part of this workspace, so it cannot be stored "
            "here. Store it from its own workspace.",
            entity=entity,
            name=name,
        )


def record_audit(
    *,
    session: Session,
    workspace_id: int | None,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    detail: str = "",
) -> None:
    session.add(
        AuditEvent(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=detail[:1000],
        )
    )


def list_audit(*, session: Session, workspace_id: int, limit: int = 200) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.workspace_id == workspace_id)
        .order_by(col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


# --- workspaces, people, roles -------------------------------------------------------------------


def create_workspace(*, session: Session, name: str, actor: str) -> Workspace:
    workspace = Workspace(name=name, created_by=actor)
    session.add(workspace)
    taken = f"A workspace named '{name}' already exists. Pick another name."
    with map_exceptions(messages={ConflictError: taken}, entity="workspace", name=name):
        session.flush()
    assert workspace.id is not None
    record_audit(
        session=session,
        workspace_id=workspace.id,
        actor=actor,
        action="create",
        entity="workspace",
        entity_id=workspace.id,
        detail=name,
    )
    return workspace


def list_workspaces(*, session: Session, username: str | None = None) -> list[Workspace]:
    """All workspaces, or only those ``username`` is a member of."""
    query = select(Workspace).order_by(Workspace.name)
    if username is not None:
        query = query.join(Membership, col(Membership.workspace_id) == col(Workspace.id)).where(
            Membership.username == username
        )
    return list(session.exec(query))


def get_workspace(*, session: Session, name: str) -> Workspace:
    workspace = session.exec(select(Workspace).where(Workspace.name == name)).first()
    if workspace is None:
        raise NotFoundError(
            f"No workspace named '{name}'. List them with `flywheel workspaces` or create it with "
            f"`flywheel workspace create '{name}'`.",
            entity="workspace",
            name=name,
        )
    return workspace


def get_user(*, session: Session, username: str) -> UserAccount | None:
    return session.exec(select(UserAccount).where(UserAccount.username == username)).first()


def list_users(*, session: Session) -> list[UserAccount]:
    return list(session.exec(select(UserAccount).order_by(col(UserAccount.username))))


def add_user(*, session: Session, username: str, password_hash: str | None, display_name: str = "") -> UserAccount:
    user = UserAccount(username=username, password_hash=password_hash, display_name=display_name)
    session.add(user)
    taken = f"A user named '{username}' already exists. Pick another username."
    with map_exceptions(messages={ConflictError: taken}, entity="user", name=username):
        session.flush()
    return user


def set_membership(*, session: Session, workspace_id: int, username: str, role: str, actor: str) -> Membership:
    check(ROLE, role, caller="set_membership")
    member = session.exec(
        select(Membership).where(Membership.workspace_id == workspace_id, Membership.username == username)
    ).first()
    if member is None:
        member = Membership(workspace_id=workspace_id, username=username, role=role)
    else:
        member.role = role
    session.add(member)
    changed = f"The membership of '{username}' was changed by someone else meanwhile. Reload and try again."
    with map_exceptions(messages={ConflictError: changed}, entity="membership", name=username):
        session.flush()
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=actor,
        action="update",
        entity="membership",
        entity_id=username,
        detail=role,
    )
    return member


def remove_membership(*, session: Session, workspace_id: int, username: str, actor: str) -> None:
    """Take ``username`` out of the workspace; the last owner cannot be removed (someone must manage it)."""
    member = session.exec(
        select(Membership).where(Membership.workspace_id == workspace_id, Membership.username == username)
    ).first()
    if member is None:
        raise NotFoundError(f"'{username}' is not a member of this workspace.", entity="membership", name=username)
    if member.role == "owner":
        owners = session.exec(
            select(func.count())
            .select_from(Membership)
            .where(Membership.workspace_id == workspace_id, Membership.role == "owner")
        ).one()
        if owners <= 1:
            raise ConflictError(
                f"'{username}' is the workspace's only owner: make someone else owner first.",
                entity="membership",
                name=username,
            )
    session.delete(member)
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=actor,
        action="delete",
        entity="membership",
        entity_id=username,
    )


def set_password(*, session: Session, username: str, password_hash: str | None) -> UserAccount:
    """Replace a built-in account's password hash (None: the account can no longer sign in with one)."""
    user = get_user(session=session, username=username)
    if user is None:
        raise NotFoundError(f"No account named '{username}'.", entity="user", name=username)
    user.password_hash = password_hash
    session.add(user)
    return user


def remove_user_everywhere(*, session: Session, username: str, actor: str) -> list[int]:
    """Remove ``username`` from every workspace (offboarding); returns the workspaces left."""
    memberships = list(session.exec(select(Membership).where(Membership.username == username)))
    for member in memberships:
        remove_membership(session=session, workspace_id=member.workspace_id, username=username, actor=actor)
    return [m.workspace_id for m in memberships]


def get_role(*, session: Session, workspace_id: int, username: str) -> str | None:
    member = session.exec(
        select(Membership).where(Membership.workspace_id == workspace_id, Membership.username == username)
    ).first()
    return None if member is None else member.role


def list_members(*, session: Session, workspace_id: int) -> list[Membership]:
    query = select(Membership).where(Membership.workspace_id == workspace_id).order_by(Membership.username)
    return list(session.exec(query))


# --- loop maps ------------------------------------------------------------------------------------


def get_loop(*, session: Session, workspace_id: int, name: str) -> LoopMap:
    loop = session.exec(select(LoopMap).where(LoopMap.workspace_id == workspace_id, LoopMap.name == name)).first()
    if loop is None:
        raise NotFoundError(
            f"No loop map named '{name}' in this workspace. List them with `flywheel loop list`.",
            entity="loop_map",
            name=name,
        )
    return loop


def list_loops(*, session: Session, workspace_id: int) -> list[LoopMap]:
    query = select(LoopMap).where(LoopMap.workspace_id == workspace_id).order_by(LoopMap.name)
    return list(session.exec(query))


def save_loop_version(
    *,
    session: Session,
    workspace_id: int,
    name: str,
    content: dict[str, Any],
    author: str,
    base_version: int | None,
    note: str = "",
) -> LoopVersion:
    """Store ``content`` as the next version of map ``name``.

    ``base_version`` is the version the draft was started from (``None`` or 0 for a new map). If
    someone saved a newer version meanwhile the save is refused with :class:`ConflictError`.
    """
    loop = session.exec(select(LoopMap).where(LoopMap.workspace_id == workspace_id, LoopMap.name == name)).first()
    if loop is None:
        if base_version:
            raise ConflictError(
                f"Loop map '{name}' no longer exists; save it under a new name.", entity="loop_map", name=name
            )
        loop = LoopMap(workspace_id=workspace_id, name=name, created_by=author)
        session.add(loop)
        created = (
            f"Someone created a loop map named '{name}' meanwhile. Your draft is kept; reload "
            "the map to see their version, or save yours under another name."
        )
        with map_exceptions(messages={ConflictError: created}, entity="loop_map", name=name):
            session.flush()
    base = base_version or 0
    # Compare-and-swap: only one writer can move latest_version from `base` to `base + 1`.
    moved = session.execute(
        update(LoopMap)
        .where(col(LoopMap.id) == loop.id, col(LoopMap.latest_version) == base)
        .values(latest_version=base + 1)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(loop)
        raise ConflictError(
            f"Loop map '{name}' was saved by someone else meanwhile (now at version "
            f"{loop.latest_version}; your draft started from version {base}). Your draft is kept: "
            "open the latest version, compare, and save again.",
            entity="loop_map",
            name=name,
        )
    assert loop.id is not None
    version = LoopVersion(
        workspace_id=workspace_id, loop_id=loop.id, version=base + 1, content=content, author=author, note=note
    )
    session.add(version)
    saved = (
        f"Version {base + 1} of loop map '{name}' was saved by someone else meanwhile. Your draft is kept; save again."
    )
    with map_exceptions(messages={ConflictError: saved}, entity="loop_map", name=name):
        session.flush()
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=author,
        action="create" if base == 0 else "update",
        entity="loop_version",
        entity_id=f"{name}@{base + 1}",
    )
    return version


def list_loop_versions(*, session: Session, workspace_id: int, name: str) -> list[LoopVersion]:
    loop = get_loop(session=session, workspace_id=workspace_id, name=name)
    query = (
        select(LoopVersion)
        .where(LoopVersion.workspace_id == workspace_id, LoopVersion.loop_id == loop.id)
        .order_by(col(LoopVersion.version))
    )
    return list(session.exec(query))


def get_loop_version(*, session: Session, workspace_id: int, name: str, version: int | None = None) -> LoopVersion:
    loop = get_loop(session=session, workspace_id=workspace_id, name=name)
    wanted = loop.latest_version if version is None else version
    found = session.exec(
        select(LoopVersion).where(
            LoopVersion.workspace_id == workspace_id,
            LoopVersion.loop_id == loop.id,
            LoopVersion.version == wanted,
        )
    ).first()
    if found is None:
        raise NotFoundError(
            f"Loop map '{name}' has no version {wanted}; it has versions 1 to {loop.latest_version}.",
            entity="loop_version",
            name=f"{name}@{wanted}",
        )
    return found


def delete_loop(*, session: Session, workspace_id: int, name: str, actor: str) -> None:
    loop = get_loop(session=session, workspace_id=workspace_id, name=name)
    for version in session.exec(select(LoopVersion).where(LoopVersion.loop_id == loop.id)):
        session.delete(version)
    session.delete(loop)
    record_audit(
        session=session, workspace_id=workspace_id, actor=actor, action="delete", entity="loop_map", entity_id=name
    )


# --- datasets -------------------------------------------------------------------------------------


def check_dataset_free(*, session: Session, workspace_id: int, name: str, content_hash: str) -> None:
    """Raise :class:`ConflictError` if the name is taken or the same content is already stored."""
    clash = session.exec(select(Dataset).where(Dataset.workspace_id == workspace_id, Dataset.name == name)).first()
    if clash is not None:
        raise ConflictError(
            f"A dataset named '{name}' already exists in this workspace. Pick another name or delete the old one first.",
            entity="dataset",
            name=name,
        )
    same = find_dataset_by_hash(session=session, workspace_id=workspace_id, content_hash=content_hash)
    if same is not None:
        raise ConflictError(
            f"This file's content was already imported as dataset '{same.name}' "
            f"on {same.created_at:%Y-%m-%d %H:%M} UTC. Nothing new was stored.",
            entity="dataset",
            name=same.name,
        )


def add_dataset(*, session: Session, workspace_id: int, dataset: Dataset, actor: str) -> Dataset:
    _check_workspace(dataset, workspace_id, "dataset", dataset.name)
    check_dataset_free(session=session, workspace_id=workspace_id, name=dataset.name, content_hash=dataset.content_hash)
    session.add(dataset)
    stored = (
        f"Dataset '{dataset.name}' (or the same file content) was stored by someone else meanwhile. "
        "Nothing new was stored; list the datasets to see it."
    )
    with map_exceptions(messages={ConflictError: stored}, entity="dataset", name=dataset.name):
        session.flush()
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=actor,
        action="create",
        entity="dataset",
        entity_id=dataset.name,
        detail=f"{dataset.rows} rows",
    )
    return dataset


def find_dataset_by_hash(*, session: Session, workspace_id: int, content_hash: str) -> Dataset | None:
    return session.exec(
        select(Dataset).where(Dataset.workspace_id == workspace_id, Dataset.content_hash == content_hash)
    ).first()


def list_datasets(*, session: Session, workspace_id: int) -> list[Dataset]:
    query = select(Dataset).where(Dataset.workspace_id == workspace_id).order_by(Dataset.name)
    return list(session.exec(query))


def get_dataset(*, session: Session, workspace_id: int, name: str) -> Dataset:
    dataset = session.exec(select(Dataset).where(Dataset.workspace_id == workspace_id, Dataset.name == name)).first()
    if dataset is None:
        raise NotFoundError(
            f"No dataset named '{name}' in this workspace. List them with `flywheel datasets`.",
            entity="dataset",
            name=name,
        )
    return dataset


def delete_dataset(*, session: Session, workspace_id: int, name: str, actor: str) -> Dataset:
    """Delete a dataset row with its model versions and experiments; returns the deleted row."""
    dataset = get_dataset(session=session, workspace_id=workspace_id, name=name)
    for table in (ModelVersion, Experiment):
        rows = session.exec(
            select(table).where(table.workspace_id == workspace_id, table.dataset_id == dataset.id)  # type: ignore[attr-defined]
        )
        for row in rows:
            session.delete(row)
    session.delete(dataset)
    record_audit(
        session=session, workspace_id=workspace_id, actor=actor, action="delete", entity="dataset", entity_id=name
    )
    return dataset


def referenced_paths(*, session: Session) -> set[str]:
    """Every file path the database still points at (for sweeping orphans): every batch of every dataset."""
    paths = set(session.exec(select(Dataset.file_path)))
    paths |= set(session.exec(select(DatasetBatch.file_path)))
    paths |= {p for p in session.exec(select(ModelVersion.model_path)) if p}
    return paths


# --- dataset batches ------------------------------------------------------------------------------


def list_dataset_batches(*, session: Session, workspace_id: int, dataset_id: int) -> list[DatasetBatch]:
    """A dataset's batches, batch 1 (the first import) first."""
    query = select(DatasetBatch).where(DatasetBatch.workspace_id == workspace_id, DatasetBatch.dataset_id == dataset_id)
    return list(session.exec(query.order_by(col(DatasetBatch.number))))


def find_batch_by_hash(*, session: Session, workspace_id: int, content_hash: str) -> DatasetBatch | None:
    """The batch of any dataset in the workspace whose source had this content, if one has."""
    return session.exec(
        select(DatasetBatch).where(DatasetBatch.workspace_id == workspace_id, DatasetBatch.content_hash == content_hash)
    ).first()


def add_dataset_batch(
    *, session: Session, workspace_id: int, batch: DatasetBatch, actor: str, label: str
) -> DatasetBatch:
    """Record a batch whose file is in place; ``label`` names the dataset in messages and the audit line."""
    _check_workspace(batch, workspace_id, "dataset", label)
    session.add(batch)
    stored = (
        f"The same content was stored in this workspace by someone else meanwhile, or batch {batch.number} of "
        f"dataset '{label}' was. Nothing new was stored; list the datasets to see it."
    )
    with map_exceptions(messages={ConflictError: stored}, entity="dataset", name=label):
        session.flush()
    if batch.number > 1:
        record_audit(
            session=session,
            workspace_id=workspace_id,
            actor=actor,
            action="update",
            entity="dataset",
            entity_id=label,
            detail=f"appended batch {batch.number}: {batch.rows} rows",
        )
    return batch


def delete_dataset_batches(*, session: Session, workspace_id: int, dataset_id: int) -> list[str]:
    """Delete a dataset's batch rows (before the dataset row); returns their files' paths."""
    paths = []
    for batch in list_dataset_batches(session=session, workspace_id=workspace_id, dataset_id=dataset_id):
        paths.append(batch.file_path)
        session.delete(batch)
    session.flush()
    return paths


# --- model versions and experiments ---------------------------------------------------------------


def next_model_version(*, session: Session, workspace_id: int, dataset_id: int) -> int:
    current = session.exec(
        select(func.max(ModelVersion.version)).where(
            ModelVersion.workspace_id == workspace_id, ModelVersion.dataset_id == dataset_id
        )
    ).one()
    return int(current or 0) + 1


def add_model_version(*, session: Session, workspace_id: int, version: ModelVersion, actor: str) -> ModelVersion:
    label = f"v{version.version} of dataset {version.dataset_id}"
    _check_workspace(version, workspace_id, "model_version", label)
    session.add(version)
    taken = f"Model version {label} was stored by someone else meanwhile. Nothing was saved; train again."
    with map_exceptions(messages={ConflictError: taken}, entity="model_version", name=label):
        session.flush()
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=actor,
        action="create",
        entity="model_version",
        entity_id=f"{version.dataset_id}:v{version.version}",
    )
    return version


def list_model_versions(*, session: Session, workspace_id: int, dataset_id: int | None = None) -> list[ModelVersion]:
    query = select(ModelVersion).where(ModelVersion.workspace_id == workspace_id)
    if dataset_id is not None:
        query = query.where(ModelVersion.dataset_id == dataset_id)
    return list(session.exec(query.order_by(col(ModelVersion.dataset_id), col(ModelVersion.version))))


def get_model_version(*, session: Session, workspace_id: int, dataset_id: int, version: int) -> ModelVersion:
    found = session.exec(
        select(ModelVersion).where(
            ModelVersion.workspace_id == workspace_id,
            ModelVersion.dataset_id == dataset_id,
            ModelVersion.version == version,
        )
    ).first()
    if found is None:
        raise NotFoundError(
            f"No model version {version} for this dataset in this workspace. List them with `flywheel versions`.",
            entity="model_version",
            name=f"v{version} of dataset {dataset_id}",
        )
    return found


def add_experiment(*, session: Session, workspace_id: int, experiment: Experiment, actor: str) -> Experiment:
    _check_workspace(experiment, workspace_id, "experiment", experiment.kind)
    session.add(experiment)
    session.flush()
    record_audit(
        session=session,
        workspace_id=workspace_id,
        actor=actor,
        action="create",
        entity="experiment",
        entity_id=experiment.kind,
    )
    return experiment


def list_experiments(*, session: Session, workspace_id: int, dataset_id: int | None = None) -> list[Experiment]:
    query = select(Experiment).where(Experiment.workspace_id == workspace_id)
    if dataset_id is not None:
        query = query.where(Experiment.dataset_id == dataset_id)
    return list(session.exec(query.order_by(col(Experiment.id).desc())))


# --- jobs -----------------------------------------------------------------------------------------


def create_job(*, session: Session, workspace_id: int, kind: str, params: dict[str, Any], actor: str) -> Job:
    job = Job(workspace_id=workspace_id, kind=kind, params=params, created_by=actor)
    session.add(job)
    session.flush()
    return job


def update_job(
    *,
    session: Session,
    workspace_id: int,
    job_id: int,
    status: str | None = None,
    progress: float | None = None,
    message: str | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    job = get_job(session=session, workspace_id=workspace_id, job_id=job_id)
    if status is not None:
        job.status = status
    if progress is not None:
        job.progress = progress
    if message is not None:
        job.message = message[:500]
    if result is not None:
        job.result = result
    if error is not None:
        job.error = error[:2000]
    job.updated_at = utc_now()
    session.add(job)


def get_job(*, session: Session, workspace_id: int, job_id: int) -> Job:
    job = session.exec(select(Job).where(Job.workspace_id == workspace_id, Job.id == job_id)).first()
    if job is None:
        raise NotFoundError(f"No job {job_id} in this workspace.", entity="job", name=str(job_id))
    return job


def list_jobs(*, session: Session, workspace_id: int, since: datetime | None = None, limit: int = 50) -> list[Job]:
    query = select(Job).where(Job.workspace_id == workspace_id)
    if since is not None:
        query = query.where(col(Job.created_at) >= since)
    return list(session.exec(query.order_by(col(Job.id).desc()).limit(limit)))
