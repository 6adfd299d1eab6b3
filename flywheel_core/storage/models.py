"""SQLModel tables: workspaces and people, loop map versions, datasets, model versions, jobs, audit.

Interaction events themselves are not rows here: each dataset is one Parquet file per imported batch in
the data folder (columnar, read back in milliseconds). The ``dataset`` row holds the metadata over all
batches; each ``datasetbatch`` row one batch's file, content hash and counts. Batch 1 is the first import
(its file is also ``dataset.file_path``); an append adds a batch and never rewrites an earlier file.
Every table but ``useraccount``, ``usersession`` and ``signinfailure`` (people, not workspace data) carries ``workspace_id``; repository functions always filter on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AuditEvent",
    "Dataset",
    "DatasetBatch",
    "Experiment",
    "Job",
    "LoopMap",
    "LoopVersion",
    "Membership",
    "ModelVersion",
    "SignInFailure",
    "UserAccount",
    "UserSession",
    "Workspace",
    "as_utc",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _when() -> Any:
    return Field(default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False))


def _json(nullable: bool = False) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=nullable))


class Workspace(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True, index=True)
    created_by: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class UserAccount(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=120, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=300)
    disabled: bool = False  # a disabled account cannot sign in and its sessions stop working
    created_at: datetime = _when()


class UserSession(SQLModel, table=True):
    """A built-in account's signed-in browser: the cookie carries the token, the row only its SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    username: str = Field(max_length=120, index=True)
    created_at: datetime = _when()
    last_seen_at: datetime = _when()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class SignInFailure(SQLModel, table=True):
    """One failed (or still being checked) sign-in: shared by every app process through the database."""

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=120, index=True)  # the typed name, stripped and lower-cased
    address: str | None = Field(default=None, max_length=64, index=True)
    at: datetime = Field(default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "username"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    username: str = Field(max_length=120, index=True)
    role: str = Field(max_length=20)  # owner | editor | viewer
    created_at: datetime = _when()


class LoopMap(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    name: str = Field(max_length=120)
    latest_version: int = 0
    created_by: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class LoopVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("loop_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    loop_id: int = Field(foreign_key="loopmap.id", index=True)
    version: int
    content: dict[str, Any] = _json()
    author: str = Field(default="local", max_length=120)
    note: str = Field(default="", max_length=500)
    created_at: datetime = _when()


class Dataset(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        UniqueConstraint("workspace_id", "content_hash"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    name: str = Field(max_length=120)
    source_name: str = Field(default="", max_length=300)
    content_hash: str = Field(max_length=64)
    file_path: str = Field(max_length=500)  # relative to the data folder
    rows: int = 0
    users: int = 0
    items: int = 0
    first_event: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_event: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    column_map: dict[str, Any] = _json()
    signal_dictionary: dict[str, Any] = _json()
    report: dict[str, Any] = _json()
    created_by: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class DatasetBatch(SQLModel, table=True):
    """One imported batch of a dataset's events: its own Parquet file, never rewritten.

    ``content_hash`` is the SHA-256 of the source (a file, or a query's result) and is unique in the
    workspace, so the same batch is never stored twice. The dataset's ``content_hash`` is batch 1's for
    a one-batch dataset, else the hash of its batches' hashes in order.
    """

    __table_args__ = (
        UniqueConstraint("dataset_id", "number"),
        UniqueConstraint("workspace_id", "content_hash"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    number: int  # 1 for the first import, then 2, 3, ... in the order of the appends
    source_name: str = Field(default="", max_length=300)
    content_hash: str = Field(max_length=64)
    file_path: str = Field(max_length=500)  # relative to the data folder
    rows: int = 0
    first_event: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_event: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_by: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class ModelVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "dataset_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    version: int
    run_id: str = Field(max_length=64, index=True)
    task: str = Field(max_length=40)
    algorithm: str = Field(max_length=80)
    params: dict[str, Any] = _json()
    turn: int
    train_rows: int
    metrics: dict[str, Any] = _json()
    drift: dict[str, Any] = _json()
    train_seconds: float = 0.0
    model_path: str | None = Field(default=None, max_length=500)
    model_hash: str | None = Field(default=None, max_length=64)
    author: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class Experiment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    kind: str = Field(max_length=40)
    params: dict[str, Any] = _json()
    result: dict[str, Any] = _json()
    author: str = Field(default="local", max_length=120)
    created_at: datetime = _when()


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    kind: str = Field(max_length=40)
    params: dict[str, Any] = _json()
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    progress: float = 0.0
    message: str = Field(default="", max_length=500)
    result: dict[str, Any] = _json()
    error: str = Field(default="", max_length=2000)
    created_by: str = Field(default="local", max_length=120)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(default=None, index=True)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=40)  # create | update | delete
    entity: str = Field(max_length=40)  # workspace | loop_version | dataset | model_version | ...
    entity_id: str = Field(max_length=120)
    detail: str = Field(default="", max_length=1000)
    at: datetime = _when()
