"""Reading interaction events from a database query straight into Arrow, for the same import as a file.

PostgreSQL and SQLite go through ADBC (Arrow Database Connectivity: ``pip install flywheel-studio[sql]``),
which hands over Arrow record batches with no Python object per value (PostgreSQL's binary COPY). Any
other ``scheme://`` URL uses the ADBC driver package ``adbc_driver_<scheme>`` when it is installed
(Snowflake, BigQuery, Flight SQL...), else a SQLAlchemy dialect for the scheme, read in chunks. The
query runs read-only where the database allows it (a PostgreSQL read-only session, SQLite opened
read-only). Batches are counted as they arrive, so a result over the row or size limit is refused
without holding more than the limit.

The result becomes Parquet bytes, which :func:`flywheel_core.data.ingest.prepare_import` reads like an
uploaded file: the same mapping, checks and limits. A URL's password is never shown: every message
names the URL with it masked, and a driver's message has it removed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel_core.data.reading import Limits
from flywheel_core.exceptions import ConfigurationError, DataValidationError, FlywheelError, LimitExceededError

__all__ = ["SqlExtract", "read_query", "redact_url"]

_EXTRA = "pip install 'flywheel-studio[sql]'"
_ADBC = {"postgresql": "adbc_driver_postgresql", "postgres": "adbc_driver_postgresql", "sqlite": "adbc_driver_sqlite"}
_CHUNK_ROWS = 100_000  # rows per fetch on the SQLAlchemy path


@dataclass(frozen=True)
class SqlExtract:
    """A query's result as Parquet bytes (what the import reads), with where it came from."""

    data: bytes
    rows: int
    label: str  # the masked URL and the query, for the dataset's source name


