"""The database source kind: an incremental extract per entity from Postgres, landed as one Parquet file.

For (source, entity, run date) the window of the watermark column `incremental_column` is planned with
ingestion/windows.py; DuckDB's postgres extension runs the window's query in Postgres and streams the rows
straight into `landing/<source>/<date>/<entity>.parquet` (`COPY … TO … (FORMAT parquet)`, local or S3), then
the window is recorded. The loader lands that file like any Parquet delivery.

Windows (bounds are text, see windows.py):
- timestamp watermark: `start <= col < end`, ISO UTC bounds; the first window starts at 1970-01-01 and a
  window ends at the end of the run date (or the moment of the pull when that is earlier).
- integer watermark (an increasing id): `start < col <= end`, decimal bounds; the first window starts after
  id 0 and a window ends at max(col) when the date is first pulled.
A rerun of a date reuses the recorded window; when that window's landing file is still there it is kept as
delivered (rows updated since have moved to a later window, so a new extract would lose them).

The connection string comes from the environment variable `database.dsn_env`. It is a secret: errors and
logs show it masked (`postgresql://user:***@host:port/db`), never the password.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import duckdb

from ingestion.registry import DatabaseConfig, Entity, Source
from ingestion.windows import EntityFetch, FetchReport, Window, planned_window, record_window, time_window_end
from lakehouse.files import file_exists
from lakehouse.lake import duckdb_session, extension_path
from lakehouse.layout import landing_file
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

Watermark = Literal["time", "id"]
INITIAL_START: dict[Watermark, str] = {"time": "1970-01-01T00:00:00Z", "id": "0"}
ALIAS = "pg_source"
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:\\.|[^'\\])*'|\S*)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


class DatabaseSourceError(RuntimeError):
    """A pull from a database source failed; the message names source, entity and table, never the DSN."""


# ----- the secret: read at call time, shown masked


def read_dsn(source: Source, config: DatabaseConfig) -> str:
    dsn = os.environ.get(config.dsn_env, "").strip()
    if not dsn:
        raise DatabaseSourceError(
            f"source {source.name}: the environment variable {config.dsn_env} (database.dsn_env) is not set; "
            "set it to the libpq connection string, e.g. postgresql://user:password@host:5432/dbname"
        )
    return dsn


def dsn_password(dsn: str) -> str | None:
    """The password in a URI (`postgresql://u:p@h/db`, `?password=`) or keyword (`password=p`) DSN."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password:
            return unquote(parts.password)
        found = re.search(r"[?&]password=([^&]*)", parts.query, re.IGNORECASE)
        return unquote(found.group(1)) if found else None
    match = _KEYWORD_PASSWORD.search(dsn)
    if not match:
        return None
    value = match.group(2)
    return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith("'") else value


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ***."""
    if "://" not in dsn:
        return _KEYWORD_PASSWORD.sub(r"\1***", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = _QUERY_PASSWORD.sub(r"\1***", "?" + parts.query)[1:] if parts.query else ""
    return parts._replace(netloc=netloc, query=query).geturl()


def redact(text: str, dsn: str) -> str:
    """`text` with the DSN masked and every form of its password replaced by ***."""
    text = text.replace(dsn, mask_dsn(dsn))
    password = dsn_password(dsn)
    if password:
        for form in sorted({password, quote(password, safe=""), quote(password)}, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


# ----- SQL


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def watermark_kind(source: Source, entity: Entity) -> Watermark:
    column = entity.columns[str(entity.incremental_column)].column_type
    if column.is_integer:
        return "id"
    if column.name == "timestamp":
        return "time"
    raise DatabaseSourceError(
        f"source {source.name}, entity {entity.name}: incremental_column {entity.incremental_column!r} is "
        f"{column.name}; declare a timestamp (e.g. updated_at) or an integer (an increasing id) column"
    )


def table_sql(config: DatabaseConfig, entity: Entity) -> str:
    return f"{ident(config.schema_name)}.{ident(entity.table or entity.name)}"


def window_sql(config: DatabaseConfig, entity: Entity, window: Window, kind: Watermark) -> str:
    """The Postgres query of one window: the declared columns, ordered by watermark and primary key."""
    col = ident(str(entity.incremental_column))
    columns = ", ".join(ident(n) for n in entity.columns)
    if kind == "time":  # untyped literals take the column's type (timestamptz, or timestamp taken as UTC)
        where = f"{col} >= {literal(window.start)} AND {col} < {literal(window.end)}"
    else:
        where = f"{col} > {int(window.start)} AND {col} <= {int(window.end)}"
    order = ", ".join(ident(n) for n in dict.fromkeys([str(entity.incremental_column), *entity.primary_key]))
    return f"SELECT {columns} FROM {table_sql(config, entity)} WHERE {where} ORDER BY {order}"


def shown(window: Window, kind: Watermark) -> str:
    return f"[{window.start}, {window.end})" if kind == "time" else f"({window.start}, {window.end}]"


def postgres_query(sql: str) -> str:
    return f"postgres_query({literal(ALIAS)}, {literal(sql)})"


# ----- DuckDB and Postgres


def load_postgres_extension(con: duckdb.DuckDBPyConnection) -> None:
    """Install the wheel-shipped postgres scanner once (offline) and load it.

    The wheel's file is named postgres.duckdb_extension but the extension inside is `postgres_scanner`, and
    DuckDB derives the entry point from the file name: install it through a link with the right name.
    """
    row = con.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'postgres_scanner'"
    ).fetchone()
    if not (row and row[0]):
        with tempfile.TemporaryDirectory() as folder:
            link = Path(folder) / "postgres_scanner.duckdb_extension"
            link.symlink_to(extension_path("postgres"))
            con.execute(f"INSTALL {literal(str(link))}")
    con.execute("LOAD postgres_scanner")


def attach(con: duckdb.DuckDBPyConnection, dsn: str, config: DatabaseConfig) -> None:
    con.execute(
        f"ATTACH {literal(dsn)} AS {ALIAS} (TYPE postgres, READ_ONLY, SCHEMA {literal(config.schema_name)})"
    )


def max_id(con: duckdb.DuckDBPyConnection, config: DatabaseConfig, entity: Entity) -> int | None:
    sql = f"SELECT max({ident(str(entity.incremental_column))}) AS m FROM {table_sql(config, entity)}"
    row = con.execute(f"SELECT m FROM {postgres_query(sql)}").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def copy_to_parquet(con: duckdb.DuckDBPyConnection, sql: str, uri: str) -> int:
    """Stream the rows of a Postgres query into a Parquet file at `uri` (its folder exists); the row count."""
    row = con.execute(
        f"COPY (SELECT * FROM {postgres_query(sql)}) TO {literal(uri)} (FORMAT parquet)"
    ).fetchone()
    return int(row[0]) if row else 0


def parquet_rows(con: duckdb.DuckDBPyConnection, uri: str) -> int:
    row = con.execute("SELECT count(*) FROM read_parquet(?)", [uri]).fetchone()
    return int(row[0]) if row else 0


def failure(
    source: Source, config: DatabaseConfig, entity: Entity, dsn: str, step: str, exc: duckdb.Error
) -> DatabaseSourceError:
    """A clear error for a failed step, with the DSN masked and the password removed."""
    detail = redact(" ".join(str(exc).split()), dsn)
    return DatabaseSourceError(
        f"source {source.name}, entity {entity.name}: {step} failed for table "
        f"{config.schema_name}.{entity.table or entity.name} at {mask_dsn(dsn)}: {detail}. Check that the "
        f"server is reachable, that {config.dsn_env} holds a valid connection string (user, password, "
        "database) and that the table and the declared columns exist; then rerun the date."
    )


# ----- the fetch step


@dataclass(frozen=True)
class Pull:
    entity: Entity
    kind: Watermark
    window: Window  # for an id watermark not yet recorded, the end is set when the table is read
    reused: bool
    uri: str


def _selected(source: Source, names: list[str] | None) -> list[Entity]:
    unknown = sorted(set(names or []) - set(source.entities))
    if unknown:
        raise DatabaseSourceError(f"source {source.name} has no entities {unknown} ({list(source.entities)})")
    return [e for n, e in source.entities.items() if names is None or n in names]


def plan_pull(source: Source, entity: Entity, run_date: date, settings: Settings) -> Pull:
    if entity.format != "parquet":  # the loader reads a landing file as its entity's format
        raise DatabaseSourceError(
            f"source {source.name}, entity {entity.name}: a database extract lands as Parquet; "
            "set `format: parquet` on the entity"
        )
    kind = watermark_kind(source, entity)
    end = time_window_end(run_date) if kind == "time" else INITIAL_START[kind]
    window, reused = planned_window(source.name, entity.name, run_date, INITIAL_START[kind], end, settings)
    uri = landing_file(source.name, run_date, f"{entity.name}.parquet", settings)
    return Pull(entity, kind, window, reused, uri)


def connect(con: duckdb.DuckDBPyConnection, source: Source, config: DatabaseConfig, entity: Entity) -> str:
    """Attach the source's database read-only to `con`; the DSN (keep it out of messages: `redact`)."""
    dsn = read_dsn(source, config)
    load_postgres_extension(con)
    try:
        attach(con, dsn, config)
    except duckdb.Error as exc:
        error = failure(source, config, entity, dsn, "connecting", exc)
    else:
        log.info("source %s: connected to %s", source.name, mask_dsn(dsn))
        return dsn
    raise error  # outside the except block: DuckDB's error, which quotes the DSN, is not even its context


