"""Lake I/O: a DuckDB session that reads and writes the lake offline, and Delta helpers on deltalake.

The same code path serves a local folder and S3: DuckDB speaks both through httpfs, deltalake through its
object store. DuckDB's extensions come from their pip wheels (duckdb-extension-httpfs/-delta), never from
the network.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import TableNotFoundError

from lakehouse.lease import held
from lakehouse.settings import Settings, get_settings

EXTENSIONS = ("httpfs", "delta")


def extension_path(name: str) -> Path:
    """Path of an extension binary shipped in the `duckdb-extension-<name>` wheel."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"duckdb-extension-{name} is not installed: run `make install`.")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(pkg.glob(f"extensions/v*/{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(f"duckdb-extension-{name} ships no extension file under {pkg}")
    return found[-1]


def install_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Install the wheel-shipped extensions into DuckDB's extension directory and load them.

    After this, plain `LOAD delta` and autoloading (e.g. a view over delta_scan opened by Soda or an analyst)
    work offline in any process on this machine.
    """
    for name in EXTENSIONS:
        installed = con.execute(
            "select installed from duckdb_extensions() where extension_name = ?", [name]
        ).fetchone()
        if not (installed and installed[0]):
            con.execute(f"INSTALL '{extension_path(name)}'")
        con.execute(f"LOAD {name}")


def s3_secret_options(settings: Settings) -> dict[str, str | bool]:
    """The options of DuckDB's S3 secret from the settings (values bound as parameters, never formatted into
    SQL). Only options with a value: DuckDB aborts the database on a NULL secret parameter."""
    options: dict[str, str | bool] = {"REGION": settings.aws_region}
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        options["KEY_ID"] = settings.aws_access_key_id
        options["SECRET"] = settings.aws_secret_access_key.get_secret_value()
        if settings.aws_session_token:
            options["SESSION_TOKEN"] = settings.aws_session_token.get_secret_value()
    if settings.aws_endpoint_url:
        endpoint = urlparse(settings.aws_endpoint_url)
        options |= {"ENDPOINT": endpoint.netloc, "URL_STYLE": "path", "USE_SSL": endpoint.scheme != "http"}
    return options


def _create_s3_secret(con: duckdb.DuckDBPyConnection, settings: Settings) -> str | None:
    """Create the secret; on a DuckDB error return only the error's class name (its message may quote a
    setting). The values live only in this frame, which has returned before anything is raised."""
    options = s3_secret_options(settings)
    provider = "" if "SECRET" in options else ", PROVIDER credential_chain"
    keys = "".join(f", {key} ?" for key in options)  # fixed option names; every value is a parameter
    try:
        con.execute(
            f"CREATE OR REPLACE TEMPORARY SECRET lakehouse_s3 (TYPE s3{provider}{keys})", [*options.values()]
        )
    except duckdb.Error as exc:
        return type(exc).__name__
    return None


def configure_s3(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Create a temporary (in-memory) S3 secret from the settings; nothing is written to disk.

    A failure is raised without DuckDB's message and without its context: no setting value (a secret key
    with a quote, say) can reach a log, a traceback or Prefect's database.
    """
    if not settings.is_s3:
        return
    failure = _create_s3_secret(con, settings)
    if failure is None:
        return
    credentials = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"
    if not settings.aws_secret_access_key:
        credentials = f"no keys are set, so DuckDB's credential_chain provider is used ({credentials})"
    raise RuntimeError(
        f"DuckDB could not create its S3 secret from the settings ({failure}; DuckDB's message is withheld "
        f"because it may quote a credential): check AWS_REGION, AWS_ENDPOINT_URL and {credentials}."
    ) from None


def prepare_connection(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Make an open DuckDB connection able to read and write the lake, within the stack's memory limit
    (past it, DuckDB spills to the spill folder)."""
    settings = settings or get_settings()
    install_extensions(con)
    configure_s3(con, settings)
    limit_memory(con, settings)


def limit_memory(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """DuckDB's memory_limit and temp_directory from the settings (LAKEHOUSE_DUCKDB_MEMORY_LIMIT,
    LAKEHOUSE_SPILL_DIR)."""
    spill = settings.spill_dir
    spill.mkdir(parents=True, exist_ok=True)
    con.execute("SET memory_limit = ?", [settings.lakehouse_duckdb_memory_limit.strip()])
    con.execute("SET temp_directory = ?", [str(spill)])


@contextmanager
def duckdb_session(
    database: str = ":memory:", settings: Settings | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection ready for the lake; always closed on exit (deltalake + an open DuckDB connection
    can abort the process at exit)."""
    con = duckdb.connect(database, read_only=read_only)
    try:
        prepare_connection(con, settings)
        yield con
    finally:
        con.close()


def open_table(uri: str, settings: Settings | None = None) -> DeltaTable | None:
    """The Delta table at `uri`, or None when none exists yet."""
    try:
        return DeltaTable(uri, storage_options=(settings or get_settings()).storage_options())
    except TableNotFoundError:
        return None


def batch_already_committed(uri: str, app_id: str, settings: Settings | None = None) -> bool:
    """True when a commit carrying the application transaction `app_id` is in the table's log."""
    table = open_table(uri, settings)
    return table is not None and table.transaction_version(app_id) is not None