def redact_url(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the database URL"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _scrub(message: str, url: str) -> str:
    """A driver's message without the URL's password (libpq may echo a connection string)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    text = " ".join(str(message).split())
    if password:
        text = text.replace(password, "***")
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)[:400]


def _scheme(url: str) -> str:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if match is None:
        raise ConfigurationError(
            f"{redact_url(url)!r} is not a database URL. Give one like postgresql://user@host:5432/db "
            "or sqlite:///path/to/file.db."
        )
    return match.group(1).lower().split("+", 1)[0]  # postgresql+psycopg -> postgresql


def read_query(url: str, query: str, *, limits: Limits | None = None) -> SqlExtract:
    """Run ``query`` against the database at ``url`` and return its rows as Parquet bytes.

    Raises:
        ConfigurationError: the URL is not one we can read (no driver installed: the message says
            which package to install), or the database cannot be reached or refuses the login.
        DataValidationError: the query fails (its database's message, without the password), or
            returns no rows.
        LimitExceededError: the result has more rows, or takes more memory, than the import limits.
    """
    limits = limits or Limits()
    if not query.strip():
        raise DataValidationError("The query is empty. Give a SELECT that returns one row per event.")
    scheme = _scheme(url)
    shown = redact_url(url)
    label = f"{shown} :: {' '.join(query.split())}"[:300]
    if scheme in _ADBC or _installed(f"adbc_driver_{scheme}"):
        table = _read_adbc(url, scheme, query, limits, shown)
    else:
        table = _read_sqlalchemy(url, scheme, query, limits, shown)
    if table.num_rows == 0:
        raise DataValidationError(
            f"The query returned no rows from {shown}. Check its WHERE clause (and the time range it asks for)."
        )
    table = table.replace_schema_metadata(None)
    table = pa.Table.from_arrays(
        table.columns, schema=pa.schema([f.remove_metadata() for f in table.schema])
    )  # drivers' per-column notes (e.g. the PostgreSQL type) are no part of the content
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none", write_statistics=False)
    return SqlExtract(data=buffer.getvalue(), rows=table.num_rows, label=label)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_limits(rows: int, size: int, limits: Limits) -> None:
    if rows > limits.max_rows:
        raise LimitExceededError(
            f"The query returns more than {limits.max_rows:,} rows, over the limit. Narrow it (a time "
            "range, e.g. this week's events, appended with --append), or raise FLYWHEEL_MAX_ROWS."
        )
    if size > limits.max_bytes:
        raise LimitExceededError(
            f"The query's result passes {limits.max_bytes / 1e6:,.0f} MB in memory, over the limit. Select "
            "fewer columns or a shorter time range, or raise FLYWHEEL_MAX_UPLOAD_MB."
        )


def _collect(batches: pa.RecordBatchReader, limits: Limits) -> pa.Table:
    """Record batches into a table, refusing as soon as the rows or bytes pass the limits."""
    kept: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        rows, size = rows + batch.num_rows, size + batch.nbytes
        _check_limits(rows, size, limits)
        kept.append(batch)
    return pa.Table.from_batches(kept, schema=batches.schema)


def _collect_tables(chunks: Iterator[pa.Table], names: list[str], limits: Limits) -> pa.Table:
    """Chunks of rows (SQLAlchemy's path) into one table; a column's type is promoted across chunks."""
    kept: list[pa.Table] = []
    rows = size = 0
    for chunk in chunks:
        rows, size = rows + chunk.num_rows, size + chunk.nbytes
        _check_limits(rows, size, limits)
        kept.append(chunk)
    if not kept:
        return pa.table({name: pa.array([], pa.null()) for name in names})
    return pa.concat_tables(kept, promote_options="permissive")


def _adbc_target(url: str, scheme: str, shown: str) -> str:
    """What the driver connects to: a read-only PostgreSQL URI, or a read-only SQLite file URI."""
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs
        path = path.split("?", 1)[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ConfigurationError(
                f"No SQLite database file at {path or '(no path)'!r} ({shown}). Give sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db."
            )
        return f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = (query.get("options", "") + " -c default_transaction_read_only=on").strip()
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), parts.fragment))


def _read_adbc(url: str, scheme: str, query: str, limits: Limits, shown: str) -> pa.Table:
    module_name = _ADBC.get(scheme, f"adbc_driver_{scheme}")
    try:
        dbapi = importlib.import_module(f"{module_name}.dbapi")
        import adbc_driver_manager
    except ImportError as exc:
        package = module_name.replace("_", "-")
        raise ConfigurationError(
            f"Reading {scheme} URLs needs the ADBC driver {package}, which is not installed. Install the "
            f"SQL extra ({_EXTRA}) or `pip install {package}`."
        ) from exc
    target = _adbc_target(url, scheme, shown) if scheme in _ADBC else url
    try:
        connection = dbapi.connect(target)
    except adbc_driver_manager.Error as exc:
        raise ConfigurationError(
            f"Could not connect to {shown}: {_scrub(str(exc), url)}. Check the host, port, user, password "
            "and database name in the URL."
        ) from exc
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(query)
            return _collect(cursor.fetch_record_batch(), limits)
        except adbc_driver_manager.Error as exc:
            raise DataValidationError(
                f"The query failed on {shown}: {_scrub(str(exc), url)}. Check it in the database's own "
                "client first; it runs read-only."
            ) from exc
        finally:
            with contextlib.suppress(adbc_driver_manager.Error):  # a statement that failed may fail to close too
                cursor.close()
    finally:
        with contextlib.suppress(adbc_driver_manager.Error):
            connection.close()


def _read_sqlalchemy(url: str, scheme: str, query: str, limits: Limits, shown: str) -> pa.Table:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"No driver can read {scheme} URLs ({shown}): install an ADBC driver (adbc-driver-{scheme}) or a "
            f"SQLAlchemy dialect for {scheme}. PostgreSQL and SQLite are read by the SQL extra ({_EXTRA})."
        ) from exc
    try:
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(sa.text(query))
            names = list(result.keys())
            chunks = (
                pa.table([pa.array(column) for column in zip(*rows, strict=True)], names=names)
                for rows in iter(lambda: result.fetchmany(_CHUNK_ROWS), [])
            )
            return _collect_tables(chunks, names, limits)
    except FlywheelError:
        raise
    except sa.exc.OperationalError as exc:
        raise ConfigurationError(f"Could not read from {shown}: {_scrub(str(exc.orig), url)}.") from exc
    except sa.exc.DBAPIError as exc:
        raise DataValidationError(f"The query failed on {shown}: {_scrub(str(exc.orig), url)}.") from exc
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataValidationError(
            f"A column of the query's result mixes types ({exc}). Cast it in the query (e.g. CAST(x AS TEXT))."
        ) from exc
    finally:
        engine.dispose()
