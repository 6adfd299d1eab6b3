"""Settings read from the environment: database, data folder, sign-in mode and input limits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flywheel_core.exceptions import ConfigurationError

__all__ = [
    "AUTH_MODES",
    "DASK_SCHEMES",
    "OBJECT_STORE_SCHEMES",
    "Settings",
    "dask_scheduler_from",
    "load_settings",
    "object_store_from",
]

AUTH_MODES = ("none", "accounts", "oidc")
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the local single-user defaults."""

    data_dir: Path  # the local folder: SQLite's default file, staging, the secret; the data too unless below
    database_url: str
    auth_mode: str = "none"
    hosted: bool = False
    max_upload_mb: int = 1024  # a browser upload
    max_file_mb: int = 20480  # a file given by path (``flywheel ingest FILE``): read in batches, not in memory
    max_rows: int = 20_000_000
    max_field_chars: int = 10_000
    default_workspace: str = "Default"
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    secret_key: str | None = field(default=None, repr=False)  # never printed with the settings
    dask_scheduler: str = ""  # an existing Dask cluster's scheduler: whole jobs run there
    dask_min_events: int = 20_000_000  # with a cluster, a dataset this large has its aggregates computed there

    object_store: str = ""  # s3://bucket/prefix: events, aggregates and model files live there instead

    @property
    def data_location(self) -> str:
        """Where the data files live, as ``FLYWHEEL_DATA_DIR`` names it: the object store, else the folder."""
        return self.object_store or str(self.data_dir)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}.") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}.")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _bool_env(env: dict[str, str], name: str) -> bool:
    """A yes/no setting, parsed strictly: an unknown value is an error, never quietly "off"."""
    raw = (env.get(name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(
        f"{name} must be one of 1, true, yes, on (or 0, false, no, off, or unset), got {env.get(name)!r}."
    )


def dask_scheduler_from(env: Mapping[str, str]) -> str:
    """``FLYWHEEL_DASK_SCHEDULER`` checked: ``""`` (no cluster) or a scheduler address such as ``tcp://host:8786``.

    Raises:
        ConfigurationError: an address Dask cannot use (no port, an unknown scheme).
    """
    raw = (env.get("FLYWHEEL_DASK_SCHEDULER") or "").strip()
    if not raw:
        return ""
    scheme, _, rest = raw.rpartition("://")
    if scheme and scheme not in DASK_SCHEMES:
        raise ConfigurationError(
            f"FLYWHEEL_DASK_SCHEDULER must be a Dask scheduler address such as tcp://host:8786 "
            f"(schemes: {', '.join(DASK_SCHEMES)}), got {raw!r}."
        )
    host, _, port = rest.rpartition(":")
    if scheme != "inproc" and (not host or not port.isdigit()):
        raise ConfigurationError(
            f"FLYWHEEL_DASK_SCHEDULER must name the scheduler's host and port, such as tcp://host:8786, got {raw!r}."
        )
    return raw if scheme else f"tcp://{raw}"


_MIN_SECRET_CHARS = 32


def _secret_env(env: dict[str, str]) -> str | None:
    raw = env.get("FLYWHEEL_SECRET_KEY")
    if raw is None or raw == "":
        return None
    if len(raw.strip()) < _MIN_SECRET_CHARS:
        raise ConfigurationError(
            f"FLYWHEEL_SECRET_KEY must have at least {_MIN_SECRET_CHARS} characters, got {len(raw.strip())}: "
            "make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or unset it to use "
            "the secret kept in the data folder."
        )
    return raw.strip()


def _bounded_int_env(env: dict[str, str], name: str, default: int, most: int) -> int:
    value = _int_env(env, name, default)
    if value > most:
        raise ConfigurationError(f"{name} can be at most {most}, got {value}.")
    return value


OBJECT_STORE_SCHEMES = ("s3",)


def object_store_from(raw: str) -> str:
    """``FLYWHEEL_DATA_DIR`` naming an object store, checked: ``s3://bucket`` or ``s3://bucket/prefix``.

    The connection comes from the usual AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for an S3-compatible server), read by pyarrow's S3 file system.

    Raises:
        ConfigurationError: another scheme, or no bucket.
    """
    scheme, _, rest = raw.partition("://")
    bucket = rest.split("/", 1)[0]
    if scheme.lower() not in OBJECT_STORE_SCHEMES or not bucket:
        raise ConfigurationError(
            f"FLYWHEEL_DATA_DIR must be a local folder or an S3 location such as s3://bucket/prefix, got {raw!r}."
        )
    return f"s3://{rest.rstrip('/')}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment).

    Variables: ``FLYWHEEL_DATA_DIR`` (default ``./.flywheel``), ``FLYWHEEL_DATABASE_URL`` (default a
    SQLite file in the data folder), ``FLYWHEEL_AUTH`` (``none`` | ``accounts`` | ``oidc``),
    ``FLYWHEEL_HOSTED`` (``1``/``true``/``yes``/``on``: refuses to start without sign-in and shows no
    error details; any value other than those and ``0``/``false``/``no``/``off`` refuses to start),
    ``FLYWHEEL_MAX_UPLOAD_MB`` (also Streamlit's upload limit when started with ``flywheel app``),
    ``FLYWHEEL_MAX_FILE_MB`` (default 20480: a file given by path to ``flywheel ingest``, separate from the
    browser's upload limit), ``FLYWHEEL_MAX_ROWS``, ``FLYWHEEL_MAX_FIELD_CHARS``, ``FLYWHEEL_DEFAULT_WORKSPACE``,
    ``FLYWHEEL_DASK_SCHEDULER`` (an existing Dask cluster: jobs and SQL imports run on it, see
    :func:`dask_scheduler_from`), ``FLYWHEEL_DASK_MIN_EVENTS`` (default 20,000,000: with a cluster, a dataset
    of at least this many events has its aggregates computed there, :mod:`flywheel_core.data.distributed`);
    ``FLYWHEEL_SESSION_IDLE_MINUTES`` (default 60, at most 43200) and ``FLYWHEEL_SESSION_MAX_HOURS``
    (default 12, at most 720): a built-in account's session ends after that long without a request, or
    that long after sign-in; ``FLYWHEEL_SECRET_KEY`` (at least 32 characters) signs the session cookie,
    else a secret kept in the data folder (``session_secret``, mode 0600, made on first use) does.
    """
    env = dict(os.environ if env is None else env)
    raw_dir = (env.get("FLYWHEEL_DATA_DIR") or ".flywheel").strip()
    object_store = object_store_from(raw_dir) if "://" in raw_dir else ""
    local = (env.get("FLYWHEEL_LOCAL_DIR") or ".flywheel") if object_store else raw_dir
    data_dir = Path(local).expanduser().resolve()
    url = env.get("FLYWHEEL_DATABASE_URL") or f"sqlite:///{data_dir / 'flywheel.db'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    auth_mode = (env.get("FLYWHEEL_AUTH") or "none").strip().lower()
    if auth_mode not in AUTH_MODES:
        raise ConfigurationError(f"FLYWHEEL_AUTH must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}.")
    hosted = _bool_env(env, "FLYWHEEL_HOSTED")
    if hosted and auth_mode == "none":
        raise ConfigurationError(
            "FLYWHEEL_HOSTED is set but sign-in is off: set FLYWHEEL_AUTH=accounts or "
            "FLYWHEEL_AUTH=oidc (see the README's 'Deploying for a team')."
        )
    return Settings(
        data_dir=data_dir,
        object_store=object_store,
        database_url=url,
        auth_mode=auth_mode,
        hosted=hosted,
        max_upload_mb=_int_env(env, "FLYWHEEL_MAX_UPLOAD_MB", 1024),
        max_file_mb=_int_env(env, "FLYWHEEL_MAX_FILE_MB", 20480),
        max_rows=_int_env(env, "FLYWHEEL_MAX_ROWS", 20_000_000),
        max_field_chars=_int_env(env, "FLYWHEEL_MAX_FIELD_CHARS", 10_000),
        default_workspace=env.get("FLYWHEEL_DEFAULT_WORKSPACE") or "Default",
        dask_scheduler=dask_scheduler_from(env),
        dask_min_events=_int_env(env, "FLYWHEEL_DASK_MIN_EVENTS", 20_000_000),
        session_idle_minutes=_bounded_int_env(env, "FLYWHEEL_SESSION_IDLE_MINUTES", 60, 43_200),
        session_max_hours=_bounded_int_env(env, "FLYWHEEL_SESSION_MAX_HOURS", 12, 720),
        secret_key=_secret_env(env),
    )