def extract(
    con: duckdb.DuckDBPyConnection, source: Source, config: DatabaseConfig, pull: Pull, dsn: str
) -> EntityFetch:
    """Copy the rows of the pull's window to its landing file (an id window ends at today's max id)."""
    entity, window, step = pull.entity, pull.window, f"reading max({pull.entity.incremental_column})"
    try:
        if pull.kind == "id" and not pull.reused:
            top = max_id(con, config, entity)
            window = Window(window.start, str(max(int(window.start), top or 0)))
        step = "extracting the window"
        rows = copy_to_parquet(con, window_sql(config, entity, window, pull.kind), pull.uri)
    except duckdb.Error as exc:
        error = failure(source, config, entity, dsn, step, exc)
    else:
        log.info(
            "%s.%s: %d rows in %s to %s", source.name, entity.name, rows, shown(window, pull.kind), pull.uri
        )
        return EntityFetch(entity.name, window, [pull.uri], rows, reused_window=pull.reused)
    raise error


def fetch_database(
    source: Source, run_date: date, settings: Settings | None = None, entities: list[str] | None = None
) -> FetchReport:
    """Extract each entity's window for `run_date` from Postgres to landing/ as Parquet; record the windows.

    An entity whose window is already recorded and whose landing file exists is kept as it is; Postgres is
    attached only when some entity has to be read.
    """
    if source.kind != "database" or source.database is None:
        raise DatabaseSourceError(f"source {source.name} is of kind {source.kind}, not database")
    settings, config = settings or get_settings(), source.database
    report = FetchReport(source.name, run_date)
    dsn: str | None = None
    with duckdb_session(settings=settings) as con:
        for pull in [plan_pull(source, e, run_date, settings) for e in _selected(source, entities)]:
            if pull.reused and file_exists(con, pull.uri):
                log.info(
                    "%s.%s: %s already landed", source.name, pull.entity.name, shown(pull.window, pull.kind)
                )
                rows = parquet_rows(con, pull.uri)
                fetch = EntityFetch(pull.entity.name, pull.window, [pull.uri], rows, reused_window=True)
            else:
                dsn = dsn or connect(con, source, config, pull.entity)
                if not settings.is_s3:
                    Path(pull.uri).parent.mkdir(parents=True, exist_ok=True)
                fetch = extract(con, source, config, pull, dsn)
            record_window(source.name, fetch, run_date, settings)
            report.entities[pull.entity.name] = fetch
    return report