def append_batch(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    app_id: str,
    settings: Settings | None = None,
    partition_by: list[str] | None = None,
    also_record: list[tuple[str, int]] | None = None,
) -> bool:
    """Append `data` exactly once for `app_id`: returns False (and writes nothing) if already committed.
    `also_record`: more application transactions (app id, version) written in the same commit. Empty
    `data` still commits (a commit without files), so the batch is recorded.

    delta-rs records application transactions but does not enforce them, so the check and the commit run
    under the table's commit lease (lakehouse.lease): of any number of processes committing the same batch,
    on a local lake or S3, one commits and the others find it committed.
    """
    settings = settings or get_settings()
    name = "commit/" + uri.removeprefix(settings.root).strip("/")
    ttl = settings.lakehouse_lease_seconds
    with held(name, f"commit of batch {app_id}", ttl, wait=True, settings=settings):
        if batch_already_committed(uri, app_id, settings):
            return False
        write_deltalake(
            uri,
            data,
            mode="append",
            partition_by=partition_by,
            schema_mode="merge",
            storage_options=settings.storage_options(),
            commit_properties=CommitProperties(
                app_transactions=[Transaction(app_id, 1), *(Transaction(a, v) for a, v in also_record or [])]
            ),
        )
    return True


def replace_partition(
    uri: str,
    data: pa.Table | pa.RecordBatchReader,
    predicate: str,
    settings: Settings | None = None,
    partition_by: list[str] | None = None,
    schema_mode: Literal["merge"] | None = None,
) -> None:
    """Atomically replace the rows matching `predicate` with `data` (idempotent per predicate); with
    `schema_mode="merge"` columns of `data` that the table lacks are added to it."""
    settings = settings or get_settings()
    if open_table(uri, settings) is None:
        write_deltalake(uri, data, partition_by=partition_by, storage_options=settings.storage_options())
        return
    write_deltalake(
        uri,
        data,
        mode="overwrite",
        predicate=predicate,
        partition_by=partition_by,
        schema_mode=schema_mode,
        storage_options=settings.storage_options(),
    )


def table_rows(uri: str, settings: Settings | None = None) -> int:
    """Rows in the current version of the Delta table at `uri` (0 when there is none)."""
    table = open_table(uri, settings)
    return 0 if table is None else int(table.count())


def app_transaction_version(uri: str, app_id: str, settings: Settings | None = None) -> int | None:
    """The version of the application transaction `app_id` in the table's log (None: never committed)."""
    table = open_table(uri, settings)
    return None if table is None else table.transaction_version(app_id)


STATS_TEXT_CHARS = 64  # delta-rs cuts longer text in file statistics to this many characters


def column_values_from_stats(uri: str, column: str, settings: Settings | None = None) -> list[str] | None:
    """The distinct values of the text `column` in the table's current version, sorted, read from its log's
    file statistics (no data file is read); [] when there is no table. None when the statistics cannot
    tell: a file without min/max of the column, whose min and max differ, or a value long enough to have
    been cut. Raw tables hold one batch per file, so their `_batch_id`s are read this way in milliseconds
    instead of a scan of the whole history."""
    table = open_table(uri, settings)
    if table is None:
        return []
    actions = pa.table(table.get_add_actions(flatten=True))
    names = (f"min.{column}", f"max.{column}")
    if actions.num_rows == 0:
        return []
    if not all(n in actions.column_names for n in names):
        return None
    lows, highs = (actions.column(n).to_pylist() for n in names)
    for low, high in zip(lows, highs, strict=True):
        if low is None or low != high or len(str(low)) >= STATS_TEXT_CHARS:
            return None
    return sorted({str(v) for v in lows})


def retract_rows(
    uri: str,
    predicate: str,
    metadata: dict[str, str],
    settings: Settings | None = None,
    app_transactions: list[tuple[str, int]] | None = None,
) -> int:
    """Delete the rows matching `predicate` in one commit carrying `metadata` (and `app_transactions`);
    returns how many were deleted.

    delta-rs writes no commit for a delete that matches nothing, so then, when `app_transactions` are given,
    an empty append records them instead: the transactions are in the log either way.
    """
    settings = settings or get_settings()
    table = open_table(uri, settings)
    if table is None:
        raise FileNotFoundError(f"No Delta table at {uri}")
    txns = [Transaction(*t) for t in app_transactions] if app_transactions else None
    properties = CommitProperties(custom_metadata=metadata, app_transactions=txns)
    deleted = int(table.delete(predicate, commit_properties=properties)["num_deleted_rows"])
    if deleted == 0 and app_transactions:
        empty = table.schema().to_arrow()
        write_deltalake(
            uri,
            pa.schema(empty).empty_table(),
            mode="append",
            storage_options=settings.storage_options(),
            commit_properties=properties,
        )
    return deleted


def read_table(uri: str, settings: Settings | None = None) -> pa.Table:
    """Read a whole Delta table as Arrow (for tests and small tables; the pipeline streams through DuckDB)."""
    table = open_table(uri, settings)
    if table is None:
        raise FileNotFoundError(f"No Delta table at {uri}")
    return table.to_pyarrow_table()


def delta_scan_sql(uri: str) -> str:
    return f"delta_scan('{uri}')"


def create_lake_views(
    con: duckdb.DuckDBPyConnection, views: dict[str, str], schema: str | None = None
) -> None:
    """Create (or replace) DuckDB views named after the keys over the Delta tables at the values, in
    `schema` (created if missing; e.g. `raw_shop`, see lakehouse.layout) or in the current schema."""
    prefix = ""
    if schema:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        prefix = f'"{schema}".'
    for name, uri in views.items():
        con.execute(f'CREATE OR REPLACE VIEW {prefix}"{name}" AS SELECT * FROM {delta_scan_sql(uri)}')
